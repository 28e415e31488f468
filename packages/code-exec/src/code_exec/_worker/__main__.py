"""Entry point: ``python -I -B <this folder> '<json options>'`` (isolated mode, stdlib only).

Running a folder puts the folder itself on ``sys.path``; we swap it for its parent so the
worker's modules import as one package (``_worker.*``) with relative imports, then take the
parent off ``sys.path`` again so the program cannot import the worker's siblings by name.
"""

import importlib
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[0] = os.path.dirname(_here)
_zygote = importlib.import_module(os.path.basename(_here) + ".zygote")
del sys.path[0]
_zygote.main()

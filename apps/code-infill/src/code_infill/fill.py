"""Fill one span of a user's program with a trained model and judge it in the sandbox."""

from __future__ import annotations

import dataclasses
import os

from code_exec import Sandbox, SandboxConfig
from lmlab_common import require_choice
from transformers import AutoTokenizer

from .data import InfillTask, make_task
from .infilling import fill
from .judging import Verdict, judge
from .options import METHODS
from .training import load_trained


@dataclasses.dataclass
class FillResult:
    """The task, the model's middle, the sandbox verdict and the infill wall time."""

    task: InfillTask
    method: str
    middle: str
    met: bool
    latency_ms: float
    verdict: Verdict


def fill_program(
    run_dir: str,
    code: str,
    start: int,
    num_lines: int,
    method: str = "mim",
    max_new_tokens: int = 40,
    timeout_s: float = 2.0,
    min_new_tokens: int = 1,
) -> FillResult:
    """Remove lines ``[start, start + num_lines)`` (0-based) of ``code``, fill them with the
    ``method`` model of a finished ``code-infill run`` in ``run_dir``, and run both the
    original and the filled program in the sandbox to judge the fill."""
    require_choice("method", method, METHODS)
    task = make_task(code, start, num_lines)
    model, _ = load_trained(run_dir, method)
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(run_dir, "tokenizer"))
    (filled,), seconds = fill(model, tokenizer, [task], method, max_new_tokens, min_new_tokens)
    with Sandbox(SandboxConfig(timeout_s=timeout_s), pool_size=1) as box:
        task.set_reference(box.run(task.code))
        (result,) = judge(box, [task], [filled["middle"]])
    return FillResult(task, method, filled["middle"], filled["met"], 1000 * seconds, result)

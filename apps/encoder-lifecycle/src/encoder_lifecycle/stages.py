"""A resumable list of stages: each finished stage is recorded (result and wall time) in
``stages.json``; a rerun with the same settings skips it and reuses its saved outputs."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable

from lmlab_common import atomic_write_json, get_logger

log = get_logger("encoder_lifecycle")
STATE_FILE = "stages.json"


class StageLog:
    """The record of one output folder: its settings and every finished stage."""

    def __init__(self, out_dir: str, settings: dict) -> None:
        self.out_dir = out_dir
        self.path = os.path.join(out_dir, STATE_FILE)
        self.settings = settings
        self.finished: dict[str, dict] = {}
        if os.path.isfile(self.path):
            with open(self.path, encoding="utf-8") as fh:
                saved = json.load(fh)
            if saved.get("finished"):
                _check_same(saved.get("settings", {}), settings, out_dir)
                self.finished = saved["finished"]

    @staticmethod
    def exists(out_dir: str) -> bool:
        return os.path.isfile(os.path.join(out_dir, STATE_FILE))

    @staticmethod
    def finished_stages(out_dir: str) -> list[str]:
        """Names of the stages a folder's record lists as finished (none without a record)."""
        path = os.path.join(out_dir, STATE_FILE)
        if not os.path.isfile(path):
            return []
        with open(path, encoding="utf-8") as fh:
            return list(json.load(fh).get("finished", {}))

    def save(self) -> None:
        atomic_write_json(self.path, {"settings": self.settings, "finished": self.finished})

    def run(self, name: str, folder: str | None, work: Callable[[str | None], dict]) -> dict:
        """Run ``work(folder_path)`` unless ``name`` finished before; return its result.

        A partly written ``folder`` from an interrupted attempt is removed first.
        """
        if name in self.finished:
            log.info("stage %s: finished before, reusing its outputs", name)
            return self.finished[name]["result"]
        path = os.path.join(self.out_dir, folder) if folder else None
        if path and os.path.isdir(path):
            shutil.rmtree(path)
        if path:
            os.makedirs(path)
        log.info("stage %s: running", name)
        start = time.perf_counter()
        result = work(path)
        self.finished[name] = {"result": result, "wall_seconds": time.perf_counter() - start}
        self.save()
        return result

    def wall_seconds(self) -> dict[str, float]:
        return {name: entry["wall_seconds"] for name, entry in self.finished.items()}


def _check_same(saved: dict, settings: dict, out_dir: str) -> None:
    changed = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
    if changed:
        key = changed[0]
        raise ValueError(
            f"out_dir={out_dir!r} holds a run with other settings ({key}={saved.get(key)!r} "
            f"there, {settings.get(key)!r} now; {len(changed)} field(s) differ); allowed: the "
            "same settings to resume it, or --overwrite to start again"
        )

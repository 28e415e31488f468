"""The code-infill job, stage by stage, each stage checkpointed in the output folder:

1. ``data/``: programs generated and traced (code-exec), held-out tasks with removed spans;
2. ``tokenizer/``: byte-level BPE on the training programs (+ bidir-lm's special tokens);
3. ``models/<method>/``: one decoder per method (bidir-lm), Trainer checkpoints inside;
4. ``infills/<method>/batch-*.jsonl``: fills judged in the sandbox, one file per batch.

A rerun with the same settings skips every finished stage and batch; the report
(``report.md``, ``report.json``, ``infill.png``) is rewritten after each of them.
"""

from __future__ import annotations

import json
import os
import shutil

from bidir_lm import prepare_tokenizer
from code_exec import Sandbox, SandboxConfig
from lmlab_common import atomic_write_json, atomic_write_text, get_logger
from transformers import AutoTokenizer

from .codetok import encode_code, train_code_tokenizer
from .data import InfillTask, build_programs
from .infilling import load_batch, run_batch
from .options import InfillOptions
from .report import build_report
from .training import is_trained, load_trained, model_dir, train_method

log = get_logger("code_infill")
POOL_SIZE = 2  # sandbox workers


def prepare_out_dir(options: InfillOptions) -> bool:
    """Create, resume or (``overwrite``) clear the output folder; True when resuming.

    A folder written with other settings is refused, naming the fields that differ.
    """
    out = options.out_dir
    if os.path.exists(out) and not os.path.isdir(out):
        raise FileExistsError(f"out_dir={out!r} is a file; allowed: a folder")
    saved_path = os.path.join(out, InfillOptions.config_name)
    if options.overwrite and os.path.isdir(out):
        shutil.rmtree(out)
    if os.path.isdir(out) and os.listdir(out):
        if not os.path.exists(saved_path):
            raise FileExistsError(
                f"out_dir={out!r} is not empty and holds no code-infill run; allowed: a new or "
                "empty folder, a folder of an earlier run with the same settings (resume), or "
                "--overwrite"
            )
        saved = InfillOptions.from_pretrained(out).run_fields()
        wanted = options.run_fields()
        diff = {k: (saved.get(k), v) for k, v in wanted.items() if saved.get(k) != v}
        if diff:
            shown = ", ".join(f"{k}: run has {a!r}, asked {b!r}" for k, (a, b) in diff.items())
            raise ValueError(
                f"out_dir={out!r} holds a run with other settings ({shown}); allowed: the same "
                "settings to resume it, another --out, or --overwrite"
            )
        return True
    os.makedirs(out, exist_ok=True)
    options.save_pretrained(out)
    return False


def _write_jsonl(path: str, rows: list[dict]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


def _read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def data_stage(options: InfillOptions) -> tuple[list[dict], list[InfillTask], dict]:
    folder = os.path.join(options.out_dir, "data")
    stats_path = os.path.join(folder, "stats.json")
    if os.path.exists(stats_path):  # written last: the stage is complete
        log.info("data: reusing %s", folder)
        train = _read_jsonl(os.path.join(folder, "train.jsonl"))
        tasks = [
            InfillTask.from_dict(r) for r in _read_jsonl(os.path.join(folder, "heldout.jsonl"))
        ]
        with open(stats_path, encoding="utf-8") as fh:
            return train, tasks, json.load(fh)
    with Sandbox(SandboxConfig(timeout_s=options.timeout_s), pool_size=POOL_SIZE) as box:
        train, tasks, stats = build_programs(options, box)
    _write_jsonl(os.path.join(folder, "train.jsonl"), train)
    _write_jsonl(os.path.join(folder, "heldout.jsonl"), [t.to_dict() for t in tasks])
    atomic_write_json(stats_path, stats)
    return train, tasks, stats


def tokenizer_stage(options: InfillOptions, train: list[dict]):
    folder = os.path.join(options.out_dir, "tokenizer")
    if os.path.exists(os.path.join(folder, "tokenizer.json")):
        return AutoTokenizer.from_pretrained(folder)
    tokenizer = train_code_tokenizer([r["code"] for r in train], options.vocab_size)
    prepare_tokenizer(tokenizer)  # bidir-lm's direction and FIM tokens, fixed ids from here on
    tokenizer.save_pretrained(folder)
    return tokenizer


def run(options: InfillOptions) -> dict:
    """Run (or resume) every stage into ``options.out_dir``; return the report data."""
    resumed = prepare_out_dir(options)
    log.info("%s run in %s", "resuming" if resumed else "starting", options.out_dir)
    train, tasks, data_stats = data_stage(options)
    tokenizer = tokenizer_stage(options, train)
    settings = options.run_fields()
    training: dict[str, dict] = {}
    by_method: dict[str, list[dict]] = {m: [] for m in options.methods}

    def report(finished: bool = False) -> str:
        return build_report(
            options.out_dir,
            settings,
            data_stats,
            training,
            tasks,
            by_method,
            options.num_examples,
            finished,
        )

    report()
    docs = encode_code(tokenizer, [r["code"] for r in train])
    probe = encode_code(tokenizer, [t.code for t in tasks[:8]])
    for method in options.methods:
        if is_trained(options.out_dir, method):
            log.info("%s: reusing %s", method, model_dir(options.out_dir, method))
            training[method] = load_trained(options.out_dir, method)[1]
        else:
            training[method] = train_method(options, method, tokenizer, docs, probe)
        report()
    models = {m: load_trained(options.out_dir, m)[0] for m in options.methods}
    size = options.infill_batch_size
    batches = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    reused = 0
    with Sandbox(SandboxConfig(timeout_s=options.timeout_s), pool_size=POOL_SIZE) as box:
        for b, batch in enumerate(batches):
            for method in options.methods:  # interleaved: latencies see the same machine state
                records = load_batch(options.out_dir, method, b)
                if records is None:
                    records = run_batch(
                        options.out_dir,
                        method,
                        b,
                        models[method],
                        tokenizer,
                        batch,
                        box,
                        options.max_new_tokens,
                        options.min_new_tokens,
                    )
                else:
                    reused += len(records)
                by_method[method] += records
            log.info("infill batch %d/%d done", b + 1, len(batches))
            report()
    if reused:
        log.info("reused %d finished infills from an earlier run", reused)
    markdown = report(finished=True)
    with open(os.path.join(options.out_dir, "report.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    data["markdown"] = markdown
    data["reused_infills"] = reused
    return data

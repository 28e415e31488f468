"""The encoder-lifecycle job: data → pre-train (RTD, MLM) → fine-tune → distil → report.

Every stage saves its models under ``out_dir`` and is recorded in ``stages.json``; a rerun
with the same settings resumes after the last finished stage. The report is rewritten after
every stage (partial results survive a kill) and completed with reload checks, sizes and
round-robin latencies at the end.
"""

from __future__ import annotations

import os
import shutil
import time

from lmlab_common import atomic_write_json, get_logger, set_seed
from rtd_pretrain import corpus_tokenizer
from transformers import AutoTokenizer

from .cost import count_parameters, latencies_ms
from .data import TopicTask, pretraining_corpus, topic_task
from .distill import METHODS, STUDENTS, distill, initial_student, stage_one_filters
from .finetune import accuracy, classifier, fine_tune, predict, task_dataset
from .options import LifecycleOptions
from .pretrain import encoder_config, pretrain_mlm, pretrain_rtd, pretraining_blocks
from .report import ModelRow, write_lifecycle_report
from .stages import StageLog
from .storage import disk_bytes, load_classifier, reference_logits, save_classifier

log = get_logger("encoder_lifecycle")
PRETRAINED = ("rtd", "mlm")
FINETUNED = ("random", "mlm", "rtd")


def model_folders(options: LifecycleOptions) -> dict[str, str]:
    """Arm name → folder of every classifier the run saves (fine-tuned and distilled)."""
    out = {f"finetune/{arm}": f"finetune/{arm}" for arm in FINETUNED}
    out.update({f"{s}-{m}": f"distill/{s}-{m}" for s in STUDENTS for m in METHODS})
    return {k: os.path.join(options.out_dir, v) for k, v in out.items()}


def _prepare_out_dir(options: LifecycleOptions) -> None:
    options.check_out_dir()
    out = options.out_dir
    if options.overwrite and os.path.isdir(out):
        shutil.rmtree(out)
    elif os.path.isdir(out) and os.listdir(out) and not StageLog.exists(out):
        raise FileExistsError(
            f"out_dir={out!r} exists, is not empty and holds no encoder-lifecycle run; "
            "allowed: a new or empty folder, a folder of an interrupted run (to resume it), "
            "or pass --overwrite to replace its contents"
        )


def _tokenizer(options: LifecycleOptions, corpus: list[str]):
    """The resumed run's tokenizer once its data stage finished, else a new one."""
    saved = os.path.join(options.out_dir, "data", "tokenizer")
    if not options.overwrite and "data" in StageLog.finished_stages(options.out_dir):
        return AutoTokenizer.from_pretrained(saved)
    return corpus_tokenizer(corpus, vocab_size=options.vocab_size)


def run(options: LifecycleOptions) -> dict:
    """Run (or resume) every stage into ``options.out_dir``; return the report data."""
    options.check_out_dir()
    started = time.perf_counter()
    task = topic_task(seed=0)  # the task split does not move with the training seed
    corpus = pretraining_corpus(task, options.corpus_sentences, seed=options.seed)
    tokenizer = _tokenizer(options, corpus)
    blocks = pretraining_blocks(corpus, tokenizer, options)  # too little text fails here
    _prepare_out_dir(options)  # only now touch the disk
    os.makedirs(options.out_dir, exist_ok=True)
    stages = StageLog(options.out_dir, options.settings())
    options.save_pretrained(options.out_dir)
    pad = tokenizer.pad_token_id
    train = task_dataset(task.train_texts, task.train_labels, tokenizer, options.max_length)
    test = task_dataset(task.test_texts, task.test_labels, tokenizer, options.max_length)
    n_labels = len(task.groups)
    probe = tokenizer(task.test_texts[:8], padding=True, return_tensors="pt")
    probe = {k: probe[k] for k in ("input_ids", "attention_mask")}

    def data(folder):
        tokenizer.save_pretrained(os.path.join(folder, "tokenizer"))
        atomic_write_json(
            os.path.join(folder, "task.json"),
            {**task.to_dict(), "test_texts": task.test_texts, "test_labels": task.test_labels},
        )
        return {
            "corpus_sentences": len(corpus),
            "blocks": len(blocks),
            "task": task.to_dict(),
            "vocab_size": len(tokenizer),
        }

    results = {"data": stages.run("data", "data", data)}
    _partial(options, stages, results, task)
    for arm, fn in (("rtd", pretrain_rtd), ("mlm", pretrain_mlm)):
        set_seed(options.seed)
        results[f"pretrain-{arm}"] = stages.run(
            f"pretrain-{arm}",
            f"pretrain/{arm}",
            lambda f, fn=fn: fn(blocks, tokenizer, options, f, probe),
        )
        _partial(options, stages, results, task)

    def finetune(_folder):
        out = {}
        config = encoder_config(options, tokenizer)
        for arm in FINETUNED:
            source = None if arm == "random" else os.path.join(options.out_dir, "pretrain", arm)
            set_seed(options.seed)
            model = classifier(source, config, n_labels, options.seed)
            model, seconds, loss = fine_tune(model, train, pad, options)
            logits = predict(model, test, pad)
            save_classifier(
                model, os.path.join(options.out_dir, "finetune", arm), tokenizer, logits
            )
            out[arm] = {
                "accuracy": accuracy(logits, task.test_labels),
                "train_seconds": seconds,
                "final_loss": loss,
            }
            log.info("fine-tuned %s: accuracy %.3f", arm, out[arm]["accuracy"])
        return out

    results["finetune"] = stages.run("finetune", "finetune", finetune)
    _partial(options, stages, results, task)

    for kind in STUDENTS:

        def distil(_folder, kind=kind):
            teacher = load_classifier(os.path.join(options.out_dir, "finetune", "rtd"))
            set_seed(options.seed)
            start = initial_student(kind, teacher, options)
            begin = time.perf_counter()
            filters = stage_one_filters(teacher, start, train, pad, options)
            out = {"filter_seconds": time.perf_counter() - begin}
            for method in METHODS:
                set_seed(options.seed)
                student, seconds = distill(
                    kind,
                    method,
                    teacher,
                    start,
                    train,
                    pad,
                    options,
                    filters if method == "ted" else None,
                )
                logits = predict(student, test, pad)
                folder = os.path.join(options.out_dir, "distill", f"{kind}-{method}")
                save_classifier(student, folder, tokenizer, logits)
                out[method] = {
                    "accuracy": accuracy(logits, task.test_labels),
                    "train_seconds": seconds,
                }
                log.info("%s + %s: accuracy %.3f", kind, method, out[method]["accuracy"])
            return out

        results[f"distill-{kind}"] = stages.run(f"distill-{kind}", f"distill/{kind}", distil)
        _partial(options, stages, results, task)

    begin = time.perf_counter()
    rows = measure(options, test, task, pad, results)
    report_seconds = time.perf_counter() - begin
    return write_lifecycle_report(
        options,
        results,
        stages.wall_seconds() | {"report": report_seconds},
        task,
        rows,
        total_seconds=time.perf_counter() - started,
    )


def measure(options, test, task: TopicTask, pad: int, results: dict) -> list[ModelRow]:
    """Reload every saved classifier, check its outputs, and measure size and latency."""
    models, rows = {}, []
    for name, folder in model_folders(options).items():
        model = load_classifier(folder)
        logits = predict(model, test, pad)
        diff = float((logits - reference_logits(folder)).abs().max())
        models[name] = model
        rows.append(
            ModelRow(
                name=name,
                folder=os.path.relpath(folder, options.out_dir),
                accuracy=accuracy(logits, task.test_labels),
                params=count_parameters(model),
                disk_mb=disk_bytes(folder) / 1e6,
                reload_max_abs_diff=diff,
            )
        )
    ids = [row["input_ids"] for row in test]
    for batch_size, key in ((1, "latency_b1_ms"), (32, "latency_b32_ms")):
        times = latencies_ms(models, ids, pad, batch_size, options.latency_repeats)
        for row in rows:
            setattr(row, key, times[row.name])
    return rows


def _partial(options, stages: StageLog, results: dict, task: TopicTask) -> None:
    write_lifecycle_report(options, results, stages.wall_seconds(), task, None)

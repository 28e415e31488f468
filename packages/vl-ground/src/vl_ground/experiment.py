"""The claim at small scale: pre-training with vs without the object–text alignment objective
on the same synthetic scenes and steps, then zero-shot grounding on held-out compositions
(colour–shape pairs never named in pre-training text), VQA and captioning."""

from __future__ import annotations

import copy
import dataclasses
import random
import tempfile
import time
from typing import Any

import torch
from lmlab_common import get_logger, set_seed

from .boxes import iou
from .config import GrillTrainingArguments
from .data import scene_to_example
from .inference import caption, few_shot_finetune, ground, vqa
from .metrics import caption_attribute_f1, grounding_accuracy, vqa_accuracy
from .model import GrillModel
from .processor import GrillProcessor
from .scenes import HELD_OUT_PAIRS, Scene, all_texts, generate_scenes, training_view
from .trainer import GrillTrainer

log = get_logger(__name__)
BASE_OBJECTIVES = ("caption", "span", "vqa")


@dataclasses.dataclass
class ClaimSetup:
    seed: int = 0
    n_train: int = 4000
    n_test: int = 500
    steps: int = 1500
    batch_size: int = 32
    learning_rate: float = 1e-3
    hidden_size: int = 96
    num_layers: int = 2
    few_shot: int = 0  # examples per task for few-shot fine-tuning (0: zero-shot only)


def grounding_items(
    scenes: list[Scene], held_out: bool, min_objects: int = 2
) -> list[tuple[Scene, str, int]]:
    """(scene, expression, target index) whose target pair is (not) held out, in scenes with at
    least ``min_objects`` objects (in a one-object scene any guess is right)."""
    return [
        (s, e, i)
        for s in scenes
        if len(s.objects) >= min_objects
        for e, i in s.expressions
        if (s.objects[i].pair in HELD_OUT_PAIRS) == held_out
    ]


def trivial_baselines(items: list[tuple[Scene, str, int]], seed: int) -> dict[str, float]:
    """Accuracy at IoU > 0.5 of picking the largest, the most central or a random object."""
    rng = random.Random(seed)
    hits = {"largest_object": 0, "centre_object": 0, "random_object": 0}
    for scene, _, target in items:
        gold = scene.objects[target].box
        side = scene.image.size[0] / 2
        picks = {
            "largest_object": max(scene.objects, key=lambda o: o.area),
            "centre_object": min(
                scene.objects,
                key=lambda o: abs(o.centre_x - side) + abs((o.box[1] + o.box[3]) / 2 - side),
            ),
            "random_object": rng.choice(scene.objects),
        }
        for name, obj in picks.items():
            hits[name] += iou(obj.box, gold) > 0.5
    return {k: v / max(1, len(items)) for k, v in hits.items()}


def pretrain(
    setup: ClaimSetup,
    processor: GrillProcessor,
    train: list[dict[str, Any]],
    alignment: bool,
    output_dir: str,
) -> tuple[GrillModel, float]:
    set_seed(setup.seed)
    model = GrillModel.from_processor(
        processor, hidden_size=setup.hidden_size, num_layers=setup.num_layers, seed=setup.seed
    )
    objectives = BASE_OBJECTIVES + (("align_contrastive",) if alignment else ())
    args = GrillTrainingArguments(
        output_dir=output_dir,
        objectives=objectives,
        max_steps=setup.steps,
        per_device_train_batch_size=setup.batch_size,
        learning_rate=setup.learning_rate,
        warmup_steps=min(50, setup.steps // 10),
        lr_scheduler_type="cosine",
        save_strategy="no",
        report_to=[],
        logging_strategy="no",
        use_cpu=True,
        seed=setup.seed,
        disable_tqdm=True,
    )
    start = time.perf_counter()
    GrillTrainer(model, args, processor, train_dataset=train).train()
    return model.eval(), time.perf_counter() - start


def evaluate(model: GrillModel, processor: GrillProcessor, test: list[Scene]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, held in (("heldout", True), ("seen", False)):
        items = grounding_items(test, held)
        preds = ground(model, processor, [s.image for s, _, _ in items], [e for _, e, _ in items])
        gold = [s.objects[i].box for s, _, i in items]
        out[f"ground_{name}"] = grounding_accuracy([p.box for p in preds], gold)
    questions = [(s.image, q, a) for s in test for q, a in training_view(s).questions]
    answers = vqa(model, processor, [q[0] for q in questions], [q[1] for q in questions])
    out["vqa"] = vqa_accuracy(answers, [q[2] for q in questions])
    captions = caption(model, processor, [s.image for s in test])
    out["caption_f1"] = caption_attribute_f1(captions, [s.caption for s in test])
    return out


def run_claim(setup: ClaimSetup) -> dict[str, Any]:
    """Both arms from the same seed, data and steps; returns every number side by side."""
    processor = GrillProcessor.from_texts(all_texts())
    train_scenes = list(generate_scenes(setup.n_train, seed=1000 + setup.seed))
    train = [scene_to_example(training_view(s)) for s in train_scenes]
    test = list(generate_scenes(setup.n_test, seed=10_000 + setup.seed))
    report: dict[str, Any] = {"setup": dataclasses.asdict(setup)}
    report["baselines_heldout"] = trivial_baselines(grounding_items(test, True), setup.seed)
    report["baselines_seen"] = trivial_baselines(grounding_items(test, False), setup.seed)
    report["n_heldout_items"] = len(grounding_items(test, True))
    for arm, alignment in (("with_alignment", True), ("without_alignment", False)):
        with tempfile.TemporaryDirectory() as tmp:
            model, seconds = pretrain(setup, processor, train, alignment, tmp)
        result = evaluate(model, processor, test)
        result["train_seconds"] = seconds
        if setup.few_shot:
            result["few_shot"] = few_shot_scores(model, processor, train_scenes, test, setup)
        report[arm] = result
        log.info("%s: %s", arm, {k: v for k, v in result.items() if k != "few_shot"})
    return report


def few_shot_scores(
    model: GrillModel,
    processor: GrillProcessor,
    pool: list[Scene],
    test: list[Scene],
    setup: ClaimSetup,
) -> dict[str, float]:
    """Fine-tune a copy per task on ``setup.few_shot`` full-text examples, then evaluate."""
    shots = [scene_to_example(s) for s in pool[: setup.few_shot]]
    out = {}
    for task, key in (("ground", "ground_heldout"), ("vqa", "vqa"), ("caption", "caption_f1")):
        tuned = few_shot_finetune(
            copy.deepcopy(model), processor, shots, task, steps=30, seed=setup.seed
        )
        out[key] = evaluate_one(tuned, processor, test, key)
    return out


def evaluate_one(
    model: GrillModel, processor: GrillProcessor, test: list[Scene], key: str
) -> float:
    with torch.no_grad():
        return evaluate(model, processor, test)[key]

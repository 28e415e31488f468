"""vl-ground speed: pre-training images/s, and batched inference vs one image at a time.

Fixed shapes: 64×64 scenes, ViT 2×96 + BART 2+2×96, batch 32. Inference rates are measured
round-robin in one run (grounding and VQA, batch 64 vs batch 1). Target from the issue:
batched inference ≥ 5× the one-at-a-time rate. Writes benchmarks/results/bench_vl_ground.json.
"""

from __future__ import annotations

import os
import statistics
import time

import torch
from lmlab_common import atomic_write_json, environment
from vl_ground import GrillCollator, GrillModel, GrillProcessor, generate_scenes, ground, vqa
from vl_ground.data import scene_to_example
from vl_ground.scenes import all_texts, training_view

ROUNDS = 3


def _rate(fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    torch.manual_seed(0)
    processor = GrillProcessor.from_texts(all_texts())
    model = GrillModel.from_processor(processor, seed=0)
    scenes = list(generate_scenes(128, seed=0))
    examples = [scene_to_example(training_view(s)) for s in scenes]
    collate = GrillCollator(processor, ("caption", "span", "vqa", "align_contrastive"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train_step() -> None:
        out = model.train()(**collate(examples[:32]))
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    train_step()  # warm-up
    images = [s.image for s in scenes[:64]]
    phrases = ["the red circle"] * 64
    questions = ["how many shapes are there"] * 64
    model.eval()
    rates: dict[str, list[float]] = {
        k: []
        for k in (
            "pretrain_images_per_s",
            "ground_batched",
            "ground_single",
            "vqa_batched",
            "vqa_single",
        )
    }
    for _ in range(ROUNDS):  # round-robin, so load changes hit every variant alike
        rates["pretrain_images_per_s"].append(_rate(train_step, 32))
        rates["ground_batched"].append(
            _rate(lambda: ground(model, processor, images, phrases, batch_size=64), 64)
        )
        rates["ground_single"].append(
            _rate(
                lambda: [
                    ground(model, processor, [im], [p])
                    for im, p in zip(images[:16], phrases, strict=False)
                ],
                16,
            )
        )
        rates["vqa_batched"].append(
            _rate(lambda: vqa(model, processor, images, questions, batch_size=64), 64)
        )
        rates["vqa_single"].append(
            _rate(
                lambda: [
                    vqa(model, processor, [im], [q])
                    for im, q in zip(images[:16], questions, strict=False)
                ],
                16,
            )
        )
    median = {k: statistics.median(v) for k, v in rates.items()}
    result = {
        "images_per_s": median,
        "ground_batched_over_single": median["ground_batched"] / median["ground_single"],
        "vqa_batched_over_single": median["vqa_batched"] / median["vqa_single"],
        "target": "batched inference >= 5x one image at a time",
        "environment": environment(),
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    atomic_write_json(os.path.join(out, "bench_vl_ground.json"), result)
    for key, value in result.items():
        if key != "environment":
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()

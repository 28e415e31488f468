"""``gen-rank reproduce``: the JGR claim at small scale, every arm side by side, N seeds.

Per seed: MLE-train a tiny GPT-2 on the chain task's strategy mixture; warm a BERT ranker on
that generator's candidates (8 beams + 8 samples per source) and check it on held-out sources
first; then give every arm the same number of generator updates from the same start:

- ``mle``: more MLE on the same data;
- ``jgr``: JGR (ranker and generator alternate; reward = ranker + metric; λ = 1);
- ``metric_only`` / ``ranker_only``: the reward ablations (the ranker still trains jointly in
  ``ranker_only``; ``metric_only`` has no ranker steps);
- ``jgr_pad_unmasked``: JGR with the official policy-gradient mean over pads after EOS;
- ``simcls``: the MLE arm's generator with the warm-up ranker frozen (trained once on the MLE
  generator's candidates).

Reports the generator's top beam (JGR-G) and the ranker's pick among 8 beams + 8 samples
(JGR-R), mean ± sd over seeds, and paired bootstrap 95% intervals over (seed, source) for the
claimed differences. ``reports/gen-rank.{json,md}`` is rewritten after every arm; each
finished seed is kept in ``OUT/gen-rank-seeds/seed<N>.json`` and reused by a rerun with the
same budget (interrupt and resume lose at most the running seed).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import tempfile
import time

import numpy as np
import torch
from lmlab_common import (
    atomic_write_json,
    get_logger,
    markdown_table,
    mean_std,
    set_seed,
    write_report,
)

from .config import JGRConfig
from .experiment import (
    MAX_NEW_TOKENS,
    Setup,
    candidate_pool,
    evaluate_ranker,
    prepare,
    train_mle,
    warm_ranker,
)
from .synthetic import chain_metric, chain_step_labels
from .trainer import JGRTrainer

LOG = get_logger("gen_rank.reproduce")
ARMS = ("mle", "jgr", "metric_only", "ranker_only", "jgr_pad_unmasked", "simcls")


@dataclasses.dataclass
class Budget:
    setup: Setup
    generator_updates: int = 300
    batch_size: int = 16
    generator_lr: float = 5e-4
    ranker_lr: float = 5e-4
    iteration_steps: int = 25
    iteration_ranker_steps: int = 5
    eval_sources: int = 150
    normalize_rewards: bool = False


# Sized to ~8 minutes a seed at one thread (see the README's Measured): the MLE generator
# must learn the sums (careful samples well above chance) before JGR has anything to select.
FULL = Budget(
    Setup(
        train_sources=2000,
        generator_steps=2500,
        pool_sources=600,
        ranker_steps=600,
        ranker_step_weight=1.0,
        ranker_step_layer=1,
    ),
    generator_updates=200,
    batch_size=8,
    ranker_lr=2e-3,
    eval_sources=100,
)
QUICK = Budget(
    Setup(
        train_sources=200,
        generator_steps=30,
        pool_sources=24,
        ranker_steps=6,
        ranker_step_weight=1.0,
        ranker_step_layer=1,
    ),
    generator_updates=4,
    batch_size=4,
    iteration_steps=4,
    iteration_ranker_steps=2,
    eval_sources=12,
)


def jgr_args(out: str, budget: Budget, seed: int, **overrides) -> JGRConfig:
    """The arms' shared JGR settings (official defaults except the sizes and rates)."""
    gen_share = budget.iteration_steps - budget.iteration_ranker_steps
    ranker_steps = overrides.get("iteration_ranker_steps", budget.iteration_ranker_steps)
    blocks = -(-budget.generator_updates // gen_share)
    total = budget.generator_updates + (blocks * ranker_steps if ranker_steps else 0)
    values = dict(
        output_dir=out,
        max_steps=total,
        per_device_train_batch_size=budget.batch_size,
        learning_rate=budget.generator_lr,
        ranker_learning_rate=budget.ranker_lr,
        normalize_rewards=budget.normalize_rewards,
        ranker_step_loss_weight=budget.setup.ranker_step_weight,
        iteration_steps=budget.iteration_steps,
        iteration_ranker_steps=budget.iteration_ranker_steps,
        num_cand_generated=16,
        num_cand_picked=16,
        candidate_pick_strategy="all",
        ranker_loss_type=budget.setup.ranker_loss,
        generator_num_cand_generated=8,
        top_k=0,
        max_new_tokens=MAX_NEW_TOKENS,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        lr_scheduler_type="constant",
        seed=seed,
    )
    values.update(overrides)
    if values["iteration_ranker_steps"] == 0:
        values["max_steps"] = budget.generator_updates
        values["iteration_steps"] = 1
    return JGRConfig(**values)


ARM_OVERRIDES = {
    "jgr": {},
    "metric_only": {"ranker_reward_scaler": 0.0, "iteration_ranker_steps": 0},
    "ranker_only": {"metric_reward_scaler": 0.0},
    "jgr_pad_unmasked": {"mask_pad_after_eos": False},
}


def _evaluate(generator, ranker, tok, eval_rows) -> dict:
    pool = candidate_pool(generator, tok, eval_rows, 8, 8)
    stats = evaluate_ranker(ranker, tok, pool)
    return {
        **stats,
        "per_source_top": [r["candidate_scores"][0] for r in pool],
        "per_source_pick": _picks(ranker, tok, pool),
    }


@torch.no_grad()
def _picks(ranker, tok, pool) -> list[float]:
    out = []
    for start in range(0, len(pool), 32):
        chunk = pool[start : start + 32]
        s = ranker.score(tok, [r["source"] for r in chunk], [r["candidates"] for r in chunk])
        out += [r["candidate_scores"][int(i)] for r, i in zip(chunk, s.argmax(1), strict=True)]
    return out


def run_seed(seed: int, budget: Budget, workdir: str, on_arm=None) -> dict:
    """Every arm for one seed; returns per-arm evaluation dicts plus the ranker check.
    ``on_arm(results)`` is called after each finished arm (to write partial reports)."""
    torch.set_num_threads(1)
    setup = budget.setup
    task, tok, gen0, ranker0, train_rows = prepare(seed, setup)
    eval_rows = task.rows(budget.eval_sources, "eval")
    pool = candidate_pool(gen0, tok, train_rows[: setup.pool_sources], setup.pool_beams,
                          setup.pool_samples)  # fmt: skip
    warm_ranker(gen0, ranker0, tok, pool, setup, f"{workdir}/warm", seed)
    results = {"ranker_check": _evaluate(gen0, ranker0, tok, eval_rows)}
    for arm in ARMS:
        t0 = time.time()
        gen, ranker = copy.deepcopy(gen0), copy.deepcopy(ranker0)
        set_seed(seed)
        if arm in ("mle", "simcls"):
            if arm == "mle" or "mle_generator" not in results:
                train_mle(gen, tok, train_rows, budget.generator_updates, budget.batch_size,
                          budget.generator_lr, seed)  # fmt: skip
                results["mle_generator"] = gen
            gen = results["mle_generator"]
        else:
            from datasets import Dataset

            args = jgr_args(f"{workdir}/{arm}", budget, seed, **ARM_OVERRIDES[arm])
            labeler = chain_step_labels if args.ranker_step_loss_weight > 0 else None
            trainer = JGRTrainer(gen, ranker, args, tok, metric=chain_metric, step_labeler=labeler,
                                 train_dataset=Dataset.from_list(train_rows))  # fmt: skip
            trainer.train()
        gen.eval()
        ranker.eval()
        results[arm] = _evaluate(gen, ranker, tok, eval_rows)
        results[arm]["seconds"] = time.time() - t0
        if on_arm is not None:
            on_arm({k: v for k, v in results.items() if k != "mle_generator"})
        LOG.info("seed %d %s: top %.3f pick %.3f", seed, arm, results[arm]["top_beam"],
                 results[arm]["ranker_pick"])  # fmt: skip
    results.pop("mle_generator", None)
    return results


def bootstrap_ci(diffs: list[float], n: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and percentile 95% interval of ``diffs`` (paired differences)."""
    x = np.asarray(diffs, dtype=float)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n, len(x)))].mean(axis=1)
    return float(x.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


COMPARISONS = (
    # name, (arm, field), (arm, field), claim
    ("JGR-G − MLE-G", ("jgr", "per_source_top"), ("mle", "per_source_top"), "> 0"),
    ("JGR-R − JGR-G", ("jgr", "per_source_pick"), ("jgr", "per_source_top"), ">= 0"),
    ("JGR-R − SimCLS", ("jgr", "per_source_pick"), ("simcls", "per_source_pick"), "> 0"),
    ("JGR-G − metric-only-G", ("jgr", "per_source_top"), ("metric_only", "per_source_top"), "> 0"),
    ("JGR-G − ranker-only-G", ("jgr", "per_source_top"), ("ranker_only", "per_source_top"), "> 0"),
    ("JGR-G − JGR(pads unmasked)-G", ("jgr", "per_source_top"),
     ("jgr_pad_unmasked", "per_source_top"), ">= 0"),
    ("warm ranker pick − MLE top beam", ("ranker_check", "per_source_pick"),
     ("ranker_check", "per_source_top"), "> 0"),
)  # fmt: skip


def summarise(per_seed: list[dict]) -> tuple[dict, str]:
    arms = ["ranker_check", *ARMS]
    table, data = [], {"arms": {}, "comparisons": {}}
    for arm in arms:
        done = [s[arm] for s in per_seed if arm in s]
        if not done:
            continue
        keys = ("top_beam", "top_beam_em", "ranker_pick", "ranker_pick_em", "pairwise_accuracy")
        cols = {k: mean_std([d[k] for d in done]) for k in keys}
        data["arms"][arm] = {k: v.to_dict() for k, v in cols.items()}
        table.append([arm, *(cols[k].format(digits=3) for k in cols)])
    rows = []
    for name, (a1, f1), (a2, f2), claim in COMPARISONS:
        pairs = [(v, w) for s in per_seed if a1 in s and a2 in s
                 for v, w in zip(s[a1][f1], s[a2][f2], strict=True)]  # fmt: skip
        if not pairs:
            continue
        mean, lo, hi = bootstrap_ci([v - w for v, w in pairs])
        held = lo > 0 if claim == "> 0" else hi >= 0 and mean >= 0
        data["comparisons"][name] = {"mean": mean, "ci95": [lo, hi], "claim": claim, "held": held}
        rows.append([name, f"{mean:+.3f}", f"[{lo:+.3f}, {hi:+.3f}]", claim,
                     "yes" if held else "no"])  # fmt: skip
    header = ["arm", "top beam metric", "top beam EM", "ranker pick metric", "ranker pick EM",
              "ranker pairwise acc"]  # fmt: skip
    md = "## Arms (mean ± sd over seeds)\n\n" + markdown_table(header, table)
    md += "\n\n## Claims (paired bootstrap over seed × source, 95% CI)\n\n"
    md += markdown_table(["difference", "mean", "95% CI", "claim", "held"], rows)
    return data, md


def run(out_dir: str, seeds: int, quick: bool = False) -> dict:
    budget = QUICK if quick else FULL
    per_seed: list[dict] = []
    started = time.time()
    cmd = f"gen-rank reproduce --seeds {seeds}" + (" --quick" if quick else "")
    data: dict = {}

    def write(results: list[dict], seeds_done: int) -> None:
        nonlocal data
        data, md = summarise(results)
        data |= {"budget": dataclasses.asdict(budget), "seeds_done": seeds_done,
                 "minutes": (time.time() - started) / 60}  # fmt: skip
        write_report(out_dir, "gen-rank", data, f"# gen-rank reproduce\n\n`{cmd}`\n\n{md}")

    budget_record = dataclasses.asdict(budget)
    for seed in range(seeds):
        done = os.path.join(out_dir, "gen-rank-seeds", f"seed{seed}.json")
        if os.path.isfile(done):  # resume: a finished seed of the same budget is kept
            with open(done, encoding="utf-8") as fh:
                saved = json.load(fh)
            if saved.get("budget") == budget_record:
                LOG.info("seed %d: reusing %s", seed, done)
                per_seed.append(saved["result"])
                write(per_seed, seed + 1)
                continue
        with tempfile.TemporaryDirectory() as work:
            result = run_seed(seed, budget, work, lambda r, s=seed: write([*per_seed, r], s))
        os.makedirs(os.path.dirname(done), exist_ok=True)
        atomic_write_json(done, {"budget": budget_record, "result": result})
        per_seed.append(result)
        write(per_seed, seed + 1)
    return data

"""``rtd-pretrain reproduce``: NES vs ES vs GDES at small scale → ``reports/rtd-pretrain.*``.

Part A, synthetic synonym corpus (:mod:`rtd_pretrain.synthetic`): generator MLM loss curves and
held-out MLM loss, RTD accuracy/AUC on one fixed corrupted set (a frozen in-cluster synonym
sampler), embedding cosine statistics, and a register probe on the discriminator.
Part B, real English sentences (lmlab-common): the same three arms plus MLM-only at equal
compute (1.5× the steps: an RTD step with a half-depth generator costs about 1.5 MLM steps of
the discriminator-sized model) and no pre-training, each probed and fine-tuned on a 6-way topic
classification of held-out real sentences (which Python help topic a sentence comes from).
Results are written after every arm; a rerun with the same settings skips finished arms.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import Counter

import torch
from lmlab_common import (
    add_reproduce_args,
    atomic_write_text,
    english_sentences,
    get_logger,
    markdown_table,
    mean_std,
    write_report,
)

from .data import build_blocks, corpus_tokenizer, sentence_rows
from .downstream import fine_tune, linear_probe, pooled_features, topic_task
from .experiment import (
    discriminator_config,
    evaluate_discriminator,
    fixed_corruption,
    heldout_mlm_loss,
    pretrain_arm,
    pretrain_mlm_only,
)
from .metrics import embedding_stats
from .model import build_discriminator, export_discriminator
from .sharing import discriminator_table
from .synthetic import SynonymCorpus

NAME = "rtd-pretrain"
ARMS = ("nes", "es", "gdes")
log = get_logger("rtd_pretrain.reproduce")

SIZES = {  # full: ~15 min on an idle 2-core machine; quick: a smoke run
    "full": dict(syn_steps=400, syn_sentences=4000, en_steps=500, ft_steps=200, hidden=64),
    "quick": dict(syn_steps=30, syn_sentences=400, en_steps=30, ft_steps=10, hidden=32),
}


def _load(path: str, settings: dict) -> dict:
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            old = json.load(fh)
        if old.get("settings") == settings:
            return old.get("arms", {})
    return {}


def _synthetic_setup(size: dict):
    corpus = SynonymCorpus()
    tokenizer = corpus_tokenizer(corpus.words, vocab_size=1000)
    rows = sentence_rows(corpus.sentences(size["syn_sentences"], seed=1), tokenizer)
    held = sentence_rows(corpus.sentences(300, seed=9), tokenizer)
    clusters = [[tokenizer.convert_tokens_to_ids(w) for w in g] for g in corpus.clusters()]
    size_c = len(clusters[0])
    members = torch.tensor(clusters)  # (C, m) token ids
    row_of = torch.zeros(len(tokenizer), dtype=torch.long)  # token id -> cluster index
    for k, group in enumerate(clusters):
        row_of[torch.tensor(group)] = k

    def synonym_sampler(orig: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        pick = torch.randint(size_c, orig.shape, generator=gen)
        return members[row_of[orig], pick]

    eval_set = fixed_corruption(held, tokenizer, synonym_sampler)
    probe = corpus.labelled(900, seed=5)
    return corpus, tokenizer, rows, clusters, eval_set, probe


def _english_setup(size: dict):
    texts, labels, _ = topic_task(n_topics=6, seed=0)
    held_out = set(texts)
    pretrain = [t for t in english_sentences(seed=0, source="all") if t not in held_out]
    tokenizer = corpus_tokenizer(pretrain, vocab_size=3000)
    blocks = build_blocks(pretrain, tokenizer, block_size=64)
    counts = Counter(i for row in blocks["input_ids"] for i in row[1:-1])
    ids = torch.tensor(sorted(counts))
    probs = torch.tensor([counts[int(i)] for i in ids], dtype=torch.float)

    def unigram_sampler(orig: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return ids[torch.multinomial(probs, orig.numel(), replacement=True, generator=gen)]

    held = build_blocks(texts, tokenizer, block_size=64)
    eval_set = fixed_corruption(held, tokenizer, unigram_sampler)
    n_train = int(len(texts) * 0.6)
    train = (texts[:n_train], labels[:n_train])
    test = (texts[n_train:], labels[n_train:])
    return tokenizer, blocks, eval_set, train, test


def _synthetic_seed(arms, save, size, seed, corpus, tok, rows, clusters, syn_eval, probe):
    cfg = discriminator_config("deberta", len(tok), hidden_size=size["hidden"], num_layers=2)
    real_ids = sorted(i for g in clusters for i in g)
    probe_texts, probe_labels = probe
    for sharing in ARMS:
        key = f"synthetic/{sharing}/{seed}"
        if key in arms:
            continue
        log.info("synthetic %s seed %d", sharing, seed)
        steps = size["syn_steps"]
        r = pretrain_arm(sharing, rows, tok, cfg, steps, seed=seed, learning_rate=3e-3,
                         logging_steps=max(1, steps // 10))  # fmt: skip
        e_g = r.model.generator.get_input_embeddings().weight
        stats = embedding_stats(e_g, discriminator_table(r.model.discriminator), real_ids,
                                clusters)  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            export_discriminator(r.model, tmp)
            feats = pooled_features(tmp, tok, probe_texts)
        probe_acc = linear_probe(feats[:600], probe_labels[:600], feats[600:],
                                 probe_labels[600:], seed=seed)  # fmt: skip
        arms[key] = {
            "mlm_curve": r.curve("mlm_loss"),
            "heldout_mlm_loss": heldout_mlm_loss(r.model, syn_eval),
            **evaluate_discriminator(r.model, syn_eval),
            **stats.to_dict(),
            "register_probe_acc": probe_acc,
        }
        save()


def _english_seed(arms, save, size, seed, tok, blocks, en_eval, train, test):
    cfg = discriminator_config("deberta", len(tok), hidden_size=size["hidden"], num_layers=2)
    steps = size["en_steps"]
    for arm in (*ARMS, "mlm-only", "no-pretraining"):
        key = f"english/{arm}/{seed}"
        if key in arms:
            continue
        log.info("english %s seed %d", arm, seed)
        result: dict = {}
        with tempfile.TemporaryDirectory() as tmp:
            if arm in ARMS:
                r = pretrain_arm(arm, blocks, tok, cfg, steps, seed=seed, learning_rate=2e-3,
                                 logging_steps=max(1, steps // 10))  # fmt: skip
                export_discriminator(r.model, tmp)
                result = {
                    "mlm_curve": r.curve("mlm_loss"),
                    "heldout_mlm_loss": heldout_mlm_loss(r.model, en_eval),
                    **evaluate_discriminator(r.model, en_eval),
                }
            elif arm == "mlm-only":
                mlm = pretrain_mlm_only(blocks, tok, cfg, int(steps * 1.5), seed=seed,
                                        learning_rate=2e-3)  # fmt: skip
                mlm.save_pretrained(tmp)
            else:
                torch.manual_seed(seed)
                build_discriminator(cfg).save_pretrained(tmp)
            result["finetune_acc"] = fine_tune(tmp, tok, train, test, steps=size["ft_steps"],
                                               learning_rate=1e-3, seed=seed)  # fmt: skip
            feats = pooled_features(tmp, tok, train[0] + test[0])
            n = len(train[0])
            result["probe_acc"] = linear_probe(feats[:n], train[1], feats[n:], test[1],
                                               seed=seed)  # fmt: skip
        arms[key] = result
        save()


def run(out: str, seeds: int, quick: bool = False) -> dict:
    size = SIZES["quick" if quick else "full"]
    settings = {"seeds": seeds, "english_source": "all", **size}
    json_path = os.path.join(out, f"{NAME}.json")
    arms = _load(json_path, settings)

    def save() -> None:
        write_report(out, NAME, {"settings": settings, "arms": arms, "summary": summarise(arms)},
                     render(arms, settings))  # fmt: skip
        atomic_write_text(os.path.join(out, f"{NAME}-curves.svg"), curves_svg(arms))

    syn = _synthetic_setup(size)
    english = _english_setup(size)
    # The synthetic claim (cheap) for every seed first, then the English arms seed by seed: a
    # stopped run has the central claim's n first. Finished arms are skipped on a rerun.
    for seed in range(seeds):
        _synthetic_seed(arms, save, size, seed, *syn)
    for seed in range(seeds):
        _english_seed(arms, save, size, seed, *english)
    return arms


SYN_METRICS = [
    ("heldout_mlm_loss", "generator MLM loss (held-out)", 1, 3),
    ("rtd_auc", "RTD AUC (fixed synonym corruption)", 1, 3),
    ("rtd_accuracy", "RTD accuracy", 100, 1),
    ("gd_row_cos", "cos(E_G row, E_D row)", 1, 3),
    ("g_mean_cos", "E_G mean pairwise cos", 1, 3),
    ("d_mean_cos", "E_D mean pairwise cos", 1, 3),
    ("g_within_cos", "E_G within-cluster cos", 1, 3),
    ("d_within_cos", "E_D within-cluster cos", 1, 3),
    ("register_probe_acc", "register probe acc (%)", 100, 1),
]
EN_METRICS = [
    ("heldout_mlm_loss", "generator MLM loss (held-out)", 1, 3),
    ("rtd_auc", "RTD AUC (fixed unigram corruption)", 1, 3),
    ("finetune_acc", "topic fine-tune acc (%)", 100, 1),
    ("probe_acc", "topic probe acc (%)", 100, 1),
]


def summarise(arms: dict) -> dict:
    out: dict = {}
    for key, result in arms.items():
        part, arm, _ = key.split("/")
        for metric, value in result.items():
            if isinstance(value, int | float):
                out.setdefault(part, {}).setdefault(arm, {}).setdefault(metric, []).append(value)
    return {p: {a: {m: mean_std(v).to_dict() for m, v in ms.items()} for a, ms in arms_.items()}
            for p, arms_ in out.items()}  # fmt: skip


def _table(arms: dict, part: str, names: tuple[str, ...], metrics) -> str:
    rows = []
    for metric, label, scale, digits in metrics:
        cells = []
        for name in names:
            vals = [r[metric] for k, r in arms.items()
                    if k.startswith(f"{part}/{name}/") and metric in r]  # fmt: skip
            cells.append(mean_std(vals).format(scale, digits) if vals else "—")
        rows.append([label, *cells])
    return markdown_table(["metric", *names], rows)


COLOURS = {"nes": "#1f77b4", "es": "#d62728", "gdes": "#2ca02c"}


def curves_svg(arms: dict) -> str:
    """Mean generator MLM training-loss curve per arm, one panel per corpus (plain SVG)."""
    width, height, pad = 360, 240, 40
    panels = []
    for p, part in enumerate(("synthetic", "english")):
        means = {}
        for name in ARMS:
            curves = [r["mlm_curve"] for k, r in arms.items()
                      if k.startswith(f"{part}/{name}/") and r.get("mlm_curve")]  # fmt: skip
            if curves:
                n = min(len(c) for c in curves)
                means[name] = [(curves[0][i][0], sum(c[i][1] for c in curves) / len(curves))
                               for i in range(n)]  # fmt: skip
        pts = [pt for c in means.values() for pt in c]
        if not pts:
            continue
        x0, x1 = min(x for x, _ in pts), max(x for x, _ in pts)
        y0, y1 = min(y for _, y in pts), max(y for _, y in pts)
        ox = p * (width + 20)

        def sx(x, ox=ox, x0=x0, x1=x1):
            return ox + pad + (x - x0) / max(x1 - x0, 1e-9) * (width - 2 * pad)

        def sy(y, y0=y0, y1=y1):
            return height - pad - (y - y0) / max(y1 - y0, 1e-9) * (height - 2 * pad)

        items = [f'<text x="{ox + pad}" y="20" font-size="12">{part}: generator MLM loss '
                 f"(train, mean over seeds) vs step; y {y0:.2f}..{y1:.2f}</text>"]  # fmt: skip
        for i, (name, curve) in enumerate(means.items()):
            line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in curve)
            items.append(f'<polyline fill="none" stroke="{COLOURS[name]}" points="{line}"/>')
            items.append(f'<text x="{ox + width - 70}" y="{50 + 14 * i}" font-size="11" '
                         f'fill="{COLOURS[name]}">{name}</text>')  # fmt: skip
        panels.append("\n".join(items))
    body = "\n".join(panels)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width + 20}" '
            f'height="{height}">\n{body}\n</svg>\n')  # fmt: skip


def render(arms: dict, settings: dict) -> str:
    parts = [
        "# rtd-pretrain: NES vs ES vs GDES (mean ± sd over seeds)",
        f"Settings: {json.dumps(settings)}",
        f"MLM curves: {NAME}-curves.svg",
        "## A. Synthetic synonym corpus",
        _table(arms, "synthetic", ARMS, SYN_METRICS),
        "## B. Real English sentences (lmlab-common: pydoc topics + standard-library docstrings)",
        _table(arms, "english", (*ARMS, "mlm-only", "no-pretraining"), EN_METRICS),
    ]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    from lmlab_common import run_cli

    parser = build_parser()
    return run_cli(parser, argv)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(prog=f"{NAME} reproduce", description=__doc__)
    add_reproduce_args(parser, seeds=3)
    parser.add_argument("--quick", action="store_true", help="tiny smoke-test sizes")
    parser.set_defaults(func=lambda a: _run_cmd(a))
    return parser


def _run_cmd(args: argparse.Namespace) -> int:
    # One thread: on a shared, oversubscribed machine a second OpenMP thread mostly spins.
    torch.set_num_threads(1)
    run(args.out, args.seeds, quick=args.quick)
    print(os.path.join(args.out, f"{NAME}.md"))
    return 0

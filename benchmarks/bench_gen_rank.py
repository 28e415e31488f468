"""Time of one JGR iteration split into its parts, and candidate sampling vs plain generate.

Fixed shapes (the reproduce setting): GPT-2 2×64 generator, BERT 2×64 ranker, chain task,
B = 16 sources, C = 8 candidates for the generator update and 16 for the ranker update,
up to 24 new tokens. The parts are timed interleaved (round-robin, median of REPEATS):

- sampling: ``sample_candidates`` (one batched ``generate`` + tokenise/decode),
- plain_generate: ``generator.generate`` on the same B×C rows with no decoding around it,
- ranker_scoring: ``Ranker.score`` on (B, C),
- ranker_update: forward + backward + AdamW step of the ranker on (B, 16),
- generator_update: teacher-forced log-probs of B×C candidates + MLE + backward + step.

Writes benchmarks/results/bench_gen_rank.json. Target from the issue: sampling ≤ 1.2× plain
generate.
"""

from __future__ import annotations

import os
import statistics
import time

import torch
from gen_rank import ChainTask, compute_rewards, encode_pairs, policy_gradient_loss, ranker_loss
from gen_rank.experiment import MAX_NEW_TOKENS, Setup, build_models, train_mle
from gen_rank.generation import candidate_logprobs, encode_sources, mle_batch, sample_candidates
from lmlab_common import atomic_write_json, environment

REPEATS, B, C, C_RANK = 7, 16, 8, 16


def main() -> dict:
    load_before = os.getloadavg()
    task = ChainTask()
    tok = task.tokenizer()
    gen, ranker = build_models(tok, Setup(), 0)
    rows = task.rows(400)
    train_mle(gen, tok, rows, 150, 64, 2e-3)  # so samples have realistic lengths
    batch = rows[:B]
    sources = [r["source"] for r in batch]
    refs = [r["reference"] for r in batch]
    g_opt = torch.optim.AdamW(gen.parameters(), lr=1e-4)
    r_opt = torch.optim.AdamW(ranker.parameters(), lr=1e-4)
    src = encode_sources(gen, tok, sources)
    parts = ("sampling", "plain_generate", "ranker_scoring", "ranker_update", "generator_update")
    times: dict[str, list[float]] = {k: [] for k in parts}
    tokens = []

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        times[name].append(time.perf_counter() - t0)
        return out

    for _ in range(REPEATS):
        torch.manual_seed(0)
        cands = timed("sampling", lambda: sample_candidates(
            gen, tok, sources, C, max_new_tokens=MAX_NEW_TOKENS, top_k=0))  # fmt: skip
        tokens.append(cands.sequences.shape[1] - cands.prompt_length)
        torch.manual_seed(0)
        timed("plain_generate", lambda: gen.generate(
            input_ids=src.input_ids, attention_mask=src.attention_mask, do_sample=True,
            top_k=0, num_return_sequences=C, max_new_tokens=MAX_NEW_TOKENS,
            eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))  # fmt: skip
        scores = timed("ranker_scoring", lambda c=cands: ranker.score(tok, sources, c.texts))
        metric = torch.tensor([task_metric(c, r) for c, r in zip(cands.texts, refs, strict=True)])

        def ranker_step(cands=cands):
            texts = [(c * 2)[:C_RANK] for c in cands.texts]
            enc = encode_pairs(tok, sources, texts)
            ranker.train()
            loss = ranker_loss(ranker(**enc), "contrastive")
            r_opt.zero_grad()
            loss.backward()
            r_opt.step()
            ranker.eval()

        timed("ranker_update", ranker_step)

        def generator_step(cands=cands, scores=scores, metric=metric):
            gen.train()
            logp, mask = candidate_logprobs(gen, cands)
            reward = compute_rewards(scores, metric, 1.5, 1.5)
            loss = policy_gradient_loss(logp, mask, reward)
            loss = loss + gen(**mle_batch(gen, tok, sources, [r["target"] for r in batch])).loss
            g_opt.zero_grad()
            loss.backward()
            g_opt.step()
            gen.eval()

        timed("generator_update", generator_step)
    med = {k: statistics.median(v) for k, v in times.items()}
    iteration = sum(med[k] for k in ("sampling", "ranker_scoring", "generator_update"))
    result = {
        "shapes": {
            "sources": B,
            "candidates": C,
            "ranker_candidates": C_RANK,
            "max_new_tokens": MAX_NEW_TOKENS,
            "median_new_tokens": statistics.median(tokens),
        },  # fmt: skip
        "median_seconds": med,
        "generator_update_iteration_seconds": iteration,
        "share_of_generator_iteration": {
            k: med[k] / iteration for k in ("sampling", "ranker_scoring", "generator_update")
        },
        "sampling_vs_plain_generate": med["sampling"] / med["plain_generate"],
        "sampled_tokens_per_second": B * C * statistics.median(tokens) / med["sampling"],
        "target": "sampling_vs_plain_generate <= 1.2",
        "load_average_1_5_15min": {"before": load_before, "after": os.getloadavg()},
        "note": "shared 2-core machine (this job uses 1 thread); parts timed interleaved",
        "environment": environment(),
    }
    os.makedirs("benchmarks/results", exist_ok=True)
    atomic_write_json("benchmarks/results/bench_gen_rank.json", result)
    print(result)
    return result


def task_metric(cands, ref):
    from gen_rank import chain_metric

    return chain_metric(cands, [ref] * len(cands))


if __name__ == "__main__":
    main()

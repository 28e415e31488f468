"""``JGRTrainer``: one ``transformers.Trainer`` holding the generator and the ranker.

Each optimizer step trains one of the two, by the official schedule (``JGRConfig.phase``):

- ranker step: sample ``num_cand_generated`` candidates per source with the current generator,
  score them with the metric against the reference, keep the best plus ``num_cand_picked - 1``
  others (``candidate_pick_strategy``) and apply the ranker loss;
- generator step: sample ``generator_num_cand_generated`` candidates, reward each with
  ``a·centre(ranker score) + b·centre(metric)`` and minimise
  ``−mean(r · log p(ŷ)) + λ · MLE(x, y)``.

Both models live in one ``GeneratorRanker`` module: one optimizer (two parameter groups with
their own learning rates; the idle model has no gradients, so AdamW leaves it untouched), one
checkpoint holding both, and DDP / resume come from the Trainer unchanged.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer

from .config import JGRConfig
from .generation import check_round_trip, mle_batch, sample_candidates
from .losses import compute_rewards, policy_gradient_loss
from .metrics import Metric, check_references, score_candidates, summarization_score
from .model import GeneratorRanker
from .ranker import (
    Ranker,
    StepLabeler,
    encode_pairs,
    pick_candidates,
    ranker_loss,
    step_labels,
    step_loss,
)


class TextCollator:
    """Batches rows of a dataset with text columns into lists of strings.

    ``source`` is the input, ``target`` the MLE target, ``reference`` what the metric scores
    against (defaults to ``target``).
    """

    def __init__(self, source: str = "source", target: str = "target", reference="reference"):
        self.source, self.target, self.reference = source, target, reference

    def __call__(self, rows: Sequence[dict]) -> dict[str, list[str]]:
        for key in (self.source, self.target):
            if key not in rows[0]:
                raise ValueError(f"dataset rows lack the column {key!r}; have {sorted(rows[0])}")
        ref_key = self.reference if self.reference in rows[0] else self.target
        batch = {
            "sources": [r[self.source] for r in rows],
            "targets": [r[self.target] for r in rows],
            "references": [r[ref_key] for r in rows],
        }
        check_references(batch["references"])
        if "candidates" in rows[0]:  # pre-generated candidates (ranker warm-up data)
            batch["candidates"] = [list(r["candidates"]) for r in rows]
            if "candidate_scores" in rows[0]:
                batch["candidate_scores"] = [list(r["candidate_scores"]) for r in rows]
        return batch


class JGRTrainer(Trainer):
    """Joint generator–ranker training (see the module docstring).

    ``metric(candidates, references) -> list[float]`` defaults to the official summarization
    score. ``ranker_tokenizer`` defaults to ``tokenizer``; when they differ, the trainer checks
    up front that the ranker's tokenizer can read the generator's text.
    """

    def __init__(
        self,
        generator: PreTrainedModel,
        ranker: Ranker,
        args: JGRConfig,
        tokenizer: PreTrainedTokenizerBase,
        ranker_tokenizer: PreTrainedTokenizerBase | None = None,
        metric: Metric = summarization_score,
        step_labeler: StepLabeler | None = None,
        train_dataset=None,
        data_collator=None,
        **kwargs,
    ) -> None:
        if not isinstance(args, JGRConfig):
            raise ValueError(f"args={type(args).__name__} is invalid; allowed: a JGRConfig")
        if not isinstance(ranker, Ranker):
            raise ValueError(f"ranker={type(ranker).__name__} is invalid; allowed: a Ranker")
        self.tokenizer = tokenizer
        self.ranker_tokenizer = ranker_tokenizer if ranker_tokenizer is not None else tokenizer
        self.metric = metric
        self.step_labeler = step_labeler
        if args.ranker_step_loss_weight > 0 and (step_labeler is None or ranker.step_head is None):
            raise ValueError(
                f"ranker_step_loss_weight={args.ranker_step_loss_weight} is invalid without a "
                "step_labeler and a Ranker(step_head=True); allowed: 0, or both given"
            )
        collator = data_collator or TextCollator()
        if train_dataset is not None and len(train_dataset) > 0:
            rows = [train_dataset[i] for i in range(min(32, len(train_dataset)))]
            sample = collator(rows)
            check_round_trip(
                tokenizer, self.ranker_tokenizer, sample["sources"] + sample["references"]
            )
        super().__init__(
            model=GeneratorRanker(generator, ranker),
            args=args,
            train_dataset=train_dataset,
            data_collator=collator,
            processing_class=tokenizer,
            **kwargs,
        )
        self.model_accepts_loss_kwargs = False
        self._terms: dict[str, list[float]] = defaultdict(list)

    @property
    def pair(self) -> GeneratorRanker:
        return self.accelerator.unwrap_model(self.model)

    @property
    def generator(self) -> PreTrainedModel:
        return self.pair.generator

    @property
    def ranker(self) -> Ranker:
        return self.pair.ranker

    # ---- optimisation -------------------------------------------------------------------
    def create_optimizer(self, model=None):
        """AdamW with two parameter groups: generator at ``learning_rate``, ranker at
        ``ranker_learning_rate`` (the official code keeps two optimizers with these rates)."""
        if self.optimizer is None:
            pair = self.pair
            groups = [
                {"params": [p for p in pair.generator.parameters() if p.requires_grad]},
                {
                    "params": [p for p in pair.ranker.parameters() if p.requires_grad],
                    "lr": self.args.ranker_learning_rate,
                },
            ]
            for g in groups:
                g["weight_decay"] = self.args.weight_decay
            self.optimizer = torch.optim.AdamW(
                groups,
                lr=self.args.learning_rate,
                betas=(self.args.adam_beta1, self.args.adam_beta2),
                eps=self.args.adam_epsilon,
            )
        return self.optimizer

    def _sample(self, sources: list[str], n: int):
        a = self.args
        return sample_candidates(
            self.generator,
            self.tokenizer,
            sources,
            n,
            do_sample=a.do_sample,
            max_new_tokens=a.max_new_tokens,
            temperature=a.temperature,
            top_k=a.top_k,
            top_p=a.top_p,
            max_source_length=a.max_source_length,
        )

    def _metric(self, texts: list[list[str]], references: list[str]) -> torch.Tensor:
        c = len(texts[0])
        flat = [t for cands in texts for t in cands]
        refs = [r for r in references for _ in range(c)]
        values = score_candidates(self.metric, flat, refs)
        return torch.tensor(values, dtype=torch.float32).view(len(texts), c)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        phase = self.args.phase(self.state.global_step)
        if phase == "ranker":
            loss = self._ranker_step(model, inputs)
        else:
            loss = self._generator_step(model, inputs)
        return (loss, {}) if return_outputs else loss

    def _ranker_step(self, model, inputs) -> torch.Tensor:
        a = self.args
        if "candidates" in inputs:  # warm-up on pre-generated candidates (official stage 3)
            texts = inputs["candidates"]
            if "candidate_scores" in inputs:
                metric = torch.tensor(inputs["candidate_scores"], dtype=torch.float32)
            else:
                metric = self._metric(texts, inputs["references"])
        else:
            texts = self._sample(inputs["sources"], a.num_cand_generated).texts
            metric = self._metric(texts, inputs["references"])
        idx = pick_candidates(metric, a.num_cand_picked, a.candidate_pick_strategy)
        picked = [[texts[b][j] for j in row] for b, row in enumerate(idx.tolist())]
        batch = encode_pairs(
            self.ranker_tokenizer,
            inputs["sources"],
            picked,
            a.ranker_max_source_length,
            a.ranker_max_target_length,
        )
        device = self.args.device
        with_steps = a.ranker_step_loss_weight > 0
        out = model(
            phase="ranker",
            ranker_inputs={k: v.to(device) for k, v in batch.items()},
            return_step_logits=with_steps,
        )
        scores = out["scores"]
        picked_metric = torch.gather(metric, 1, idx).to(scores.device)
        loss = ranker_loss(scores, a.ranker_loss_type, picked_metric, a.listwise_temperature)
        self._record(ranker_loss=loss)
        if with_steps:
            labels = step_labels(
                self.ranker_tokenizer,
                inputs["sources"],
                picked,
                self.step_labeler,
                batch["input_ids"].shape[-1],
                a.ranker_max_source_length,
                a.ranker_max_target_length,
            )
            aux = step_loss(out["step_logits"], labels.to(scores.device))
            loss = loss + a.ranker_step_loss_weight * aux
            self._record(ranker_step_loss=aux)
        with torch.no_grad():
            better = picked_metric[:, :1] > picked_metric[:, 1:]
            correct = (scores[:, :1] > scores[:, 1:]) & better
            acc = correct.sum() / better.sum().clamp(min=1)
        self._record(ranker_pairwise_acc=acc)
        return loss

    def _generator_step(self, model, inputs) -> torch.Tensor:
        a = self.args
        sources = inputs["sources"]
        cands = self._sample(sources, a.generator_num_cand_generated)
        metric = self._metric(cands.texts, inputs["references"])
        scores = None
        if a.ranker_reward_scaler > 0:
            scores = self.ranker.score(
                self.ranker_tokenizer,
                sources,
                cands.texts,
                a.ranker_max_source_length,
                a.ranker_max_target_length,
            ).cpu()
        rewards = compute_rewards(
            scores, metric, a.ranker_reward_scaler, a.metric_reward_scaler, a.normalize_rewards
        )
        mle_inputs = (
            self._mle_inputs(sources, inputs["targets"]) if a.generator_supervised_lambda else None
        )
        out = model(
            phase="generator",
            candidates=cands,
            mle_inputs=mle_inputs,
            mask_pad_after_eos=a.mask_pad_after_eos,
        )
        pg = policy_gradient_loss(out["logp"], out["mask"], rewards.to(out["logp"].device))
        loss = pg
        if mle_inputs is not None:
            loss = loss + a.generator_supervised_lambda * out["mle"]
            self._record(mle_loss=out["mle"])
        self._record(pg_loss=pg, sample_metric=metric.mean())
        return loss

    def _mle_inputs(self, sources: list[str], targets: list[str]) -> dict[str, torch.Tensor]:
        a = self.args
        batch = mle_batch(
            self.generator, self.tokenizer, sources, targets, a.max_source_length, a.max_new_tokens
        )
        return {k: v.to(a.device) for k, v in batch.items()}

    # ---- logging, saving, resuming ----------------------------------------------------
    def _record(self, **terms) -> None:
        for name, value in terms.items():
            if isinstance(value, torch.Tensor):
                value = value.detach()
            self._terms[name].append(float(value))

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs:
            for name, values in self._terms.items():
                if values:
                    logs[name] = round(sum(values) / len(values), 6)
            self._terms.clear()
        super().log(logs, *args, **kwargs)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        self.pair.save_pretrained(output_dir, self.tokenizer, self.ranker_tokenizer)
        torch.save(self.args, os.path.join(output_dir, "training_args.bin"))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        (model or self.pair).load_checkpoint(resume_from_checkpoint)

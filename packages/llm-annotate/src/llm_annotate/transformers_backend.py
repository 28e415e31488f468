"""``TransformersBackend``: a local causal LM, batched generation, logprobs of the chosen tokens.

torch and transformers are imported only when this backend is built, so the HTTP path stays
light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .backends import Backend, Completion, Generation, Usage, apply_stop, validate_sampling


class TransformersBackend(Backend):
    """Generate with a ``transformers`` causal LM, ``batch_size`` prompts per forward.

    ``model`` is a hub id / local path, or an already built ``PreTrainedModel`` (then pass
    ``tokenizer`` too and optionally ``name`` for the cache key). Prompts are left-padded; with
    ``temperature == 0`` decoding is greedy, otherwise sampled with ``seed`` fixed per batch.
    """

    kind = "transformers"
    supports_logprobs = True

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        name: str | None = None,
        batch_size: int = 8,
        device: str | None = None,
        seed: int = 0,
        max_prompt_tokens: int | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} is invalid; allowed: an integer >= 1")
        if isinstance(model, str):
            self.model = name or model
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForCausalLM.from_pretrained(model)
        else:
            if tokenizer is None:
                raise ValueError(
                    "tokenizer=None is invalid with a model object; allowed: its tokenizer"
                )
            self.model = name or getattr(model.config, "_name_or_path", "") or type(model).__name__
        self.lm = model.eval()
        if device:
            self.lm.to(device)
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        self.tokenizer.truncation_side = "left"  # keep the item at the end of a long prompt
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size
        self.seed = seed
        self.max_prompt_tokens = max_prompt_tokens
        self._torch = torch

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model, "seed": self.seed}

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def context_length(self) -> int | None:
        config = self.lm.config
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    def stream(self, prompts: Sequence[str], *, max_tokens=256, temperature=0.0, stop=None, n=1):
        validate_sampling(max_tokens, temperature, n)
        prompts = list(prompts)
        context = self.context_length()
        fits = []
        for index, prompt in enumerate(prompts):
            length = self.count_tokens(prompt)
            if self.max_prompt_tokens is not None:
                length = min(length, self.max_prompt_tokens)
            if context is not None and length + max_tokens > context:
                reason = (
                    f"prompt has {length} tokens; with max_tokens={max_tokens} it exceeds the "
                    f"model's context of {context} tokens (set max_prompt_tokens to cut it)"
                )
                yield index, Generation(error=reason)
            else:
                fits.append(index)
        for start in range(0, len(fits), self.batch_size):
            chunk = fits[start : start + self.batch_size]
            for j, generation in enumerate(
                self._generate_batch([prompts[i] for i in chunk], max_tokens, temperature, stop, n)
            ):
                yield chunk[j], generation

    def _generate_batch(self, batch, max_tokens, temperature, stop, n) -> list[Generation]:
        torch = self._torch
        device = next(self.lm.parameters()).device
        enc = self.tokenizer(
            batch,
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
            truncation=self.max_prompt_tokens is not None,
            max_length=self.max_prompt_tokens,
        ).to(device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "num_return_sequences": n,
            "return_dict_in_generate": True,
            "output_scores": True,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if stop:  # stop early instead of generating to max_tokens and cutting afterwards
            kwargs.update(stop_strings=list(stop), tokenizer=self.tokenizer)
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_k=0)
            torch.manual_seed(self.seed)
        else:
            kwargs.update(do_sample=False)
        with torch.no_grad():
            out = self.lm.generate(**enc, **kwargs)
        prompt_len = enc["input_ids"].shape[1]
        new_tokens = out.sequences[:, prompt_len:]  # (batch*n, new)
        scores = self.lm.compute_transition_scores(
            out.sequences, out.scores, normalize_logits=True
        )  # (batch*n, new)
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        results = []
        for b in range(len(batch)):
            completions = []
            completion_tokens = 0
            for j in range(n):
                row = b * n + j
                ids = new_tokens[row].tolist()
                finish = "length"
                if eos is not None and eos in ids:
                    ids = ids[: ids.index(eos)]
                    finish = "stop"
                elif pad is not None and pad in ids:  # finished early by a stop string
                    ids = ids[: ids.index(pad)]
                    finish = "stop"
                logprob = float(scores[row, : max(1, len(ids))].sum())
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                text, cut = apply_stop(text, stop)
                finish = "stop" if cut else finish
                tokens = [
                    (self.tokenizer.decode([t]), float(scores[row, k])) for k, t in enumerate(ids)
                ]
                completions.append(
                    Completion(text=text, finish_reason=finish, logprob=logprob, tokens=tokens)
                )
                completion_tokens += len(ids)
            prompt_tokens = int(enc["attention_mask"][b].sum())
            results.append(Generation(completions, Usage(prompt_tokens, completion_tokens)))
        return results

    def close(self) -> None:
        self.lm = self.lm.to("cpu")

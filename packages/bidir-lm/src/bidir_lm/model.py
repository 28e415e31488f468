"""``BidirectionalLM``: a forward and a backward causal LM over the same documents.

``sharing="shared"`` (the paper's setup): one transformers causal LM serves both directions;
a direction token (``<l2r>`` / ``<r2l>``) starts every row and both directions run as one
batch. ``sharing="separate"``: two causal LMs of the same architecture.
"""

from __future__ import annotations

import copy
import os

import torch
from torch import nn
from transformers import AutoModelForCausalLM, PreTrainedModel

from .config import BidirConfig
from .losses import masked_ce, mim_terms
from .options import DIRECTION_TOKENS, FIM_TOKENS, METHODS, SHARINGS

BACKWARD_DIR = "backward"


def prepare_tokenizer(tokenizer, model: PreTrainedModel | None = None) -> dict[str, int]:
    """Add the direction and FIM sentinel tokens to ``tokenizer`` (when missing) and grow
    ``model``'s embeddings when the tokenizer no longer fits. Returns the token ids.

    Raises ``ValueError`` when the model has no room and cannot be resized.
    """
    wanted = [*DIRECTION_TOKENS.values(), *FIM_TOKENS.values()]
    vocab = tokenizer.get_vocab()
    missing = [t for t in wanted if t not in vocab]
    if missing:
        try:
            tokenizer.add_tokens(missing, special_tokens=True)
        except Exception as err:  # noqa: BLE001 - any tokenizer failure is the same user error
            raise ValueError(
                f"tokenizer={type(tokenizer).__name__} cannot add the tokens {missing}: {err}; "
                "allowed: a tokenizer that supports add_tokens"
            ) from err
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in wanted}
    if model is not None:
        room = model.get_input_embeddings().num_embeddings
        need = max(len(tokenizer), max(ids.values()) + 1)
        if need > room:
            try:
                model.resize_token_embeddings(need)
            except (NotImplementedError, AttributeError, TypeError) as err:
                raise ValueError(
                    f"model has room for {room} tokens but the tokenizer needs {need} "
                    f"(with {wanted}); {type(model).__name__} cannot resize its embeddings: "
                    f"{err}"
                ) from err
    return ids


class BidirectionalLM(nn.Module):
    """Forward (x_i | x_<i) and backward (x_i | x_>i) LMs; ``forward()`` returns the MIM terms.

    Build with :meth:`from_causal_lm`; save with :meth:`save_pretrained`, load with
    :meth:`from_pretrained` (nothing re-specified).
    """

    def __init__(
        self,
        forward_model: PreTrainedModel,
        config: BidirConfig,
        backward_model: PreTrainedModel | None = None,
    ) -> None:
        super().__init__()
        if (config.sharing == "separate") != (backward_model is not None):
            raise ValueError(
                f"sharing={config.sharing!r} with backward_model="
                f"{'given' if backward_model is not None else None}; allowed: a backward model "
                "exactly when sharing='separate'"
            )
        self.forward_model = forward_model
        self.backward_model = backward_model
        self.bidir_config = config

    # --- construction, save, load ---------------------------------------------------------

    @classmethod
    def from_causal_lm(
        cls, model: PreTrainedModel, tokenizer, sharing: str = "shared", method: str = "mim"
    ) -> BidirectionalLM:
        """Wrap ``model`` (adds tokens to ``tokenizer`` and resizes embeddings if needed).

        ``sharing="separate"`` copies ``model`` as the backward LM (same initialisation).
        """
        if sharing not in SHARINGS:
            raise ValueError(f"sharing={sharing!r} is invalid; allowed: {', '.join(SHARINGS)}")
        if method not in METHODS:
            raise ValueError(f"method={method!r} is invalid; allowed: {', '.join(METHODS)}")
        if method != "mim" and sharing != "shared":
            raise ValueError(f"sharing={sharing!r} with method={method!r}; allowed: 'shared'")
        ids = prepare_tokenizer(tokenizer, model)
        pad = tokenizer.pad_token_id
        config = BidirConfig(
            sharing=sharing,
            forward_token_id=ids[DIRECTION_TOKENS["forward"]],
            backward_token_id=ids[DIRECTION_TOKENS["backward"]],
            fim_prefix_id=ids[FIM_TOKENS["prefix"]],
            fim_suffix_id=ids[FIM_TOKENS["suffix"]],
            fim_middle_id=ids[FIM_TOKENS["middle"]],
            fim_end_id=ids[FIM_TOKENS["end"]],
            pad_token_id=pad if pad is not None else ids[DIRECTION_TOKENS["forward"]],
            method=method,
        )
        backward = copy.deepcopy(model) if sharing == "separate" else None
        return cls(model, config, backward)

    def save_pretrained(self, directory: str | os.PathLike, **kwargs) -> None:
        """The forward (or shared) LM as a plain transformers folder in ``directory``, the
        backward LM (``separate``) in ``directory/backward``, and ``bidir_config.json``."""
        os.makedirs(directory, exist_ok=True)
        self.forward_model.save_pretrained(directory, **kwargs)
        if self.backward_model is not None:
            self.backward_model.save_pretrained(os.path.join(directory, BACKWARD_DIR), **kwargs)
        self.bidir_config.save_pretrained(directory)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, **kwargs) -> BidirectionalLM:
        config = BidirConfig.from_pretrained(directory)
        forward_model = AutoModelForCausalLM.from_pretrained(directory, **kwargs)
        backward = None
        if config.sharing == "separate":
            backward = AutoModelForCausalLM.from_pretrained(
                os.path.join(directory, BACKWARD_DIR), **kwargs
            )
        return cls(forward_model, config, backward)

    def load_checkpoint(self, directory: str | os.PathLike) -> None:
        """Load weights saved by :meth:`save_pretrained` into this instance (resume)."""
        loaded = type(self).from_pretrained(directory)
        self.load_state_dict(loaded.state_dict())
        self.bidir_config = loaded.bidir_config

    # --- running ----------------------------------------------------------------------------

    @property
    def config(self):
        return self.forward_model.config

    @property
    def context_size(self) -> int:
        cfg = self.forward_model.config
        for name in ("n_positions", "max_position_embeddings", "n_ctx"):
            value = getattr(cfg, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return 1 << 30

    def lm(self, direction: str) -> PreTrainedModel:
        """The transformers model that runs ``direction`` ('forward' or 'backward')."""
        if direction == "backward" and self.backward_model is not None:
            return self.backward_model
        return self.forward_model

    def direction_batch(
        self, input_ids: torch.Tensor, lengths: torch.Tensor, direction: str
    ) -> torch.Tensor:
        """``(B, T)`` right-padded docs → ``(B, T+1)`` rows ``[<dir>, doc or reversed doc]``."""
        from .losses import reverse_valid

        token = self.bidir_config.forward_token_id
        body = input_ids
        if direction == "backward":
            token = self.bidir_config.backward_token_id
            body = reverse_valid(input_ids, lengths)
        start = torch.full_like(input_ids[:, :1], token)
        return torch.cat([start, body], dim=1)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        objective: str = "mim",
        beta: float = 1.0,
        divergence: str = "tv",
        stop_gradient: str = "none",
    ) -> dict[str, torch.Tensor]:
        """Loss terms for right-padded ``input_ids`` ``(B, T)``.

        ``objective="mim"``: ``loss = CE_f + CE_b + β·mean D``; ``"l2r"``/``"fim"``: ``CE_f``
        (for ``fim`` the documents are already FIM-transformed). Also returns
        ``forward_logits`` ``(B, T, V)`` (position j predicts ``x_j``).
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        lengths = attention_mask.sum(1)
        ones = torch.ones_like(input_ids[:, :1])
        mask = torch.cat([ones, attention_mask], dim=1)
        fwd = self.direction_batch(input_ids, lengths, "forward")
        steps = input_ids.shape[1]
        if objective != "mim":
            logits = self.forward_model(input_ids=fwd, attention_mask=mask).logits[:, :steps]
            valid = attention_mask.bool()
            ce = masked_ce(logits, input_ids, valid)
            zero = ce.detach() * 0
            return {
                "loss": ce,
                "ce_forward": ce,
                "ce_backward": zero,
                "agreement": zero,
                "forward_logits": logits,
            }
        f_logits, b_logits = self.direction_logits(input_ids, attention_mask)
        terms = mim_terms(f_logits, b_logits, input_ids, lengths, beta, divergence, stop_gradient)
        terms["forward_logits"] = f_logits
        return terms

    def direction_logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both directions' logits ``(B, T, V)`` in their own layout: forward position ``j``
        predicts ``x_j``; backward position ``j`` predicts ``x_{L-1-j}`` (use
        :func:`~bidir_lm.losses.reverse_valid` to align it with the forward one)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        lengths = attention_mask.sum(1)
        mask = torch.cat([torch.ones_like(input_ids[:, :1]), attention_mask], dim=1)
        fwd = self.direction_batch(input_ids, lengths, "forward")
        bwd = self.direction_batch(input_ids, lengths, "backward")
        steps = input_ids.shape[1]
        if self.backward_model is None:  # one batch of 2B rows through the shared decoder
            both = self.forward_model(
                input_ids=torch.cat([fwd, bwd]), attention_mask=torch.cat([mask, mask])
            ).logits[:, :steps]
            return both.chunk(2)
        f_logits = self.forward_model(input_ids=fwd, attention_mask=mask).logits[:, :steps]
        b_logits = self.backward_model(input_ids=bwd, attention_mask=mask).logits[:, :steps]
        return f_logits, b_logits

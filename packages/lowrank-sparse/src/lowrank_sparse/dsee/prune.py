"""DSEE stage 2: prune the final weights (unstructured) or whole attention heads (structured).

Unstructured: a global magnitude threshold over the adapted layers' final weights
``W + delta`` (score selectable, as the official ``--prune_mode``), and a separate global pass
over other linear layers (official: ``key`` and every ``dense``). The mask applies to the
final weight, so merged weights are exactly sparse.

Structured: per layer, the heads with the smallest ``sum |delta_q| + |delta_v|`` over their
rows are removed physically (query/key/value rows and output-projection columns are sliced),
so the model really does fewer FLOPs. Works on BERT-style self-attention (BERT, RoBERTa,
ELECTRA, MiniLM): modules with ``query``/``key``/``value``, ``attention_head_size`` and an
output projection at ``<parent>.output.dense``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from lmlab_common import find_linear_modules, get_module, is_linear, require, require_choice
from torch import nn

from .config import HEAD_SCORES, PRUNE_SCORES
from .layer import DSEELinear, slice_linear
from .model import dsee_layers, dsee_state


@dataclass
class PruneReport:
    """What :func:`prune_dsee` did. MACs are dense multiply-adds per token of all linear
    layers (head removal lowers them; unstructured masks do not, without sparse kernels)."""

    adapted_sparsity: float
    other_sparsity: float
    heads_removed: dict[str, list[int]] = field(default_factory=dict)
    linear_macs_before: int = 0
    linear_macs_after: int = 0

    @property
    def macs_saved(self) -> float:
        return 1.0 - self.linear_macs_after / max(self.linear_macs_before, 1)


def linear_macs(model: nn.Module) -> int:
    """Dense multiply-adds per token over every linear layer (``d_out * d_in`` each)."""
    total = 0
    for module in model.modules():
        if is_linear(module):
            w = module.weight
            total += w.shape[0] * w.shape[1]
    return total


@torch.no_grad()
def _score(layer: DSEELinear, score: str) -> torch.Tensor:
    if score == "final":
        return (layer.weight + layer.delta_weight()).abs()
    if score == "delta":  # official "ABS": s * (B A + S2)
        return layer.delta_weight().abs()
    if score == "weight":
        return layer.weight.abs()
    # official "WABS": W + B A + s * S2 (the scale multiplies only the sparse term)
    return (layer.weight + layer.lora_B @ layer.lora_A + layer.scale * layer.sparse_dense()).abs()


def _global_keep(scores: list[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    """Boolean keep-masks removing the ``sparsity`` fraction of smallest scores overall."""
    flat = torch.cat([s.flatten().float() for s in scores])
    n_prune = int(round(sparsity * flat.numel()))
    keep = torch.ones_like(flat, dtype=torch.bool)
    if n_prune > 0:
        keep[torch.topk(flat, n_prune, largest=False).indices] = False
    out, start = [], 0
    for s in scores:
        out.append(keep[start : start + s.numel()].view_as(s))
        start += s.numel()
    return out


@torch.no_grad()
def prune_unstructured(
    model: nn.Module,
    sparsity: float,
    score: str = "final",
    other_modules: list[str] | tuple[str, ...] = ("key", "dense"),
    other_sparsity: float | None = None,
) -> tuple[float, float]:
    """Global magnitude pruning; returns the (adapted, other) fraction of zeroed weights.

    Adapted layers: ``sparsity`` of the entries with the smallest ``score`` over all DSEE
    layers get a mask on the final weight ("final" |W + delta|, "delta" |delta| = official
    ABS, "weight" |W|, "wabs_official"). Already-pruned entries stay pruned. Other linear layers
    matching ``other_modules`` (frozen): ``other_sparsity`` (default ``sparsity``) of the
    smallest |W| are zeroed in place and the masks kept in the model's DSEE state
    (``dsee_state(model).masks``).
    """
    require_range01("sparsity", sparsity)
    require_choice("score", score, PRUNE_SCORES)
    other_sparsity = sparsity if other_sparsity is None else other_sparsity
    require_range01("other_sparsity", other_sparsity)
    layers = dsee_layers(model)
    require(bool(layers), "model", type(model).__name__, "a model with DSEE adapters")
    scores = []
    for layer in layers.values():
        s = _score(layer, score)
        if layer.weight_mask is not None:  # keep earlier pruning: those go first
            s = torch.where(layer.weight_mask, s, torch.full_like(s, -1.0))
        scores.append(s)
    for layer, keep in zip(layers.values(), _global_keep(scores, sparsity), strict=True):
        old = layer.weight_mask
        layer.weight_mask = keep if old is None else keep & old
    adapted_zero = sum(int((~m.weight_mask).sum()) for m in layers.values())
    adapted_total = sum(m.weight.numel() for m in layers.values())
    other_zero = other_total = 0
    if other_modules and other_sparsity > 0:
        others = {
            n: m
            for n, m in find_linear_modules(model, list(other_modules)).items()
            if not n.endswith(".base_layer")
        }
        weights = [m.weight for m in others.values()]
        masks = dsee_state(model).masks
        scores = [
            torch.where(masks[n].view_as(w), w.abs(), torch.full_like(w, -1.0))
            if n in masks
            else w.abs()
            for n, w in zip(others, weights, strict=True)
        ]
        for name, w, keep in zip(
            others, weights, _global_keep(scores, other_sparsity), strict=True
        ):
            w.mul_(keep.to(w.dtype))
            masks[name] = keep if name not in masks else keep & masks[name]
            other_zero += int((~masks[name]).sum())
            other_total += w.numel()
    return adapted_zero / max(adapted_total, 1), other_zero / max(other_total, 1)


def require_range01(name: str, value: float) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1
    require(ok, name, value, "a number in [0, 1)")


def attention_modules(model: nn.Module) -> dict[str, nn.Module]:
    """BERT-style self-attention modules: ``{name: module}`` with query/key/value and heads."""
    found = {}
    for name, module in model.named_modules():
        if all(hasattr(module, a) for a in ("query", "key", "value", "attention_head_size")):
            found[name] = module
    return found


def _output_projection(model: nn.Module, name: str) -> tuple[str, nn.Module]:
    parent = name.rsplit(".", 1)[0] if "." in name else ""
    out_name = f"{parent}.output.dense" if parent else "output.dense"
    try:
        return out_name, get_module(model, out_name)
    except ValueError as err:
        raise ValueError(
            f"attention {name!r} has no output projection at {out_name!r}; allowed: BERT-style "
            "attention (BERT, RoBERTa, ELECTRA, MiniLM)"
        ) from err


@torch.no_grad()
def head_scores(model: nn.Module, score: str = "delta") -> dict[str, torch.Tensor]:
    """Per attention module, a (num_heads,) tensor: the sum over each head's rows of
    ``|delta_q| + |delta_v|`` ("delta", official ABS) or ``|W_q + delta_q| + |W_v + delta_v|``
    ("final")."""
    require_choice("score", score, HEAD_SCORES)
    out = {}
    for name, attn in attention_modules(model).items():
        q, v = attn.query, attn.value
        if not (isinstance(q, DSEELinear) and isinstance(v, DSEELinear)):
            raise ValueError(
                f"{name}.query/value={type(q).__name__}/{type(v).__name__} is invalid; allowed: "
                "DSEE layers on both (target_modules must include query and value)"
            )
        total = torch.zeros(q.shape[0], device=q.weight.device)
        for layer in (q, v):
            m = layer.delta_weight() if score == "delta" else layer.effective_weight()
            if layer.weight_mask is not None:
                m = m * layer.weight_mask
            total += m.abs().sum(dim=1).float()
        out[name] = total.view(-1, attn.attention_head_size).sum(dim=1)
    return out


@torch.no_grad()
def remove_heads(model: nn.Module, heads: dict[str, list[int]]) -> None:
    """Physically remove ``heads`` (current indices) from the named attention modules.

    Slices the query/key/value rows and the output projection's input columns (DSEE layers
    included: A/B, sparse support and masks follow). Records the removed heads as original
    indices in the model's DSEE state (``dsee_state(model).pruned_heads``).
    """
    attns = attention_modules(model)
    state = dsee_state(model)
    record = state.pruned_heads
    for name, drop in heads.items():
        require(name in attns, "heads", name, f"names of attention modules: {list(attns)[:4]}...")
        attn = attns[name]
        size = int(attn.attention_head_size)
        n_heads = int(attn.query.weight.shape[0]) // size
        drop = sorted({int(h) for h in drop})
        require(
            all(0 <= h < n_heads for h in drop) and len(drop) < n_heads,
            f"heads[{name!r}]",
            drop,
            f"distinct head indices in [0, {n_heads}) leaving at least one head",
        )
        if not drop:
            continue
        keep_heads = [h for h in range(n_heads) if h not in drop]
        device = attn.query.weight.device
        index = torch.cat([torch.arange(h * size, (h + 1) * size) for h in keep_heads]).to(device)
        for proj in ("query", "key", "value"):
            setattr(attn, proj, slice_linear(getattr(attn, proj), index, 0))
        out_name, out = _output_projection(model, name)
        new_out = slice_linear(out, index, 1)
        if new_out is not out:
            parent, _, child = out_name.rpartition(".")
            setattr(get_module(model, parent), child, new_out)
        masks = state.masks  # earlier in-place pruning follows the slice
        for key, dim in [(f"{name}.{p}", 0) for p in ("query", "key", "value")] + [(out_name, 1)]:
            if key in masks:
                masks[key] = masks[key].index_select(dim, index.to(masks[key].device)).clone()
        attn.num_attention_heads = len(keep_heads)
        attn.all_head_size = len(keep_heads) * size
        removed = record.get(name, [])
        original = [h for h in range(n_heads + len(removed)) if h not in removed]
        record[name] = sorted(removed + [original[h] for h in drop])


def prune_heads(model: nn.Module, heads_per_layer: int, score: str = "delta") -> dict:
    """Remove the ``heads_per_layer`` lowest-scoring heads of every attention module
    (official default: 3 of 12); returns ``{module: removed current indices}``."""
    scores = head_scores(model, score)
    require(
        isinstance(heads_per_layer, int) and heads_per_layer >= 0,
        "heads_per_layer",
        heads_per_layer,
        "an int >= 0",
    )
    plan = {}
    for name, s in scores.items():
        require(
            heads_per_layer < s.numel(),
            "heads_per_layer",
            heads_per_layer,
            f"fewer than the {s.numel()} heads of {name}",
        )
        plan[name] = sorted(torch.argsort(s)[:heads_per_layer].tolist())
    remove_heads(model, plan)
    return plan


def prune_dsee(
    model: nn.Module,
    sparsity: float = 0.0,
    heads_per_layer: int = 0,
    *,
    score: str = "final",
    head_score: str = "delta",
    other_modules: list[str] | tuple[str, ...] = ("key", "dense"),
    other_sparsity: float | None = None,
) -> PruneReport:
    """DSEE stage 2 on an adapted (normally trained) model: head removal first (its score
    reads the update), then unstructured pruning. Fine-tune afterwards as the paper does."""
    before = linear_macs(model)
    removed = prune_heads(model, heads_per_layer, head_score) if heads_per_layer else {}
    adapted = other = 0.0
    if sparsity > 0 or (other_sparsity or 0) > 0:
        adapted, other = prune_unstructured(model, sparsity, score, other_modules, other_sparsity)
    return PruneReport(adapted, other, removed, before, linear_macs(model))

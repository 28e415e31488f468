import pytest
import torch
from lowrank_sparse import (
    LoSparsePruner,
    apply_losparse,
    budget_config,
    cubic_schedule,
    losparse_config,
)


def test_cubic_schedule_phases():
    kw = dict(
        total_steps=100,
        warmup_steps=10,
        initial_warmup=1,
        final_warmup=2,
        initial_ratio=1.0,
        final_ratio=0.1,
        delta_t=5,
    )
    assert cubic_schedule(10, **kw) == (1.0, False)
    assert cubic_schedule(81, **kw) == (0.1, True)
    assert cubic_schedule(83, **kw) == (0.1, True)  # every step in the final phase
    ratio, mask = cubic_schedule(45, **kw)
    assert ratio == pytest.approx(0.1 + 0.9 * (1 - 35 / 70) ** 3) and mask
    assert cubic_schedule(46, **kw)[1] is False
    ratios = [cubic_schedule(t, **kw)[0] for t in range(1, 101)]
    assert all(a >= b for a, b in zip(ratios, ratios[1:], strict=False))


def _train(h, model, pruner, steps, seed=0):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    inputs = h.model_inputs(model, seed=seed)
    for _ in range(steps):
        model(**inputs).logits.pow(2).mean().backward()
        opt.step()
        pruner.step()
        opt.zero_grad()


def test_pruner_reaches_final_budget_and_changes_only_s_masks(h):
    model = h.make_model("bert")
    apply_losparse(
        model, budget_config(0.3, warmup_steps=2, initial_warmup=1, final_warmup=1, delta_t=2)
    )
    pruner = LoSparsePruner(model, total_steps=10)
    _train(h, model, pruner, 10)
    kept = sum(int(m.keep_mask.sum()) * m.unit_size for m in pruner.layers.values())
    total = sum(m.num_units * m.unit_size for m in pruner.layers.values())
    final = losparse_config(model).final_sparse_ratio
    assert kept <= final * total and kept > final * total - 64
    for m in pruner.layers.values():
        assert torch.all(m.sparse[~m.keep_mask] == 0)
    # global threshold: kept rows differ between layers
    assert len({int(m.keep_mask.sum()) for m in pruner.layers.values()}) > 1


def test_sensitivity_vs_magnitude_scores_differ_and_need_gradients(h):
    model = h.make_model("bert")
    apply_losparse(model, budget_config(0.3, warmup_steps=1, delta_t=1))
    pruner = LoSparsePruner(model, total_steps=10)
    with pytest.raises(RuntimeError, match="no gradient"):
        pruner.step()
    mag = LoSparsePruner(model, losparse_config(model).replace(importance="magnitude"), 10)
    scores = mag.scores()
    name, layer = next(iter(mag.layers.items()))
    torch.testing.assert_close(scores[name], layer.sparse.abs().mean(1))


def test_same_seed_same_masks(h):
    masks = []
    for _ in range(2):
        torch.manual_seed(0)
        model = h.make_model("bert")
        apply_losparse(
            model, budget_config(0.3, warmup_steps=2, initial_warmup=1, final_warmup=1, delta_t=2)
        )
        pruner = LoSparsePruner(model, total_steps=8)
        _train(h, model, pruner, 8)
        masks.append(torch.cat([m.keep_mask for m in pruner.layers.values()]))
    assert torch.equal(masks[0], masks[1])


def test_bad_total_steps(h):
    model = apply_losparse(h.make_model("bert"), budget_config(0.3))  # W_u = 6400 by default
    with pytest.raises(ValueError, match="total_steps"):
        LoSparsePruner(model, total_steps=100)


def test_trainer_callback_prunes_at_final_ratio(h, tmp_path):
    from transformers import Trainer, TrainingArguments

    model = h.make_model("bert")
    apply_losparse(
        model, budget_config(0.3, warmup_steps=2, initial_warmup=1, final_warmup=1, delta_t=2)
    )
    g = torch.Generator().manual_seed(0)
    data = [
        {"input_ids": torch.randint(5, 100, (8,), generator=g), "labels": i % 2} for i in range(32)
    ]
    steps = 8
    pruner = LoSparsePruner(model, total_steps=steps)
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=steps,
        per_device_train_batch_size=4,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        learning_rate=1e-3,
    )
    Trainer(model=model, args=args, train_dataset=data, callbacks=[pruner]).train()
    assert pruner.global_step == steps
    kept = sum(int(m.keep_mask.sum()) * m.unit_size for m in pruner.layers.values())
    total = sum(m.num_units * m.unit_size for m in pruner.layers.values())
    assert 0 < kept <= losparse_config(model).final_sparse_ratio * total

"""Trainer checkpoints load with the package's loaders, and a resumed pruning run continues the
same schedule (issue 12, items 5-8: checkpoints, misconfiguration, dtype, scatter kernel)."""

import pytest
import torch
from lowrank_sparse import (
    CheckpointCallback,
    DSEEConfig,
    LoSparseConfig,
    LoSparsePruner,
    apply_dsee,
    apply_losparse,
    budget_config,
    compact,
    compression_report,
    load_dsee,
    load_losparse,
    losparse_layers,
    save_losparse,
)
from transformers import Trainer, TrainerCallback, TrainingArguments

STEPS = 8
SCHEDULE = dict(warmup_steps=1, initial_warmup=1, final_warmup=2, delta_t=1)


def _data(n=32):
    g = torch.Generator().manual_seed(0)
    return [
        {"input_ids": torch.randint(5, 100, (8,), generator=g), "labels": i % 2} for i in range(n)
    ]


def _args(out, **kw):
    base = dict(
        output_dir=str(out),
        max_steps=STEPS,
        per_device_train_batch_size=4,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        learning_rate=1e-3,
        seed=0,
        disable_tqdm=True,
    )
    base.update(kw)
    return TrainingArguments(**base)


class StopAt(TrainerCallback):
    """Simulates a killed run: stop after ``step`` optimizer steps."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True
        return control


def _pruned_model(h):
    model = h.make_model("bert")
    return apply_losparse(model, budget_config(0.3, **SCHEDULE))


def _masks(model):
    return torch.cat([m.keep_mask for m in losparse_layers(model).values()])


def test_resumed_pruning_run_ends_with_the_same_masks(h, tmp_path):
    torch.manual_seed(0)
    straight = _pruned_model(h)
    pruner = LoSparsePruner(straight)  # total_steps taken from the Trainer
    Trainer(model=straight, args=_args(tmp_path / "a"), train_dataset=_data(),
            callbacks=[pruner]).train()  # fmt: skip
    assert pruner.total_steps == STEPS and pruner.global_step == STEPS

    torch.manual_seed(0)
    first = _pruned_model(h)
    args = _args(tmp_path / "b", save_strategy="steps", save_steps=4)
    Trainer(model=first, args=args, train_dataset=_data(),
            callbacks=[LoSparsePruner(first), StopAt(4)]).train()  # fmt: skip
    checkpoint = tmp_path / "b" / "checkpoint-4"
    assert (checkpoint / "losparse_pruner.safetensors").is_file()

    # the checkpoint folder loads as it is, onto the saved architecture, same outputs
    loaded = load_losparse(None, checkpoint)
    inputs = h.model_inputs(first)
    torch.testing.assert_close(h.logits(loaded, inputs), h.logits(first.eval(), inputs))

    resumed = _pruned_model(h)
    pruner2 = LoSparsePruner(resumed)
    Trainer(model=resumed, args=args, train_dataset=_data(),
            callbacks=[pruner2]).train(resume_from_checkpoint=str(checkpoint))  # fmt: skip
    assert pruner2.global_step == STEPS
    for name in pruner.exp_avg:
        torch.testing.assert_close(pruner2.exp_avg[name], pruner.exp_avg[name])
    assert torch.equal(_masks(resumed), _masks(straight))
    assert compression_report(resumed).ratio == pytest.approx(0.3, abs=0.02)


def test_pruner_longer_than_the_trainer_run_is_refused(h, tmp_path):
    model = _pruned_model(h)
    trainer = Trainer(model=model, args=_args(tmp_path), train_dataset=_data(),
                      callbacks=[LoSparsePruner(model, total_steps=100)])  # fmt: skip
    with pytest.raises(ValueError, match=r"total_steps=100 is invalid.*max_steps=8.*0\.\d+ of S"):
        trainer.train()


def test_dsee_checkpoint_folder_loads(tmp_path):
    from lmlab_common import tiny_encoder

    def base():
        return tiny_encoder("bert", head="sequence_classification", num_heads=4, seed=0)

    model = apply_dsee(base(), DSEEConfig(r=2, num_sparse=4, sparse_method="magnitude"))
    args = _args(tmp_path, max_steps=2, save_strategy="steps", save_steps=2)
    Trainer(model=model, args=args, train_dataset=_data(8),
            callbacks=[CheckpointCallback(model)]).train()  # fmt: skip
    loaded = load_dsee(base(), tmp_path / "checkpoint-2").eval()
    x = torch.randint(5, 100, (2, 8), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(loaded(input_ids=x).logits, model.eval()(input_ids=x).logits)


def test_checkpoint_without_package_files_names_the_callback(h, tmp_path):
    model = h.make_model("bert")
    model.save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="CheckpointCallback"):
        load_losparse(None, tmp_path)


def test_compact_before_pruning_warns_with_the_numbers(h):
    model = apply_losparse(h.make_model("bert"), budget_config(0.3))
    with pytest.warns(UserWarning, match=r"keep [\d,]+ of [\d,]+ dense parameters \(10\d%\)"):
        compact(model)


def test_rank_that_ends_above_dense_is_refused(h):
    # tiny BERT (64 wide, FFN 128): L, R of rank 40 alone hold 0.94x the dense parameters, so
    # with 10% of S kept the model would end above its dense size
    with pytest.raises(ValueError, match=r"rank=40 is invalid.*0\.94x.*ratio 1\.04 > 1"):
        apply_losparse(h.make_model("bert"), LoSparseConfig(rank=40))


def test_bf16_model_reloads_in_bf16(h, tmp_path):
    model = h.make_model("bert").to(torch.bfloat16)
    apply_losparse(model, budget_config(0.4, importance="magnitude", **SCHEDULE))
    LoSparsePruner(model, total_steps=5).finalize()
    compact(model)
    save_losparse(model, tmp_path)
    reloaded = load_losparse(None, tmp_path)
    assert {p.dtype for p in reloaded.parameters()} == {torch.bfloat16}
    inputs = h.model_inputs(model)
    assert torch.equal(h.logits(reloaded, inputs), h.logits(model, inputs))


@pytest.mark.parametrize("shape", [(2, 5), (1, 1)])
def test_scatter_kernel_matches_fused(h, shape):
    config = budget_config(0.3, importance="magnitude", **SCHEDULE)
    model = apply_losparse(h.make_model("bert"), config)
    LoSparsePruner(model, total_steps=5).finalize()
    inputs = h.model_inputs(model, batch=shape[0], length=shape[1])
    fused = h.logits(compact(model), inputs)
    scatter = h.logits(compact(model, kernel="scatter"), inputs)
    assert all(m.kernel == "scatter" for m in losparse_layers(model).values())
    torch.testing.assert_close(scatter, fused, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="kernel"):
        compact(model, kernel="sparse")


def test_resume_from_a_folder_the_callback_cannot_see_warns_how_to_fix(h, tmp_path):
    model = _pruned_model(h)
    args = _args(tmp_path / "a", save_strategy="steps", save_steps=4)
    Trainer(model=model, args=args, train_dataset=_data(),
            callbacks=[LoSparsePruner(model), StopAt(4)]).train()  # fmt: skip
    resumed = _pruned_model(h)
    trainer = Trainer(model=resumed, args=_args(tmp_path / "b"), train_dataset=_data(),
                      callbacks=[LoSparsePruner(resumed)])  # fmt: skip
    with pytest.warns(UserWarning, match=r"restart from zero.*resume_from_checkpoint=<that"):
        trainer.train(resume_from_checkpoint=str(tmp_path / "a" / "checkpoint-4"))

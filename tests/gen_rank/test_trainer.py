import pytest
import torch
from datasets import Dataset
from gen_rank import JGRConfig, JGRTrainer, chain_metric, load_pair
from lmlab_common import train_tokenizer
from lmlab_common.testing import parameters_digest
from transformers import TrainerCallback


def _args(tmp_path, **kw):
    base = dict(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        max_new_tokens=12,
        generator_num_cand_generated=3,
        num_cand_generated=4,
        num_cand_picked=3,
        learning_rate=1e-3,
        ranker_learning_rate=1e-3,
        disable_tqdm=True,
        seed=0,
    )
    base.update(kw)
    return JGRConfig(**base)


def _trainer(tmp_path, task, tok, gen, ranker, **kw):
    return JGRTrainer(
        gen,
        ranker,
        _args(tmp_path, **kw),
        tok,
        metric=chain_metric,
        train_dataset=task.dataset(8),
    )


@pytest.mark.parametrize("family", ["gpt2", "bart"])
def test_alternating_steps_touch_one_model_each(
    tmp_path, task, tok, family, make_generator, make_ranker
):
    """Step 0 (ranker phase) changes only the ranker; step 1 only the generator."""
    digests = []

    class Record(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kw):
            digests.append((parameters_digest(model.generator), parameters_digest(model.ranker)))

    kw = dict(iteration_steps=2, iteration_ranker_steps=1, max_steps=2)
    t = _trainer(tmp_path, task, tok, make_generator(family), make_ranker(), **kw)
    t.add_callback(Record())
    g0, r0 = parameters_digest(t.generator), parameters_digest(t.ranker)
    t.train()
    (g1, r1), (g2, r2) = digests
    assert g1 == g0 and r1 != r0  # ranker step
    assert g2 != g1 and r2 == r1  # generator step


def test_generator_only_schedule_keeps_ranker(tmp_path, task, tok, make_generator, make_ranker):
    t = _trainer(
        tmp_path,
        task,
        tok,
        make_generator(),
        make_ranker(),
        max_steps=2,
        iteration_steps=2,
        iteration_ranker_steps=0,
    )
    r0 = parameters_digest(t.ranker)
    t.train()
    assert parameters_digest(t.ranker) == r0


def test_save_model_round_trips(tmp_path, task, tok, make_generator, make_ranker):
    t = _trainer(
        tmp_path,
        task,
        tok,
        make_generator(),
        make_ranker(),
        max_steps=1,
        iteration_steps=1,
        iteration_ranker_steps=1,
    )
    t.train()
    t.save_model(str(tmp_path / "pair"))
    g, r, gtok, rtok = load_pair(tmp_path / "pair")
    assert parameters_digest(g) == parameters_digest(t.generator)
    assert parameters_digest(r) == parameters_digest(t.ranker)
    assert gtok("3 + 4")["input_ids"] == tok("3 + 4")["input_ids"]
    with pytest.raises(FileNotFoundError, match="generator"):
        load_pair(tmp_path / "nope")


def test_bad_inputs(tmp_path, task, tok, make_generator, make_ranker):
    other = train_tokenizer(["hello world"], kind="wordlevel", vocab_size=20, wrap="cls_sep")
    with pytest.raises(ValueError, match="round-trip"):
        JGRTrainer(make_generator(), make_ranker(), _args(tmp_path), tok, ranker_tokenizer=other,
                   metric=chain_metric, train_dataset=task.dataset(4))  # fmt: skip
    rows = task.rows(4)
    rows[1]["reference"] = ""
    with pytest.raises(ValueError, match="reference"):
        JGRTrainer(make_generator(), make_ranker(), _args(tmp_path), tok, metric=chain_metric,
                   train_dataset=Dataset.from_list(rows))  # fmt: skip
    with pytest.raises(ValueError, match="JGRConfig"):
        JGRTrainer(make_generator(), make_ranker(), object(), tok)
    nan_metric = lambda c, r: [float("nan")] * len(c)  # noqa: E731
    t = JGRTrainer(make_generator(), make_ranker(), _args(tmp_path, max_steps=1), tok,
                   metric=nan_metric, train_dataset=task.dataset(4))  # fmt: skip
    with pytest.raises(ValueError, match="non-finite"):
        t.train()


def test_pregenerated_candidates_warmup(tmp_path, task, tok, make_generator, make_ranker):
    rows = task.rows(8)
    for r in rows:
        r["candidates"] = [r["reference"], "S answer 1", r["target"], "A 1 + 1 = 5"]
        r["candidate_scores"] = chain_metric(r["candidates"], [r["reference"]] * 4)
    t = JGRTrainer(make_generator(), make_ranker(), _args(tmp_path, max_steps=2,
                   iteration_steps=1, iteration_ranker_steps=1, candidate_pick_strategy="all",
                   ranker_loss_type="listwise"), tok, metric=chain_metric,
                   train_dataset=Dataset.from_list(rows))  # fmt: skip
    g0 = parameters_digest(t.generator)
    t.train()
    assert parameters_digest(t.generator) == g0
    assert torch.isfinite(torch.tensor(t.state.log_history[-1]["train_loss"]))


def test_ranker_step_check_loss_trains_the_step_head(tmp_path, task, tok, make_generator):
    from gen_rank import Ranker
    from gen_rank.synthetic import chain_step_labels
    from lmlab_common import tiny_encoder

    enc = tiny_encoder("bert", vocab_size=len(tok), hidden_size=16, num_layers=2, num_heads=2,
                       seed=0)  # fmt: skip
    ranker = Ranker(enc, step_head=True, step_layer=1)
    args = _args(tmp_path, iteration_steps=1, iteration_ranker_steps=1, max_steps=2,
                 ranker_step_loss_weight=1.0, logging_steps=1)  # fmt: skip
    with pytest.raises(ValueError, match="ranker_step_loss_weight"):
        JGRTrainer(make_generator(), ranker, args, tok, metric=chain_metric,
                   train_dataset=task.dataset(8))  # fmt: skip
    before = ranker.step_head.weight.detach().clone()
    t = JGRTrainer(make_generator(), ranker, args, tok, metric=chain_metric,
                   step_labeler=chain_step_labels, train_dataset=task.dataset(8))  # fmt: skip
    t.train()
    assert not torch.equal(before, ranker.step_head.weight)
    assert any("ranker_step_loss" in h for h in t.state.log_history)

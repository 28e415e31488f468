import pytest
import torch
from bidir_lm import BidirConfig, BidirectionalLM, MIMConfig, MIMTrainer, PadCollator, toy_tokenizer
from bidir_lm.model import prepare_tokenizer
from datasets import Dataset
from lmlab_common.testing import parameters_digest

from .conftest import TASK, make_model


@pytest.mark.parametrize("sharing", ["shared", "separate"])
def test_save_load_round_trip(tokenizer, batch, tmp_path, sharing):
    model = make_model(tokenizer, sharing=sharing).eval()
    model.save_pretrained(tmp_path)
    loaded = BidirectionalLM.from_pretrained(tmp_path).eval()
    assert loaded.bidir_config == model.bidir_config
    assert parameters_digest(loaded) == parameters_digest(model)
    with torch.no_grad():
        a, b = model(*batch), loaded(*batch)
    assert torch.equal(a["loss"], b["loss"])
    # the forward (or shared) model is a plain transformers folder
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert parameters_digest(plain) == parameters_digest(model.forward_model)


def test_tokens_added_and_embeddings_resized(tokenizer):
    before = len(tokenizer)
    model = make_model(tokenizer)
    assert len(tokenizer) == before + 6
    assert model.forward_model.get_input_embeddings().num_embeddings >= len(tokenizer)
    cfg = model.bidir_config
    assert cfg.forward_token_id != cfg.backward_token_id
    assert tokenizer.convert_ids_to_tokens(cfg.backward_token_id) == "<r2l>"
    again = prepare_tokenizer(tokenizer)  # idempotent
    assert len(tokenizer) == before + 6 and again["<l2r>"] == cfg.forward_token_id


def test_model_that_cannot_resize_is_a_clear_error(tokenizer):
    lm = make_model(tokenizer).forward_model
    tok = toy_tokenizer(TASK)
    lm.resize_token_embeddings(len(tok))

    def refuse(*_a, **_k):
        raise NotImplementedError("no resizing here")

    lm.resize_token_embeddings = refuse
    with pytest.raises(ValueError, match="room for .* cannot resize"):
        BidirectionalLM.from_causal_lm(lm, tok)


def test_config_validation(tmp_path):
    with pytest.raises(ValueError, match="beta=-0.5 is invalid"):
        MIMConfig(output_dir=str(tmp_path), beta=-0.5)
    with pytest.raises(ValueError, match="divergence='js'"):
        MIMConfig(output_dir=str(tmp_path), divergence="js")
    with pytest.raises(ValueError, match="stop_gradient='both'"):
        MIMConfig(output_dir=str(tmp_path), stop_gradient="both")
    with pytest.raises(ValueError, match="method='bert'"):
        MIMConfig(output_dir=str(tmp_path), method="bert")
    cfg = BidirConfig(
        forward_token_id=5,
        backward_token_id=6,
        fim_prefix_id=7,
        fim_suffix_id=8,
        fim_middle_id=9,
        fim_end_id=10,
    )
    assert BidirConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="sharing='tied'"):
        cfg.replace(sharing="tied")


def _trainer(model, tokenizer, tmp_path, method="mim", steps=2, **kw):
    docs = [tokenizer.convert_tokens_to_ids(p.words) for p in TASK.programs(16, seed=0)]
    args = MIMConfig(
        output_dir=str(tmp_path),
        method=method,
        max_steps=steps,
        per_device_train_batch_size=8,
        learning_rate=1e-2,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        logging_steps=1,
        disable_tqdm=True,
        **kw,
    )
    data = Dataset.from_dict({"input_ids": docs})
    return MIMTrainer(model, args, train_dataset=data, data_collator=PadCollator(0))


def test_training_logs_terms_and_changes_both_directions(tokenizer, tmp_path):
    model = make_model(tokenizer, sharing="separate")
    f0, b0 = parameters_digest(model.forward_model), parameters_digest(model.backward_model)
    trainer = _trainer(model, tokenizer, tmp_path, beta=1.0)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h]
    assert logs and {"ce_forward", "ce_backward", "agreement"} <= set(logs[0])
    assert logs[0]["agreement"] > 0
    assert parameters_digest(model.forward_model) != f0
    assert parameters_digest(model.backward_model) != b0


def test_l2r_trains_forward_only_and_rejects_a_separate_backward(tokenizer, tmp_path):
    model = make_model(tokenizer, method="l2r")
    trainer = _trainer(model, tokenizer, tmp_path, method="l2r", steps=1)
    trainer.train()
    log = [h for h in trainer.state.log_history if "loss" in h][0]
    assert log["ce_backward"] == 0 and log["agreement"] == 0
    with pytest.raises(ValueError, match="forward direction only"):
        _trainer(make_model(tokenizer, sharing="separate"), tokenizer, tmp_path, method="fim")

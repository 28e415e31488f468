import json
import os

import pytest
import torch
from rtd_pretrain import RTDModel, RTDTrainer, build_rtd_model
from rtd_pretrain.experiment import discriminator_config, training_args


def tiny_config(backend, tokenizer, hidden=16, layers=2):
    return discriminator_config(backend, len(tokenizer), hidden_size=hidden, num_layers=layers)


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_gdes_step_trains_delta_and_keeps_rtd_out_of_generator(tmp_path, tokenizer, rows):
    args = training_args(str(tmp_path), "gdes", steps=2, seed=0, batch_size=8,
                         learning_rate=1e-2, logging_steps=1)  # fmt: skip
    model = build_rtd_model(tiny_config("deberta", tokenizer), args, seed=0)
    before = snapshot(model)
    trainer = RTDTrainer(model, args, train_dataset=rows, processing_class=tokenizer)
    trainer.train()
    after = model.state_dict()
    moved = {k for k, v in before.items() if not torch.equal(v, after[k])}
    assert "discriminator.deberta.embeddings.word_embeddings.delta" in moved
    assert "generator.deberta.embeddings.word_embeddings.weight" in moved  # by the MLM loss
    assert any(k.startswith("discriminator.rtd_head.") for k in moved)
    logged = trainer.state.log_history[0]
    for key in ("mlm_loss", "rtd_loss", "rtd_accuracy", "rtd_auc", "replaced_fraction"):
        assert key in logged, logged
    assert 0.0 < logged["replaced_fraction"] < 0.2


def test_trainer_rejects_mismatched_mode_and_plain_args(tmp_path, tokenizer, rows):
    args = training_args(str(tmp_path), "gdes", steps=1, seed=0)
    model = RTDModel.from_discriminator_config(tiny_config("deberta", tokenizer), sharing="es")
    with pytest.raises(ValueError, match="embedding_sharing"):
        RTDTrainer(model, args, train_dataset=rows, processing_class=tokenizer)
    from transformers import TrainingArguments

    with pytest.raises(ValueError, match="RTDConfig"):
        RTDTrainer(model, TrainingArguments(output_dir=str(tmp_path)), train_dataset=rows)


def test_discriminator_alone_gets_a_generator(tmp_path, tokenizer, rows):
    from rtd_pretrain import build_discriminator

    args = training_args(str(tmp_path), "es", steps=1, seed=0, batch_size=8)
    disc = build_discriminator(tiny_config("electra", tokenizer, layers=2))
    trainer = RTDTrainer(disc, args, train_dataset=rows, processing_class=tokenizer)
    assert trainer.rtd_model.generator.config.num_hidden_layers == 1
    trainer.train()


def test_checkpoint_resume_continues_the_same_run_with_delta(tmp_path, tokenizer, rows):
    cfg = tiny_config("deberta", tokenizer)

    def run(out, steps, resume=None, save_steps=None):
        save = {"save_strategy": "steps", "save_steps": save_steps} if save_steps else {}
        args = training_args(str(out), "gdes", steps=steps, seed=0, batch_size=8,
                             learning_rate=1e-2, logging_steps=1, **save)  # fmt: skip
        model = build_rtd_model(cfg, args, seed=0)
        trainer = RTDTrainer(model, args, train_dataset=rows, processing_class=tokenizer)
        trainer.train(resume_from_checkpoint=resume)
        return model

    full = run(tmp_path / "full", 4)
    run(tmp_path / "part", 4, save_steps=2)
    ckpt = tmp_path / "part" / "checkpoint-2"
    assert (ckpt / "rtd_model.safetensors").exists() and (ckpt / "optimizer.pt").exists()
    assert json.loads((ckpt / "rtd_config.json").read_text())["sharing"] == "gdes"
    saved = RTDModel.from_pretrained(ckpt)
    assert torch.count_nonzero(saved.gdes_deltas()["word_embeddings"]) > 0
    resumed = run(tmp_path / "resumed", 4, resume=str(ckpt))
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name
    assert os.path.isdir(tmp_path / "part" / "checkpoint-4")

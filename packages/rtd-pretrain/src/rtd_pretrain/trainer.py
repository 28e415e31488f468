"""``RTDTrainer``: a ``transformers.Trainer`` for RTD pre-training of an :class:`RTDModel`.

Checkpointing, resume (E_delta included: it is a parameter of the model), logging, mixed
precision and torchrun / accelerate multi-process training are the Trainer's. One optimiser
covers generator, discriminator and E_delta with the joint loss L_MLM + λ·L_RTD.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

import torch
from transformers import PretrainedConfig, PreTrainedModel, Trainer

from .config import RTDConfig
from .data import RTDCollator
from .metrics import rtd_metrics
from .model import RTDModel, build_discriminator, build_generator, generator_config_from


def build_rtd_model(
    discriminator_config: PretrainedConfig, args: RTDConfig, seed: int | None = None
) -> RTDModel:
    """Generator (explicit ``args.generator_config`` or depth ratio) + discriminator."""
    from transformers import AutoConfig

    if args.generator_config:
        gen_config = AutoConfig.from_pretrained(args.generator_config)
    else:
        gen_config = generator_config_from(discriminator_config, args.generator_depth_ratio)
    fork = torch.random.fork_rng()
    with fork:
        if seed is not None:
            torch.manual_seed(seed)
        generator = build_generator(gen_config)
        discriminator = build_discriminator(discriminator_config)
    return RTDModel(
        generator,
        discriminator,
        args.embedding_sharing,
        rtd_lambda=args.rtd_lambda,
        temperature=args.temperature,
    )


class RTDTrainer(Trainer):
    """Trains an :class:`RTDModel`; logs ``mlm_loss``, ``rtd_loss``, ``rtd_accuracy``,
    ``rtd_auc`` and ``replaced_fraction`` (means over the logging window) next to ``loss``.

    ``model`` may also be a discriminator ``PreTrainedModel``: the generator is then built from
    its config per ``args``. Without ``data_collator`` an :class:`RTDCollator` is made from
    ``processing_class`` (the tokenizer); masking (``args.mask_prob`` / ``args.masking_style``)
    then happens inside the model's forward.
    """

    def __init__(self, model: RTDModel | PreTrainedModel, args: RTDConfig, **kwargs) -> None:
        if not isinstance(args, RTDConfig):
            raise ValueError(f"args={type(args).__name__} is invalid; allowed: an RTDConfig")
        if isinstance(model, PreTrainedModel):
            model = _wrap_discriminator(model, args)
        if not isinstance(model, RTDModel):
            raise ValueError(f"model={type(model).__name__} is invalid; allowed: an RTDModel "
                             "or a DeBERTa-v2 / ELECTRA discriminator")  # fmt: skip
        if model.sharing != args.embedding_sharing:
            raise ValueError(
                f"model sharing={model.sharing!r} != args.embedding_sharing="
                f"{args.embedding_sharing!r}; build the model with the same mode"
            )
        model.rtd_lambda, model.temperature = args.rtd_lambda, args.temperature
        model.mask_prob, model.masking_style = args.mask_prob, args.masking_style
        tokenizer = kwargs.get("processing_class")
        if tokenizer is not None:
            model.mask_token_id = tokenizer.mask_token_id
        if kwargs.get("data_collator") is None:
            if tokenizer is None:
                raise ValueError("pass data_collator= or processing_class= (a tokenizer with a "
                                 "mask token) so batches can be masked")  # fmt: skip
            # pad only; the model masks in forward, so resume replays the same randomness
            kwargs["data_collator"] = RTDCollator(
                tokenizer, args.mask_prob, args.masking_style, mask=False
            )
        super().__init__(model=model, args=args, **kwargs)
        self._terms: dict[str, list[float]] = defaultdict(list)

    @property
    def rtd_model(self) -> RTDModel:
        return self.accelerator.unwrap_model(self.model)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = model(**inputs)
        if model.training:
            self._terms["mlm_loss"].append(float(out.mlm_loss.detach()))
            self._terms["rtd_loss"].append(float(out.rtd_loss.detach()))
            for name, value in rtd_metrics(
                out.rtd_logits, out.rtd_labels, inputs.get("attention_mask")
            ).items():
                if value == value:  # skip NaN (AUC of a batch with one class)
                    self._terms[name].append(value)
        if return_outputs:
            return out.loss, {"loss": out.loss, "logits": out.rtd_logits}
        return out.loss

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs:
            for name, values in self._terms.items():
                if values:
                    logs[name] = round(sum(values) / len(values), 6)
            self._terms.clear()
        super().log(logs, *args, **kwargs)

    # -- checkpoints: the whole RTDModel (generator, discriminator, E_delta, settings) --------

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        self.rtd_model.save_pretrained(output_dir)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        with open(os.path.join(output_dir, "rtd_args.json"), "w", encoding="utf-8") as fh:
            json.dump(self.args.rtd_fields(), fh, indent=2)
        torch.save(self.args, os.path.join(output_dir, "training_args.bin"))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        (model or self.rtd_model).load_weights(resume_from_checkpoint)

    def _load_best_model(self) -> None:
        ckpt = self.state.best_model_checkpoint
        if ckpt:
            self.rtd_model.load_weights(ckpt)


def _wrap_discriminator(discriminator: PreTrainedModel, args: RTDConfig) -> RTDModel:
    from transformers import AutoConfig

    if args.generator_config:
        gen_config = AutoConfig.from_pretrained(args.generator_config)
    else:
        gen_config = generator_config_from(discriminator.config, args.generator_depth_ratio)
    return RTDModel(
        build_generator(gen_config),
        discriminator,
        args.embedding_sharing,
        rtd_lambda=args.rtd_lambda,
        temperature=args.temperature,
    )

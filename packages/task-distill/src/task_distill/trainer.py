"""Stage I (``FilterTrainer``), stage II (``TEDTrainer``) and the KD / LWD baselines.

All are ``transformers.Trainer`` subclasses: checkpointing, resume, logging, mixed precision
and torchrun / accelerate multi-process training work unchanged. The model the Trainer sees is
a :class:`FilteredModel` (backbone + its filters or projections), so one optimiser covers both
and a checkpoint holds both.
"""

from __future__ import annotations

import copy
import os
from collections import defaultdict

import torch
from torch import nn
from transformers import PreTrainedModel, Trainer, TrainingArguments

from .config import TEDConfig
from .filters import TaskAwareFilters, infer_task
from .losses import causal_lm_mask, ted_loss
from .mapping import LayerPairs, hidden_size, num_layers, resolve_layer_pairs
from .model import FilteredModel, run_model


def _check_dataset(name: str, dataset) -> None:
    if dataset is None:
        return
    try:
        size = len(dataset)
    except TypeError:
        return  # an iterable dataset: its length is unknown
    if size == 0:
        raise ValueError(f"{name} is empty (0 rows); allowed: a dataset with at least one row")


class _Base(Trainer):
    """Shared plumbing: save/load of ``FilteredModel`` and logging of the loss terms."""

    def __init__(self, *args, **kwargs) -> None:
        _check_dataset("train_dataset", kwargs.get("train_dataset"))
        eval_data = kwargs.get("eval_dataset")
        if isinstance(eval_data, dict):
            for key, value in eval_data.items():
                _check_dataset(f"eval_dataset[{key!r}]", value)
        else:
            _check_dataset("eval_dataset", eval_data)
        super().__init__(*args, **kwargs)
        self._terms: dict[str, list[float]] = defaultdict(list)
        self._eval_terms: dict[str, list[float]] = defaultdict(list)

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        os.makedirs(output_dir, exist_ok=True)
        self.accelerator.unwrap_model(self.model).save_pretrained(output_dir)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, "training_args.bin"))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        (model or self.model).load_checkpoint(resume_from_checkpoint)

    def _record(self, training: bool, **terms: torch.Tensor) -> None:
        target = self._terms if training else self._eval_terms
        for name, value in terms.items():
            target[name].append(float(value))

    def evaluation_loop(self, *args, **kwargs):
        """Adds the mean distillation terms as ``<prefix>_<term>_loss`` to the metrics."""
        self._eval_terms.clear()
        output = super().evaluation_loop(*args, **kwargs)
        prefix = kwargs.get("metric_key_prefix", args[4] if len(args) > 4 else "eval")
        for name, values in self._eval_terms.items():
            if values:
                output.metrics[f"{prefix}_{name}_loss"] = sum(values) / len(values)
        self._eval_terms.clear()
        return output

    def log(self, logs: dict[str, float], *args, **kwargs) -> None:
        if "loss" in logs:
            for name, values in self._terms.items():
                if values:
                    logs[f"{name}_loss"] = round(sum(values) / len(values), 6)
            self._terms.clear()
        super().log(logs, *args, **kwargs)


def _task(args: TEDConfig, model: nn.Module) -> str:
    return args.task or infer_task(model)


class FilterTrainer(_Base):
    """Stage I: the backbone is frozen; filters and their heads learn the task.

    Loss = the task loss of each filter's head averaged over filters. Run it once for the
    teacher (pass ``student=`` so the filters sit on the teacher side of ``layer_mapping``) and
    once for the student (pass ``teacher=``: student side, and d_f defaults to the teacher's
    hidden size as in the official code). Without either, ``layers`` (default: all) is used.

    The model you pass is not modified: its parameters are frozen only while :meth:`train`
    runs (``requires_grad`` is restored afterwards) and it runs without gradients.
    ``args`` may be a plain ``TrainingArguments``.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        args: TrainingArguments,
        filters: TaskAwareFilters | None = None,
        layers: list[int] | None = None,
        teacher: PreTrainedModel | None = None,
        student: PreTrainedModel | None = None,
        **kwargs,
    ) -> None:
        args = TEDConfig.from_training_args(args)
        if teacher is not None and student is not None:
            raise ValueError("pass teacher= (model is the student) or student=, not both")
        d_f = args.filter_output_dim
        if teacher is not None:
            layers = [s for s, _ in layer_pairs_for(model, teacher, args)]
            d_f = d_f or hidden_size(teacher.config)
        elif student is not None:
            layers = [t for _, t in layer_pairs_for(student, model, args)]
        if filters is None:
            layers = layers or list(range(1, num_layers(model.config) + 1))
            filters = TaskAwareFilters.for_model(
                model,
                layers,
                output_dim=d_f,
                nonlinear=args.filter_nonlinear,
                task=_task(args, model),
                activation=args.filter_activation,
                dropout=args.filter_dropout,
            )
        super().__init__(model=FilteredModel(model, filters, stage1=True), args=args, **kwargs)
        self._backbone = model

    @property
    def filters(self) -> TaskAwareFilters:
        return self.accelerator.unwrap_model(self.model).filters

    def train(self, *args, **kwargs):
        """``Trainer.train`` with the backbone frozen for its duration only."""
        flags = [p.requires_grad for p in self._backbone.parameters()]
        was_training = self._backbone.training
        for p in self._backbone.parameters():
            p.requires_grad_(False)
        try:
            return super().train(*args, **kwargs)
        finally:
            for p, flag in zip(self._backbone.parameters(), flags, strict=True):
                p.requires_grad_(flag)
            self._backbone.train(was_training)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if inputs.get("labels") is None:
            raise ValueError("stage I needs 'labels' in every batch")
        out = model(**inputs)  # filters and heads run inside the (DDP-wrapped) forward
        loss = out["loss"]
        if return_outputs:
            return loss, {"loss": loss, "logits": out["logits"]}
        return loss


class _DistillTrainer(_Base):
    """Student trained on task loss + α_KL·KD (+ α_layer·layer MSE for TED / LWD)."""

    method = "kd"

    def __init__(
        self,
        model: PreTrainedModel,
        args: TrainingArguments,
        teacher: PreTrainedModel,
        student_filters: TaskAwareFilters | None = None,
        teacher_filters: TaskAwareFilters | None = None,
        **kwargs,
    ) -> None:
        args = TEDConfig.from_training_args(args)
        check_compatible(teacher, model, _task(args, model))
        self.layer_pairs: LayerPairs = []
        if self.method != "kd":
            self.layer_pairs = resolve_layer_pairs(
                args.layer_mapping,
                num_layers(model.config),
                num_layers(teacher.config),
                args.num_filters,
            )
        student_filters, teacher_filters = self._prepare_filters(
            model, teacher, args, student_filters, teacher_filters
        )
        for p in model.parameters():
            p.requires_grad_(True)  # the whole student trains (stage I may have frozen it)
        super().__init__(model=FilteredModel(model, student_filters), args=args, **kwargs)
        # The teacher runs under no_grad in eval mode; its requires_grad flags are left alone.
        self.teacher = teacher.to(self.args.device).eval()
        self.teacher_filters = None
        if teacher_filters is not None:
            self.teacher_filters = teacher_filters.to(self.args.device).eval()
            for p in self.teacher_filters.parameters():
                p.requires_grad_(False)

    def _prepare_filters(self, model, teacher, args, student_filters, teacher_filters):
        return None, None

    def _teacher_states(self, t_out) -> list[torch.Tensor] | None:
        return None

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.get("labels")
        if labels is None:
            raise ValueError("distillation needs 'labels' in every batch (the task loss)")
        out = model(**inputs)
        feed = {k: v for k, v in inputs.items() if k != "labels"}
        with torch.no_grad():
            t_out = run_model(self.teacher, **feed)
            t_states = self._teacher_states(t_out)
        args = self.args
        task = _task(args, self.teacher)
        logits_mask = causal_lm_mask(labels) if task == "causal_lm" else None
        if task == "token_classification":
            logits_mask = labels != -100
        states_mask = inputs.get("attention_mask") if args.mask_padding else None
        terms = ted_loss(
            out["loss"],
            out["logits"],
            t_out.logits,
            out["filtered"],
            t_states,
            kl_alpha=args.kl_alpha,
            mse_alpha=args.mse_alpha if self.method != "kd" else 0.0,
            temperature=args.temperature,
            logits_mask=logits_mask,
            states_mask=states_mask,
            normalize_states=args.layer_loss_scale == "teacher",
        )
        if not model.training:
            # Evaluation: eval_loss is the task loss; the terms are reported beside it.
            self._record(False, kd=terms["kd"], layer=terms["layer"], total=terms["loss"])
            loss = terms["task"]
            return (loss, {"loss": loss, "logits": out["logits"]}) if return_outputs else loss
        self._record(True, task=terms["task"], kd=terms["kd"], layer=terms["layer"])
        if return_outputs:
            return terms["loss"], {"loss": terms["loss"], "logits": out["logits"]}
        return terms["loss"]


class KDTrainer(_DistillTrainer):
    """Baseline: task loss + α_KL·T²·KL(teacher‖student) on logits only (``mse_alpha`` unused)."""

    method = "kd"


class LayerwiseTrainer(_DistillTrainer):
    """Baseline LWD: a learned, randomly initialised linear projection of each mapped student
    layer is matched (MSE) to the teacher's *raw* hidden states, plus task loss and KD."""

    method = "lwd"

    def _prepare_filters(self, model, teacher, args, student_filters, teacher_filters):
        projections = TaskAwareFilters.for_model(
            model,
            [s for s, _ in self.layer_pairs],
            output_dim=hidden_size(teacher.config),
            with_heads=False,
            task=_task(args, model),
        )
        return projections, None

    def _teacher_states(self, t_out):
        return [t_out.hidden_states[t] for _, t in self.layer_pairs]


class TEDTrainer(_DistillTrainer):
    """Stage II: student + its filters learn task + α_KL·KD + α_layer·MSE(g_S(H_S), g_T(H_T)).

    ``student_filters`` and ``teacher_filters`` come from stage I (:class:`FilterTrainer`);
    their heads are dropped. The teacher filters are frozen and run in eval mode.
    """

    method = "ted"

    def _prepare_filters(self, model, teacher, args, student_filters, teacher_filters):
        if student_filters is None or teacher_filters is None:
            raise ValueError(
                "TEDTrainer needs student_filters and teacher_filters from stage I "
                "(FilterTrainer); got None"
            )
        s_layers = [s for s, _ in self.layer_pairs]
        t_layers = [t for _, t in self.layer_pairs]
        if student_filters.layers != s_layers or teacher_filters.layers != t_layers:
            raise ValueError(
                f"filter layers (student {student_filters.layers}, teacher "
                f"{teacher_filters.layers}) do not match layer_mapping pairs {self.layer_pairs}; "
                "train the stage-I filters on the same mapping"
            )
        if student_filters.config.output_dim != teacher_filters.config.output_dim:
            raise ValueError(
                f"student filter output_dim={student_filters.config.output_dim} != teacher "
                f"filter output_dim={teacher_filters.config.output_dim}; allowed: equal widths"
            )
        student_filters = copy.deepcopy(student_filters).drop_heads()
        teacher_filters = copy.deepcopy(teacher_filters).drop_heads()
        return student_filters, teacher_filters

    def _teacher_states(self, t_out):
        return self.teacher_filters(t_out.hidden_states)


def check_compatible(teacher: PreTrainedModel, student: PreTrainedModel, task: str) -> None:
    """Teacher and student must read the same input ids and predict the same label set."""
    t_vocab = getattr(teacher.config, "vocab_size", None)
    s_vocab = getattr(student.config, "vocab_size", None)
    if t_vocab != s_vocab:
        raise ValueError(
            f"teacher vocab_size={t_vocab} != student vocab_size={s_vocab}: KD and layer "
            "distillation feed the same input_ids to both and compare their predictions, so "
            "teacher and student must share one tokenizer/vocabulary"
        )
    if task != "causal_lm":
        t_labels = getattr(teacher.config, "num_labels", None)
        s_labels = getattr(student.config, "num_labels", None)
        if t_labels != s_labels:
            raise ValueError(
                f"teacher num_labels={t_labels} != student num_labels={s_labels}; KD needs the "
                "same label set"
            )


def layer_pairs_for(
    student: PreTrainedModel, teacher: PreTrainedModel, args: TEDConfig
) -> LayerPairs:
    """The (student, teacher) layer pairs ``args.layer_mapping`` gives for these two models."""
    return resolve_layer_pairs(
        args.layer_mapping, num_layers(student.config), num_layers(teacher.config), args.num_filters
    )

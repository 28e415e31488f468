"""step-verifier: DIVERSE (Li et al., ACL 2023) — diverse prompts, sampled reasoning paths, a
step-aware verifier and verifier-weighted voting, on any transformers causal LM and encoder.

Names are imported lazily on first use, so the CLI's ``--help`` does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lmlab_common import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "LABELS": "config",
    "EntailmentLabeler": "labeling",
    "GSM8KLabeler": "labeling",
    "PathScore": "model",
    "Problem": "data",
    "ReasoningPath": "data",
    "StepAwareVerifier": "model",
    "StepLabeler": "labeling",
    "SyntheticConfig": "synthetic",
    "SyntheticTask": "synthetic",
    "VerifierCollator": "trainer",
    "VerifierConfig": "config",
    "VerifierTrainer": "trainer",
    "VerifierTrainingConfig": "config",
    "VoteReport": "voting",
    "add_step_marker": "model",
    "build_prompts": "prompting",
    "build_verifier_dataset": "trainer",
    "evaluate_at_k": "voting",
    "extract_answer": "data",
    "from_prm_rows": "data",
    "greedy_accuracy": "voting",
    "label_problems": "labeling",
    "load_problems": "data",
    "majority_vote": "voting",
    "normalize_answer": "data",
    "parse_free_text_steps": "data",
    "parse_gsm8k_solution": "data",
    "positives": "labeling",
    "roc_auc": "metrics",
    "sample_paths": "prompting",
    "save_problems": "data",
    "step_result": "data",
    "synthetic_tokenizer": "synthetic",
    "to_prm_rows": "data",
    "verifier_loss": "model",
    "verifier_top1": "voting",
    "weighted_vote": "voting",
}

__all__ = [
    "LABELS",
    "EntailmentLabeler",
    "GSM8KLabeler",
    "PathScore",
    "Problem",
    "ReasoningPath",
    "StepAwareVerifier",
    "StepLabeler",
    "SyntheticConfig",
    "SyntheticTask",
    "VerifierCollator",
    "VerifierConfig",
    "VerifierTrainer",
    "VerifierTrainingConfig",
    "VoteReport",
    "add_step_marker",
    "build_prompts",
    "build_verifier_dataset",
    "evaluate_at_k",
    "extract_answer",
    "from_prm_rows",
    "greedy_accuracy",
    "label_problems",
    "load_problems",
    "majority_vote",
    "normalize_answer",
    "parse_free_text_steps",
    "parse_gsm8k_solution",
    "positives",
    "roc_auc",
    "sample_paths",
    "save_problems",
    "step_result",
    "synthetic_tokenizer",
    "to_prm_rows",
    "verifier_loss",
    "verifier_top1",
    "weighted_vote",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:
    from .config import LABELS, VerifierConfig, VerifierTrainingConfig
    from .data import (
        Problem,
        ReasoningPath,
        extract_answer,
        from_prm_rows,
        load_problems,
        normalize_answer,
        parse_free_text_steps,
        parse_gsm8k_solution,
        save_problems,
        step_result,
        to_prm_rows,
    )
    from .labeling import EntailmentLabeler, GSM8KLabeler, StepLabeler, label_problems, positives
    from .metrics import roc_auc
    from .model import PathScore, StepAwareVerifier, add_step_marker, verifier_loss
    from .prompting import build_prompts, sample_paths
    from .synthetic import SyntheticConfig, SyntheticTask, synthetic_tokenizer
    from .trainer import VerifierCollator, VerifierTrainer, build_verifier_dataset
    from .voting import (
        VoteReport,
        evaluate_at_k,
        greedy_accuracy,
        majority_vote,
        verifier_top1,
        weighted_vote,
    )

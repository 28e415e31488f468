"""step-verifier: DIVERSE (Li et al., ACL 2023) — diverse prompts, sampled reasoning paths, a
step-aware verifier and verifier-weighted voting, on any transformers causal LM and encoder."""

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

__version__ = "0.1.0"

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

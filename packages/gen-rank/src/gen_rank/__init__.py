"""gen-rank: JGR joint generator–ranker training and generate-then-rank inference.

JGR (Shen et al., 2022/23) trains a generator and a cross-encoder ranker together: the
generator learns from a likelihood term plus a reward mixing the ranker's score and the task
metric; the ranker learns to pick the best of the generator's own samples.
"""

from .config import JGRConfig
from .generation import Candidates, check_round_trip, sample_candidates
from .inference import RankedGeneration, generate_then_rank
from .losses import compute_rewards, policy_gradient_loss
from .metrics import (
    bleu,
    dialog_bleu_score,
    get_metric,
    rouge_l,
    score_candidates,
    summarization_score,
)
from .model import GeneratorRanker, load_generator, load_pair, save_pair
from .ranker import Ranker, encode_pairs, pick_candidates, ranker_loss
from .synthetic import ChainTask, chain_metric, exact_match
from .trainer import JGRTrainer, TextCollator

__all__: list[str] = [
    "Candidates",
    "ChainTask",
    "GeneratorRanker",
    "JGRConfig",
    "JGRTrainer",
    "RankedGeneration",
    "Ranker",
    "TextCollator",
    "bleu",
    "chain_metric",
    "check_round_trip",
    "compute_rewards",
    "dialog_bleu_score",
    "encode_pairs",
    "exact_match",
    "generate_then_rank",
    "get_metric",
    "load_generator",
    "load_pair",
    "pick_candidates",
    "policy_gradient_loss",
    "ranker_loss",
    "rouge_l",
    "sample_candidates",
    "save_pair",
    "score_candidates",
    "summarization_score",
]

__version__ = "0.1.0"

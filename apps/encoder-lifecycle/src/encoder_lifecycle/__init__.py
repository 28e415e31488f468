"""encoder-lifecycle: pre-train (RTD + GDES), fine-tune, compress (LoSparse) and distil (TED)
a small encoder on real text, every stage measured side by side."""

from .classifier import MeanPoolDebertaClassifier
from .data import GROUPS, TopicTask, pretraining_corpus, topic_task
from .options import LifecycleOptions, quick_options
from .pipeline import model_folders, run
from .storage import load_classifier, reference_logits

__all__ = [
    "GROUPS",
    "LifecycleOptions",
    "MeanPoolDebertaClassifier",
    "TopicTask",
    "load_classifier",
    "model_folders",
    "pretraining_corpus",
    "quick_options",
    "reference_logits",
    "run",
    "topic_task",
]

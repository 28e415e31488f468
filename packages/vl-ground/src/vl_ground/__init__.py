"""vl-ground: GRILL-style grounded vision-language pre-training.

One small encoder–decoder (ViT patches projected into BART) answers questions, captions images
and grounds referring expressions; a phrase–region alignment objective teaches grounding.
"""

from .boxes import check_box, decode_region, iou
from .config import OBJECTIVES, GrillConfig, GrillTrainingArguments
from .data import GrillCollator, load_examples, save_examples, scene_to_example
from .inference import Grounding, caption, few_shot_finetune, ground, predict, vqa
from .metrics import caption_attribute_f1, grounding_accuracy, vqa_accuracy
from .model import GrillModel, GrillOutput
from .processor import GrillProcessor
from .scenes import HELD_OUT_PAIRS, Scene, generate_scenes, training_view
from .trainer import GrillTrainer

__version__ = "0.1.0"

__all__ = [
    "HELD_OUT_PAIRS",
    "OBJECTIVES",
    "GrillCollator",
    "GrillConfig",
    "GrillModel",
    "GrillOutput",
    "GrillProcessor",
    "GrillTrainer",
    "GrillTrainingArguments",
    "Grounding",
    "Scene",
    "caption",
    "caption_attribute_f1",
    "check_box",
    "decode_region",
    "few_shot_finetune",
    "generate_scenes",
    "ground",
    "grounding_accuracy",
    "iou",
    "load_examples",
    "predict",
    "save_examples",
    "scene_to_example",
    "training_view",
    "vqa",
    "vqa_accuracy",
]

"""The choices and special tokens of this package (no heavy imports: the CLI reads them)."""

METHODS = ("mim", "fim", "l2r")
SHARINGS = ("shared", "separate")
DIVERGENCES = ("tv", "kl", "skl")
STOP_GRADIENTS = ("none", "forward", "backward")
INFILL_METHODS = ("mim", "l2r", "fim")

# Special tokens added to the tokenizer (and the embedding matrix, when it has no room).
DIRECTION_TOKENS = {"forward": "<l2r>", "backward": "<r2l>"}
FIM_TOKENS = {
    "prefix": "<fim_prefix>",
    "suffix": "<fim_suffix>",
    "middle": "<fim_middle>",
    "end": "<fim_end>",
}

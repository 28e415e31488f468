"""LoSparse: low-rank plus structured-sparse compression for transformers models."""

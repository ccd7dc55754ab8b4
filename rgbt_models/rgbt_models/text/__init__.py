"""Frozen text encoders that turn class names into embeddings for SARTM's distillation."""

from rgbt_models.text.encoders import TEXT_ENCODERS, TextEncoderError, encode_class_names

__all__ = ["TEXT_ENCODERS", "TextEncoderError", "encode_class_names"]

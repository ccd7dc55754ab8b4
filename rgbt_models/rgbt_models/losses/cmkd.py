"""SARTM's language-aided distillation (CMKD): class relations from text teach visual prototypes."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def class_prototypes(features: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     ignore_index: int = 255) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked average pooling of features (B, D, h, w) per class with labels (B, H, W) resized
    (nearest) to h×w. Returns prototypes (C, D) and a bool mask of the classes present."""
    small = F.interpolate(labels[:, None].float(), size=features.shape[-2:], mode="nearest")[:, 0].long()
    valid = small != ignore_index
    one_hot = F.one_hot(torch.where(valid, small, 0), num_classes).permute(0, 3, 1, 2).to(features.dtype)
    one_hot = one_hot * valid[:, None].to(features.dtype)
    counts = one_hot.sum(dim=(0, 2, 3))
    sums = torch.einsum("bchw,bdhw->cd", one_hot, features)
    present = counts > 0
    return sums / counts.clamp_min(1)[:, None], present


def cmkd_loss(prototypes: torch.Tensor, text_embeddings: torch.Tensor, present: torch.Tensor,
              temperature: float = 0.1) -> torch.Tensor:
    """KL(softmax(sim(T,T)/τ) ‖ softmax(sim(P,P)/τ)) over the present classes (rows averaged).

    sim is cosine similarity; the text side is the (constant) teacher. Zero when the two
    similarity matrices are equal; fewer than two present classes give zero.
    """
    if int(present.sum()) < 2:
        return prototypes.sum() * 0.0
    p = F.normalize(prototypes[present], dim=-1)
    t = F.normalize(text_embeddings[present].to(p.dtype), dim=-1)
    teacher = F.softmax(t @ t.T / temperature, dim=-1)
    student_log = F.log_softmax(p @ p.T / temperature, dim=-1)
    return F.kl_div(student_log, teacher, reduction="batchmean")

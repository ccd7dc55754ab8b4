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
              temperature: float = 1.0) -> torch.Tensor:
    """KL(softmax(sim(T,T)/τ) ‖ softmax(sim(P,P)/τ)) over the present classes, averaged over
    the elements of the similarity matrices.

    sim is cosine similarity; the text side is the (constant) teacher. The paper (Eq. 14) leaves
    the softmax's temperature and the reduction open; the authors' code settles both: a plain
    softmax of the cosine similarities (τ = 1) and the mean over all elements of the KL terms
    (tools/train_mm.py + sam2/sam_lora_language.py, `kl_div(..., reduction='none').mean()`).
    That is the default here; τ stays configurable (`loss.cmkd_temperature`). We compare only
    the classes present in the batch (the authors' code also compares absent classes, whose
    prototypes are zero vectors). Zero when the matrices are equal; < 2 present classes: zero.
    """
    if int(present.sum()) < 2:
        return prototypes.sum() * 0.0
    p = F.normalize(prototypes[present], dim=-1)
    t = F.normalize(text_embeddings[present].to(p.dtype), dim=-1)
    teacher = F.softmax(t @ t.T / temperature, dim=-1)
    student_log = F.log_softmax(p @ p.T / temperature, dim=-1)
    return F.kl_div(student_log, teacher, reduction="none").mean()


def prototype_consistency_loss(prototypes: torch.Tensor, present: torch.Tensor,
                               memory: torch.Tensor, momentum: float = 0.9) -> torch.Tensor:
    """The authors' code's second distillation term (not in the paper's text, nor in docs/methods.md):
    KL(softmax(memory) ‖ softmax(prototype)) over the feature dimension, element mean, where
    `memory` (C, D) is an exponential moving average of the batch prototypes, updated here
    in place (no gradient) after the loss is taken. Present classes only (the authors' code
    includes absent classes as zero prototypes and updates the memory before the loss)."""
    if not bool(present.any()):
        return prototypes.sum() * 0.0
    loss = F.kl_div(F.log_softmax(prototypes[present], dim=-1), F.softmax(memory[present], dim=-1),
                    reduction="none").mean()
    with torch.no_grad():
        memory[present] = momentum * memory[present] + (1 - momentum) * prototypes[present].detach()
    return loss

"""Which of SAMSOD's heads to believe on a new domain, without labels: the boundary prior.

A domain shift rarely hits both cameras alike: a thermal camera switched to black-hot, a fogged
lens or a dark night breaks one modality's head while the other still sees the scene. Labels
from the model's fused prediction (the sum of its heads) inherit the broken head's errors, and
self-training from them makes the model worse. The boundary (background) prior of unsupervised
saliency detection (Wei et al., "Geodesic saliency using background priors", ECCV 2012; Zhu et
al., "Saliency optimization from robust background detection", CVPR 2014) says that salient
objects rarely cover the image border: a head that marks the border salient is the suspect one.

The prior is applied relatively, per head and per sample:
- score = border / (border + interior), the head's mean saliency on the border band against its
  mean inside (0: an object inside, the border left alone; 0.5: no contrast, e.g. a head that
  marks everything; towards 1: the border salient, the inside not). An object that touches the
  border raises border and interior alike in every head that sees it, so no head is preferred
  for it;
- a head with no confident interior (fewer than `min_confident` of its interior pixels above
  0.5) sees nothing and gets no weight: it must not win because its border is clean (a blank
  head beside two that see the object would pull the label inside the object down);
  when no head sees anything, the heads are averaged;
- weights = softmax(-score / temperature) over the heads that see something.
When the heads agree (every head sound) the label is their plain mean, a softer map than the
model's own prediction.
"""

from __future__ import annotations

import torch

from rgbt_models.uusod.config import HeadWeighting


def border_saliency(saliency: torch.Tensor, band: float) -> torch.Tensor:
    """Mean saliency (B,) of the border band of (B, 1, H, W) maps."""
    height, width = saliency.shape[-2:]
    width_px = max(1, round(band * min(height, width)))
    inside = torch.zeros(height, width, dtype=torch.bool, device=saliency.device)
    inside[width_px:height - width_px, width_px:width - width_px] = True
    return saliency[..., ~inside].flatten(1).mean(dim=1)


def interior(saliency: torch.Tensor, band: float) -> torch.Tensor:
    """(B, 1, H', W') inside of (B, 1, H, W) maps, the border band cut away."""
    height, width = saliency.shape[-2:]
    width_px = max(1, round(band * min(height, width)))
    return saliency[..., width_px:height - width_px, width_px:width - width_px]


def head_weights(saliency: torch.Tensor, weighting: HeadWeighting) -> torch.Tensor:
    """(heads, B) weights of the heads' saliency maps (heads, B, 1, H, W), see the module."""
    border = torch.stack([border_saliency(s, weighting.band) for s in saliency])  # (heads, B)
    inside = torch.stack([interior(s, weighting.band) for s in saliency])  # (heads, B, 1, h, w)
    score = border / (border + inside.flatten(2).mean(dim=2) + 1e-6)
    sees = (inside > 0.5).flatten(2).float().mean(dim=2) >= weighting.min_confident
    logits = (-score / weighting.temperature).masked_fill(~sees, float("-inf"))
    logits = torch.where(sees.any(dim=0, keepdim=True), logits, torch.zeros_like(logits))  # nobody sees: mean
    return torch.softmax(logits, dim=0)


def weight_heads(outputs: dict[str, torch.Tensor], weighting: HeadWeighting) -> torch.Tensor:
    """Saliency (B, 1, H, W) in [0, 1] from SAMSOD's head logits (`SAMSOD.forward`'s dict): the
    heads' saliency maps averaged with the boundary-prior weights. (Weighting the logits instead,
    sigmoid(n * sum_h w_h * logits_h), which equals the model's prediction for equal weights, gave
    sharper labels from which black-hot adaptation gained less: S 0.372 -> 0.385 against 0.477.)"""
    if weighting.mode == "sum" or len(outputs) == 1:
        return torch.sigmoid(sum(outputs.values()))
    saliency = torch.stack([torch.sigmoid(logits) for logits in outputs.values()])  # (heads, B, 1, H, W)
    weights = head_weights(saliency, weighting)
    return (weights[:, :, None, None, None] * saliency).sum(dim=0)

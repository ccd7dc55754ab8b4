"""The boundary-aware texture-matching loss of UUSOD's stage 1 (A2S-v3's BTM loss, in the
authors' stage 1 beside the distilling loss; absent from the paper's text).

Around the predicted object boundary (the band between the dilated and the eroded mask of S >
0.5, at a quarter of the resolution), the saliency of each pixel should equal that of the
neighbours within `radius` whose image values are close to its own, in every modality:
L = sum_j prod_m exp(-alpha * ||I_m(j) - I_m(i)||^2) * |S(j) - S(i)|, averaged over the boundary
pixels i. It keeps the cue extractor's maps from bleeding across image edges, which PCL-SD alone
(pushing every pixel towards 0 or 1) does not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def boundary_band(saliency: torch.Tensor, size: int = 5) -> torch.Tensor:
    """1 on the band around the S > 0.5 region's boundary (dilation minus erosion), else 0."""
    mask = (saliency > 0.5).float()
    eroded = 1 - F.max_pool2d(1 - mask, size, stride=1, padding=size // 2)
    dilated = F.max_pool2d(mask, size, stride=1, padding=size // 2)
    return dilated - eroded


def texture_matching_loss(saliency: torch.Tensor, images: torch.Tensor, modality_channels: tuple[int, ...] = (3, 1),
                          radius: int = 5, alpha: float = 200.0, scale: float = 0.25) -> torch.Tensor:
    """saliency (B, 1, H, W) in [0, 1]; images (B, C, H, W) in [0, 1], C = sum(modality_channels)
    (RGB then thermal). The mean over boundary pixels of the texture-weighted saliency change."""
    small = F.interpolate(saliency, scale_factor=scale, mode="bilinear", align_corners=True)
    images = F.interpolate(images, size=small.shape[-2:], mode="bilinear", align_corners=True)
    band = boundary_band(small)
    if band.sum() == 0:
        return saliency.sum() * 0.0  # no boundary yet: nothing to match (keeps the graph)
    features = torch.cat([images, small], dim=1)
    n, c, h, w = features.shape
    diameter = 2 * radius + 1
    patches = F.unfold(features, diameter, padding=radius).view(n, c, diameter * diameter, h, w)
    patches = patches - features.unsqueeze(2)  # each neighbour minus the centre
    similarity, start = 1.0, 0
    for channels in modality_channels:
        similarity = similarity * torch.exp(-alpha * (patches[:, start:start + channels] ** 2).sum(dim=1))
        start += channels
    change = patches[:, -1].abs()  # |S(j) - S(i)|
    loss = (similarity * change).sum(dim=1, keepdim=True)
    return (loss * band).sum() / band.sum()

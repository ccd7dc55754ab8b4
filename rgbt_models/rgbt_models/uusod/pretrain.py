"""UUSOD stage 0 (`rgbt-adapt pretrain`): a self-supervised start for the SAM 2 encoder where no
pre-trained weights exist, from unlabeled RGB and thermal frames.

The paper's stage 1 starts from a self-supervised network (MoCo-v2 on ImageNet); without Meta's
SAM 2 file this project's encoder is random, and the stage-1 cues built on it are near chance.
Chosen method: masked image modelling (MAE / SimMIM style: hide most of each image in patches,
reconstruct the hidden pixels), not MoCo-v2. Why: a Hiera encoder is a hierarchical vision
transformer, and MIM is what Hiera itself and SAM's encoders were pre-trained with (MAE); it
needs no negative pairs, queue or large batch (MoCo-v2's contrast needs a queue of thousands
of negatives and a momentum encoder, out of reach of a robot team's unlabeled bag on one
machine), and it learns local structure (edges, object extents), which is what the stage-1 cue
extractor reads from the encoder's activations. RGB and thermal frames are both images to it
(thermal repeated to three channels, as the encoder sees it everywhere in the project).

The loss: mean squared error between the reconstruction and the ImageNet-normalised image, on
the hidden pixels only. The reconstruction: a 1x1 convolution of the FPN's stride-4 level to
4 x 4 x 3 values per position, pixel-shuffled to the input size (a light head, so that the
encoder does the work). The result is written as a SAM 2 file in Meta's layout
(`{'model': state_dict}`, every key of the parts the project uses), which stage 1 (`sce`) and
stage 2 (`detector`) read as their `backbone.checkpoint`: the rest of the chain is unchanged.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rgbt_models.backbone import BackboneConfig
from rgbt_models.backbone.sam2_backbone import SAM2Backbone, to_model_input
from rgbt_models.checkpoint import atomic_torch_save


class MaskedImagePretrainer(nn.Module):
    """The SAM 2 encoder (trainable) and a pixel-shuffle reconstruction head."""

    kind = "uusod-pretrain"

    def __init__(self, backbone: BackboneConfig, mask_ratio: float = 0.6, patch: int = 16) -> None:
        super().__init__()
        if not 0 < mask_ratio < 1 or patch % 4:
            raise ValueError(f"mask_ratio must be in (0, 1) and patch a multiple of 4, got {mask_ratio}, {patch}")
        self.backbone_config, self.mask_ratio, self.patch = backbone, mask_ratio, patch
        self.backbone = SAM2Backbone(backbone, num_streams=1, pretrained=bool(backbone.checkpoint))
        self.backbone.requires_grad_(False)
        self.backbone.image_encoder.requires_grad_(True)
        self.head = nn.Conv2d(self.backbone.hidden_dim, 3 * 16, 1)  # stride 4: 4 x 4 pixels x 3 channels
        self.generator = torch.Generator().manual_seed(0)

    def patch_mask(self, batch: int, height: int, width: int, device) -> torch.Tensor:
        """(B, 1, H, W) with 1 on the hidden patches (mask_ratio of them, random per image)."""
        rows, columns = height // self.patch, width // self.patch
        scores = torch.rand(batch, rows * columns, generator=self.generator)
        hidden = scores.argsort(dim=1) < round(self.mask_ratio * rows * columns)
        mask = hidden.float().view(batch, 1, rows, columns).to(device)
        return F.interpolate(mask, scale_factor=self.patch, mode="nearest")

    def reconstruct(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The normalised image predicted from `images` with the masked patches set to grey."""
        hidden = images * (1 - mask) + 0.5 * mask
        stages, _ = self.backbone.encode([hidden])
        fpn = self.backbone.neck(stages)
        return F.pixel_shuffle(self.head(fpn[0]), 4)

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        """The MIM loss of a batch of RGB (B, 3, H, W) and thermal (B, 1, H, W) frames in [0, 1]."""
        images = torch.cat([rgb, thermal.expand(-1, 3, -1, -1)])
        mask = self.patch_mask(len(images), *images.shape[-2:], images.device)
        error = (self.reconstruct(images, mask) - to_model_input(images)) ** 2
        return (error * mask).sum() / (mask.sum() * 3).clamp_min(1)

    def save_encoder(self, path: str | Path) -> None:
        """The encoder (with the untouched prompt encoder and mask decoder) as a SAM 2 file in
        Meta's layout: what `backbone.checkpoint` of the later stages names."""
        atomic_torch_save({"model": self.backbone.official_state_dict(), "rgbt_pretrain": {
            "method": "masked image modelling", "mask_ratio": self.mask_ratio, "patch": self.patch,
            "backbone": self.backbone_config.to_dict()}}, path)

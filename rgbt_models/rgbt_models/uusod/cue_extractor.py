"""Stage 1 of UUSOD: the saliency cue extractor (SCE), a light head on the frozen SAM 2 encoder.

The paper distils saliency cues from a pre-trained network (MoCo-v2); here the frozen SAM 2
Hiera encoder and FPN neck are that network. The SCE's output at initialisation is the
encoder's activation map (channel-mean magnitude of each FPN level, standardised per image and
summed): what a pre-trained network finds "interesting". Three zero-initialised 1x1 heads, one
per FPN level, are then trained with PCL-SD to sharpen and correct it.

mode "agnostic" (the paper): each image is a separate input, so the RGB and the thermal image
of a pair each get a map (the pair's cue is their mean). mode "informed" (the paper's named
limitation, addressed): the heads see both modalities' features side by side and give one map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from rgbt_models.backbone import BackboneConfig, SAM2Backbone
from rgbt_models.backbone.sam2_backbone import upsample_to
from rgbt_models.checkpoint import CheckpointedModel
from rgbt_models.config import ConfigMapping

MODES = ("agnostic", "informed")


@dataclass
class SCEConfig(ConfigMapping):
    SECTION = "sce model"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    mode: str = "informed"
    prior_weight: float = 1.0  # weight of the activation map in the logits

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"sce mode must be one of {MODES}, got {self.mode!r}")


class SaliencyCueExtractor(CheckpointedModel, nn.Module):
    kind = "sce"
    config_class = SCEConfig

    def __init__(self, config: SCEConfig | None = None, pretrained: bool = True) -> None:
        super().__init__()
        self.config = config or SCEConfig()
        self.backbone = SAM2Backbone(self.config.backbone, num_streams=1, pretrained=pretrained)
        self.backbone.requires_grad_(False)
        width = self.backbone.hidden_dim * (2 if self.config.mode == "informed" else 1)
        self.heads = nn.ModuleList(nn.Conv2d(width, 1, 1) for _ in range(3))
        for head in self.heads:
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def _levels(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The frozen FPN levels (strides 4, 8, 16) of a batch; no gradient reaches the encoder."""
        with torch.no_grad():
            stages, _ = self.backbone.encode([images])
            return [level.detach() for level in self.backbone.neck(stages)]

    @staticmethod
    def _activation(level: torch.Tensor) -> torch.Tensor:
        magnitude = level.abs().mean(dim=1, keepdim=True)
        mean = magnitude.mean(dim=(2, 3), keepdim=True)
        std = magnitude.std(dim=(2, 3), keepdim=True) + 1e-6
        return (magnitude - mean) / std

    def _logits(self, levels: list[torch.Tensor], prior_levels: list[torch.Tensor], size) -> torch.Tensor:
        target = levels[0].shape[-2:]
        total = 0
        for head, level, prior in zip(self.heads, levels, prior_levels):
            term = head(level) + self.config.prior_weight * self._activation(prior)
            total = total + F.interpolate(term, size=target, mode="bilinear", align_corners=False)
        return upsample_to(total, size)

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits (B, 1, H, W): 'rgb' and 'thermal' (agnostic) or 'fused' (informed)."""
        size = tuple(rgb.shape[-2:])
        levels = self._levels(torch.cat([rgb, thermal.expand(-1, 3, -1, -1) if thermal.shape[1] == 1 else thermal]))
        if self.config.mode == "agnostic":
            logits = self._logits(levels, levels, size)
            return dict(zip(("rgb", "thermal"), logits.chunk(2, dim=0)))
        pairs = [torch.cat(level.chunk(2, dim=0), dim=1) for level in levels]
        priors = [sum(level.chunk(2, dim=0)) for level in levels]
        return {"fused": self._logits(pairs, priors, size)}

    def saliency(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        """The pair's saliency cue (B, 1, H, W) in [0, 1] (agnostic: the mean of both maps)."""
        maps = [torch.sigmoid(v) for v in self(rgb, thermal).values()]
        return sum(maps) / len(maps)

    # -- checkpoints (same format as the other models) -------------------------------------------

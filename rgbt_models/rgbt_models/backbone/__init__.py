"""The SAM 2 image encoder shared by SAMSOD and SARTM, running several input streams at once."""

from rgbt_models.backbone.builder import BACKBONE_NAMES, BackboneConfig, build_sam2_parts
from rgbt_models.backbone.checkpoint import load_sam2_checkpoint
from rgbt_models.backbone.sam2_backbone import SAM2Backbone
from rgbt_models.backbone.streams import PerStream, StreamRouter

__all__ = [
    "BACKBONE_NAMES",
    "BackboneConfig",
    "PerStream",
    "SAM2Backbone",
    "StreamRouter",
    "build_sam2_parts",
    "load_sam2_checkpoint",
]

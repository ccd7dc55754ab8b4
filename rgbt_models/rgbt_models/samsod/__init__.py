"""SAMSOD: RGB-T salient object detection on a frozen SAM 2 encoder (Liu et al.)."""

from rgbt_models.samsod.adapter import AdaptedBlock, DecoupledAdapter
from rgbt_models.samsod.model import SAMSOD, SAMSODConfig

__all__ = ["SAMSOD", "AdaptedBlock", "DecoupledAdapter", "SAMSODConfig"]

"""SARTM: RGB-T semantic segmentation on a frozen SAM 2 encoder with LoRA and language-aided distillation."""

from rgbt_models.sartm.model import SARTM, SARTMConfig, SARTMLossConfig

__all__ = ["SARTM", "SARTMConfig", "SARTMLossConfig"]

"""Evaluation metrics: saliency (PySODMetrics conventions) and semantic segmentation."""

from rgbt_models.metrics.saliency import SaliencyMetrics
from rgbt_models.metrics.semantic import ConfusionMatrix

__all__ = ["ConfusionMatrix", "SaliencyMetrics"]

"""Gradient manipulation used by the models' training steps."""

from rgbt_models.optim.pcgrad import pcgrad_backward, pcgrad_combine

__all__ = ["pcgrad_backward", "pcgrad_combine"]

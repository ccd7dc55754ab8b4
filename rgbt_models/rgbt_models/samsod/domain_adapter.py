"""The domain adapter of UUSOD's adapter tuning: F_hat = F + T_a(F) on SAMSOD's deepest fused
feature. T_a's output projection starts at zero, so an adapter that has not trained yet leaves
the model's outputs bit for bit unchanged."""

from __future__ import annotations

import torch
from torch import nn


class DomainAdapter(nn.Module):
    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(channels, hidden, 1)
        self.act = nn.GELU()
        self.up = nn.Conv2d(hidden, channels, 1)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return feature + self.up(self.act(self.down(feature)))

"""The domain adapter of UUSOD's adapter tuning: F_hat = F + T_a(F) on SAMSOD's deepest fused
feature. T_a's output projection starts at zero, so an adapter that has not trained yet leaves
the model's outputs bit for bit unchanged."""

from __future__ import annotations

import torch
from torch import nn

from rgbt_models.checkpoint import CheckpointError


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


def attach_domain_adapter(source: nn.Module, hidden: int, all_levels: bool = False
                          ) -> tuple[nn.Module, list[nn.Parameter]]:
    """A copy of the SAMSOD `source` with zero-initialised domain adapters (the deepest level, or
    every level), everything else frozen: before training it computes exactly what `source`
    computes. UUSOD's adapter stage trains the adapters it returns."""
    config = type(source.config).from_dict({**source.config.to_dict(), "domain_adapter": hidden,
                                            "domain_adapter_all_levels": all_levels})
    model = type(source)(config, pretrained=False)  # every weight comes from `source` just below
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    if unexpected or any(not name.startswith(("domain_adapter.", "level_adapters.")) for name in missing):
        raise CheckpointError(f"the source SAMSOD does not fit (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.input_size = source.input_size
    model.thermal_setup = getattr(source, "thermal_setup", None)
    model.input_geometry = getattr(source, "input_geometry", None)
    model.requires_grad_(False)
    adapters = [model.domain_adapter, *(model.level_adapters or [])]
    for adapter in adapters:
        adapter.requires_grad_(True)
    return model, [p for adapter in adapters for p in adapter.parameters()]

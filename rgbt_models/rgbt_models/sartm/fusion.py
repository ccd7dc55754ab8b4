"""Cross-modal fusion of one pyramid level (SARTM, after CMX): weighted average of the two
modalities, feature rectification (FRM) and feature fusion (FFM)."""

from __future__ import annotations

import torch
from torch import nn


class FeatureRectification(nn.Module):
    """CMX's FRM: each modality is corrected by the other, channel-wise and spatially.

    Channel weights come from global average + max pooling of both modalities through an MLP;
    spatial weights from 1x1 convolutions on the concatenation. x_rgb' = x_rgb + λc·wc_t·x_t
    + λs·ws_t·x_t, and symmetrically for thermal.
    """

    def __init__(self, channels: int, reduction: int = 4, lambda_c: float = 0.5, lambda_s: float = 0.5) -> None:
        super().__init__()
        hidden = max(4, 4 * channels // reduction)
        self.channel_mlp = nn.Sequential(nn.Linear(4 * channels, hidden), nn.ReLU(inplace=True),
                                         nn.Linear(hidden, 2 * channels), nn.Sigmoid())
        self.spatial = nn.Sequential(nn.Conv2d(2 * channels, max(4, channels // reduction), 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(max(4, channels // reduction), 2, 1), nn.Sigmoid())
        self.lambda_c, self.lambda_s = lambda_c, lambda_s

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        both = torch.cat([rgb, thermal], dim=1)
        pooled = torch.cat([both.mean(dim=(2, 3)), both.amax(dim=(2, 3))], dim=1)
        channel_rgb, channel_t = self.channel_mlp(pooled)[..., None, None].chunk(2, dim=1)
        spatial_rgb, spatial_t = self.spatial(both).chunk(2, dim=1)
        rgb_out = rgb + self.lambda_c * channel_t * thermal + self.lambda_s * spatial_t * thermal
        thermal_out = thermal + self.lambda_c * channel_rgb * rgb + self.lambda_s * spatial_rgb * rgb
        return rgb_out, thermal_out


class CrossContextExchange(nn.Module):
    """CMX's FFM stage 1, information exchange by efficient cross-attention.

    Each modality splits its tokens into a residual and an interactive part; the interactive
    part gives keys and values whose global context G = softmax_N(K)^T V (d x d per head) is
    read by the *other* modality's queries (softmax over channels). Cost is linear in the
    number of tokens, so it runs at stride 4 too. Output: x + Linear([residual, exchanged]).
    """

    def __init__(self, channels: int, heads: int = 1) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        self.heads = heads
        self.split = nn.ModuleList([nn.Linear(channels, 2 * channels) for _ in range(2)])
        self.key_value = nn.ModuleList([nn.Linear(channels, 2 * channels) for _ in range(2)])
        self.merge = nn.ModuleList([nn.Linear(2 * channels, channels) for _ in range(2)])

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.view(b, n, self.heads, c // self.heads).transpose(1, 2)  # (B, h, N, d)

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = rgb.shape
        tokens = [x.flatten(2).transpose(1, 2) for x in (rgb, thermal)]  # (B, N, C)
        residual, interactive, context = [], [], []
        for m, x in enumerate(tokens):
            res, inter = self.split[m](x).chunk(2, dim=-1)
            key, value = self.key_value[m](inter).chunk(2, dim=-1)
            key = self._heads(key).softmax(dim=2)
            context.append(key.transpose(2, 3) @ self._heads(value))  # (B, h, d, d)
            residual.append(res)
            interactive.append(self._heads(inter).softmax(dim=3))
        outputs = []
        for m, x in enumerate(tokens):
            exchanged = (interactive[m] @ context[1 - m]).transpose(1, 2).reshape(b, -1, c)
            y = x + self.merge[m](torch.cat([residual[m], exchanged], dim=-1))
            outputs.append(y.transpose(1, 2).reshape(b, c, h, w))
        return outputs[0], outputs[1]


class FeatureFusion(nn.Module):
    """CMX's FFM stage 2, fusion: concat → 1x1 → depth-wise 3x3 → ReLU → 1x1 (channel
    embedding), with a residual from the projected concatenation."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.project = nn.Conv2d(2 * channels, channels, 1)
        self.embed = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
                                   nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 1))
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        projected = self.project(torch.cat([rgb, thermal], dim=1))
        return self.norm(projected + self.embed(projected))


class CrossModalFusion(nn.Module):
    """fused = softmax-weighted average(rgb, thermal) + FFM(FRM(rgb, thermal)), FFM being
    cross-attention exchange followed by fusion.

    The fusion module starts near the weighted average (FFM output scaled by a learnable gain
    initialised to 0), so training begins from the pre-trained features' average.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.modality_logits = nn.Parameter(torch.zeros(2))
        self.rectify = FeatureRectification(channels)
        self.exchange = CrossContextExchange(channels, heads=max(1, channels // 64))
        self.fuse = FeatureFusion(channels)
        self.gain = nn.Parameter(torch.zeros(1))

    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.modality_logits, dim=0)
        average = w[0] * rgb + w[1] * thermal
        return average + self.gain * self.fuse(*self.exchange(*self.rectify(rgb, thermal)))

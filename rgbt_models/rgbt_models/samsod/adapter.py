"""SAMSOD's decoupled adapter and the Hiera block that carries one adapter per stream."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from rgbt_models.backbone.streams import PerStream


def _keep_by_rank(h: torch.Tensor, k: torch.Tensor, largest: bool) -> torch.Tensor:
    """Exact even with ties: the channel's rank in its token decides."""
    order = h.argsort(dim=-1, descending=largest)
    positions = torch.arange(h.shape[-1], device=h.device).expand_as(h)
    keep_sorted = positions < k.view(-1, *([1] * (h.ndim - 1)))
    return torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)


def keep_extreme_channels(h: torch.Tensor, k: torch.Tensor, largest: bool) -> torch.Tensor:
    """Zero all but the k largest (or smallest) channels of each token.

    h: (B, ..., C) activations; k: (B,) integer counts per image. Exactly k channels survive
    per token: a k-th value threshold (one selection per distinct k, 2-3x cheaper than
    sorting), with a rank-based fallback in the rare case of ties at the threshold.
    """
    if torch.onnx.is_in_onnx_export():  # ONNX has no kthvalue; ranks export as TopK + ScatterElements
        return h * _keep_by_rank(h, k, largest).to(h.dtype)
    channels = h.shape[-1]
    keep = torch.empty_like(h, dtype=torch.bool)
    for value in k.unique().tolist():
        rows = (k == value).nonzero().flatten()
        part = h.index_select(0, rows)
        if value <= 0:
            keep[rows] = False
            continue
        if value >= channels:
            keep[rows] = True
            continue
        nth = channels - value + 1 if largest else value
        threshold = part.kthvalue(nth, dim=-1, keepdim=True).values
        keep[rows] = part >= threshold if largest else part <= threshold
    counts = keep.sum(dim=-1)
    if not torch.equal(counts, k.view(-1, *([1] * (h.ndim - 2))).expand_as(counts)):
        keep = _keep_by_rank(h, k, largest)
    return h * keep.to(h.dtype)


def straight_through_keep(h: torch.Tensor, count: torch.Tensor, largest: bool, softness: float = 1.0) -> torch.Tensor:
    """h with all but the floor(count) largest (or smallest) channels of each token zeroed --
    exactly keep_extreme_channels in the forward pass -- and a gradient for `count`.

    The hard mask (rank < floor(count)) is not differentiable in the count, so the backward pass
    uses a soft rank mask sigmoid((count - rank - 0.5) / softness) instead (a straight-through
    estimator): a larger count lets the next-ranked channels in, and the loss says whether that
    helps. count: (B,) real-valued channel counts, the gate's output."""
    ranks = h.argsort(dim=-1, descending=largest).argsort(dim=-1).to(h.dtype)  # 0 = most extreme
    c = count.to(h.dtype).view(-1, *([1] * (h.ndim - 1)))
    hard = (ranks < torch.floor(c)).to(h.dtype)
    soft = torch.sigmoid((c - ranks - 0.5) / softness)
    return h * (hard + (soft - soft.detach()))  # (soft - soft) is exactly 0: the forward is the hard mask


class DecoupledAdapter(nn.Module):
    """Foreground + background bottleneck adapters with a learnable gate (SAMSOD, Sec. III-C).

    Both branches: down-projection D→r, GELU, channel mask, up-projection r→D (zero-initialised,
    so that an untrained adapter adds exactly nothing). The foreground branch keeps each
    token's k_fg largest activated channels, the background branch its k_bg smallest, with
        k_fg = floor(r * (ratio_fg + temperature * w_fg)),  k_bg = floor(r * (ratio_bg + temperature * w_bg)),
    (w_fg, w_bg) = token-mean of softmax(gate(x)). The branches are mixed per token by a
    second softmax (`mix`, as the authors' code does).

    The counts are integers, so in the paper's formulation `gate` gets no gradient at all. With
    gate_learning (default) training uses a straight-through relaxation of the top-k mask: the
    forward pass is the paper's hard mask, bit for bit, and the backward pass differentiates a
    soft rank mask with respect to the counts (straight_through_keep). gate_learning=False is
    the paper's forward with a gate that stays at its initialisation (the ablation).
    """

    def __init__(self, dim: int, bottleneck: int = 32, scale: float = 0.5, ratio_fg: float = 0.45,
                 ratio_bg: float = 0.35, temperature: float = 0.1, gate_learning: bool = True) -> None:
        super().__init__()
        self.bottleneck, self.scale = bottleneck, scale
        self.ratio_fg, self.ratio_bg, self.temperature = ratio_fg, ratio_bg, temperature
        self.gate_learning = gate_learning
        self.fg_down, self.fg_up = nn.Linear(dim, bottleneck), nn.Linear(bottleneck, dim)
        self.bg_down, self.bg_up = nn.Linear(dim, bottleneck), nn.Linear(bottleneck, dim)
        self.gate = nn.Linear(dim, 2)
        self.mix = nn.Linear(dim, 2)
        for up in (self.fg_up, self.bg_up):
            nn.init.zeros_(up.weight)
            nn.init.zeros_(up.bias)

    def continuous_counts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """r * (ratio + temperature * w) per image for x of shape (B, ..., D), before the floor."""
        w = F.softmax(self.gate(x), dim=-1).flatten(1, -2).mean(dim=1)  # (B, 2)
        return (self.bottleneck * (self.ratio_fg + self.temperature * w[:, 0]),
                self.bottleneck * (self.ratio_bg + self.temperature * w[:, 1]))

    def channel_counts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(k_fg, k_bg) per image for x of shape (B, ..., D): the paper's floor(...)."""
        c_fg, c_bg = self.continuous_counts(x)
        return torch.floor(c_fg).long(), torch.floor(c_bg).long()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h_fg, h_bg = F.gelu(self.fg_down(x)), F.gelu(self.bg_down(x))
        if self.gate_learning and torch.is_grad_enabled() and self.gate.weight.requires_grad:
            c_fg, c_bg = self.continuous_counts(x)
            fg = self.fg_up(straight_through_keep(h_fg, c_fg, largest=True))
            bg = self.bg_up(straight_through_keep(h_bg, c_bg, largest=False))
        else:  # inference (and the ablation): the paper's hard mask, the fast selection
            k_fg, k_bg = self.channel_counts(x)
            fg = self.fg_up(keep_extreme_channels(h_fg, k_fg, largest=True))
            bg = self.bg_up(keep_extreme_channels(h_bg, k_bg, largest=False))
        mix = F.softmax(self.mix(x), dim=-1)
        return self.scale * (mix[..., :1] * fg + mix[..., 1:] * bg)



class AdaptedBlock(nn.Module):
    """A frozen Hiera MultiScaleBlock with a parallel adapter next to its MLP:

        x = x + mlp(norm2(x)) + adapter(x)

    The forward repeats sam2's MultiScaleBlock.forward (sam2 1.1.0) with the one added term;
    `adapter` is usually a PerStream of one DecoupledAdapter per modality.
    """

    def __init__(self, block: nn.Module, adapter: nn.Module) -> None:
        super().__init__()
        self.block = block
        self.adapter = adapter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from sam2.modeling.backbones.hieradet import do_pool
        from sam2.modeling.backbones.utils import window_partition, window_unpartition

        blk = self.block
        shortcut = x
        x = blk.norm1(x)
        if blk.dim != blk.dim_out:
            shortcut = do_pool(blk.proj(x), blk.pool)
        window_size = blk.window_size
        if window_size > 0:
            height, width = x.shape[1], x.shape[2]
            x, pad_hw = window_partition(x, window_size)
        x = blk.attn(x)
        if blk.q_stride:
            window_size = blk.window_size // blk.q_stride[0]
            height, width = shortcut.shape[1:3]
            pad_h = (window_size - height % window_size) % window_size
            pad_w = (window_size - width % window_size) % window_size
            pad_hw = (height + pad_h, width + pad_w)
        if blk.window_size > 0:
            x = window_unpartition(x, window_size, pad_hw, (height, width))
        x = shortcut + blk.drop_path(x)
        out = x + blk.drop_path(blk.mlp(blk.norm2(x)))
        if isinstance(self.adapter, PerStream):
            return self.adapter.add_to(out, x)
        return out + self.adapter(x)

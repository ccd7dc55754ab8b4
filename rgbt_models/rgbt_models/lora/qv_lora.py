"""Modality-specific LoRA on the q and v slices of Hiera's fused qkv projection (SARTM).

Hiera's attention computes q, k, v with one Linear(dim → 3·dim_out); at a stage transition
dim ≠ dim_out, and each slice is dim_out wide. LoRA adds B_q A_q x to the q slice and
B_v A_v x to the v slice (A: dim → r, Kaiming-uniform; B: r → dim_out, zero), leaving k
untouched, with one (A, B) set per modality routed by the backbone's StreamRouter.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rgbt_models.backbone.streams import PerStream, StreamRouter


class QVLoRA(nn.Module):
    """One modality's low-rank update of a fused qkv output: [ΔQ, 0, ΔV]."""

    def __init__(self, dim_in: int, dim_out: int, rank: int = 16, alpha: float | None = None) -> None:
        super().__init__()
        self.dim_out = dim_out
        self.scaling = (alpha if alpha is not None else rank) / rank
        self.a_q, self.b_q = nn.Linear(dim_in, rank, bias=False), nn.Linear(rank, dim_out, bias=False)
        self.a_v, self.b_v = nn.Linear(dim_in, rank, bias=False), nn.Linear(rank, dim_out, bias=False)
        for a in (self.a_q, self.a_v):
            nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5))
        for b in (self.b_q, self.b_v):
            nn.init.zeros_(b.weight)

    def delta_q(self, x: torch.Tensor) -> torch.Tensor:
        return self.b_q(self.a_q(x)) * self.scaling

    def delta_v(self, x: torch.Tensor) -> torch.Tensor:
        return self.b_v(self.a_v(x)) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The full-width update [ΔQ, 0, ΔV] (StreamLoRAQKV adds the slices in place instead)."""
        delta_q = self.delta_q(x)
        return torch.cat([delta_q, torch.zeros_like(delta_q), self.delta_v(x)], dim=-1)


class StreamLoRAQKV(nn.Module):
    """A frozen qkv Linear plus each stream's QVLoRA on that stream's rows (or, shared, one
    QVLoRA on every row: the SARTM authors' code, whose LoRA serves both modalities)."""

    def __init__(self, qkv: nn.Linear, router: StreamRouter, rank: int = 16, alpha: float | None = None,
                 shared: bool = False) -> None:
        super().__init__()
        if qkv.out_features % 3:
            raise ValueError(f"qkv output width {qkv.out_features} is not 3·dim_out")
        self.qkv = qkv
        dim_out = qkv.out_features // 3
        self.lora = (QVLoRA(qkv.in_features, dim_out, rank, alpha) if shared else
                     PerStream([QVLoRA(qkv.in_features, dim_out, rank, alpha) for _ in range(router.num_streams)],
                               router))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Add each stream's ΔQ and ΔV into its rows' q and v slices in place: no full-width
        # zero block for k and no concatenation (both cost as much as the qkv product itself).
        out = self.qkv(x)
        if torch.onnx.is_in_onnx_export():  # in-place updates of views do not trace faithfully
            return out + self.lora(x)
        dim_out = self.qkv.out_features // 3
        if isinstance(self.lora, QVLoRA):
            out[..., :dim_out] += self.lora.delta_q(x)
            out[..., 2 * dim_out:] += self.lora.delta_v(x)
            return out
        active = self.lora.router.active
        rows = x.shape[0] // len(active)
        for position, stream in enumerate(active):
            rows_in, rows_out = x.narrow(0, position * rows, rows), out.narrow(0, position * rows, rows)
            lora = self.lora.streams[stream]
            rows_out[..., :dim_out] += lora.delta_q(rows_in)
            rows_out[..., 2 * dim_out:] += lora.delta_v(rows_in)
        return out


def add_qv_lora(blocks: nn.ModuleList, router: StreamRouter, rank: int = 16,
                alpha: float | None = None, shared: bool = False) -> list[StreamLoRAQKV]:
    """Wrap attn.qkv of every Hiera block (after loading pre-trained weights)."""
    wrapped = []
    for block in blocks:
        attn = block.attn
        attn.qkv = StreamLoRAQKV(attn.qkv, router, rank, alpha, shared)
        wrapped.append(attn.qkv)
    return wrapped

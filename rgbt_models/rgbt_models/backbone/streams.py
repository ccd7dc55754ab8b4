"""Several input streams (RGB, thermal) in one batch through shared frozen layers.

The backbone stacks the streams along the batch dimension, stream-major: rows [0, B) are
stream s0, rows [B, 2B) stream s1, ... Every tensor inside a Hiera block keeps this order
(window partitioning only splits each image into consecutive rows), so a per-stream module
can take its stream's rows by chunking the leading dimension. The router says which streams
the current batch holds, so that the same model also runs one stream alone (degraded mode).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class StreamRouter:
    """Shared, mutable record of which streams the batch now passing through holds, in order."""

    def __init__(self, num_streams: int) -> None:
        self.num_streams = num_streams
        self.active: tuple[int, ...] = tuple(range(num_streams))

    def set_active(self, streams: Sequence[int]) -> None:
        streams = tuple(streams)
        if not streams or any(s < 0 or s >= self.num_streams for s in streams):
            raise ValueError(f"invalid streams {streams} for {self.num_streams} streams")
        self.active = streams


class PerStream(nn.Module):
    """Applies modules[s] to the rows of stream s and concatenates the results in order."""

    def __init__(self, modules: Sequence[nn.Module], router: StreamRouter) -> None:
        super().__init__()
        if len(modules) != router.num_streams:
            raise ValueError(f"{len(modules)} modules for {router.num_streams} streams")
        self.streams = nn.ModuleList(modules)
        self.router = router

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        active = self.router.active
        if x.shape[0] % len(active):
            raise RuntimeError(f"batch of {x.shape[0]} rows does not split into {len(active)} streams")
        chunks = x.chunk(len(active), dim=0)
        return torch.cat([self.streams[s](chunk) for s, chunk in zip(active, chunks)], dim=0)

    def add_to(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """out[rows of s] += modules[s](x[rows of s]) in place, for every active stream; returns out.

        Same result as out + self(x) without building the concatenated tensor (the hot path
        of every adapted block).
        """
        if torch.onnx.is_in_onnx_export():  # in-place updates of views do not trace faithfully
            return out + self(x)
        active = self.router.active
        rows = x.shape[0] // len(active)
        if rows * len(active) != x.shape[0]:
            raise RuntimeError(f"batch of {x.shape[0]} rows does not split into {len(active)} streams")
        for position, stream in enumerate(active):
            out.narrow(0, position * rows, rows).add_(self.streams[stream](x.narrow(0, position * rows, rows)))
        return out

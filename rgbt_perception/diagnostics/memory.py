"""Giving freed heap memory back to the OS without taxing every frame; the resident size.

glibc keeps memory freed after bursts of large images (4K frames) and never returns it. Trimming
the heap on every diagnostics period returns it but makes the next frame fault its buffers'
pages back in, a cost every frame would pay. So the heap is trimmed only when the resident size
has grown by more than `slack` since the last trim, and at most once per `min_interval` (a
model's working set is freed and regrown every frame, which a size rule alone would trim each
time): the frame after a trim pays, the others do not, and a burst's memory still goes back
within that interval. The figures: docs/performance.md ("The node's own cost", "Soak").
"""

from __future__ import annotations

import ctypes
import os
import time


def _malloc_trim():
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


_MALLOC_TRIM = _malloc_trim()
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def resident_bytes() -> int:
    """This process's resident set size (0 where /proc is not available)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class HeapTrimmer:
    """`maybe_trim()` returns freed heap memory to the OS when the resident size has grown by
    more than `slack_mb` since the last trim (or since the first call) and the last trim is at
    least `min_interval` seconds ago; `trims` counts them."""

    def __init__(self, slack_mb: float = 100.0, min_interval: float = 30.0) -> None:
        self.slack, self.min_interval = int(slack_mb * 2**20), min_interval
        self.baseline: int | None = None
        self.last_trim = float("-inf")
        self.trims = 0

    def maybe_trim(self) -> bool:
        rss = resident_bytes()
        if self.baseline is None:
            self.baseline = rss
        if _MALLOC_TRIM is None or rss == 0:
            return False
        now = time.monotonic()
        if rss - self.baseline <= self.slack or now - self.last_trim < self.min_interval:
            return False
        _MALLOC_TRIM(0)
        self.trims, self.last_trim = self.trims + 1, now
        self.baseline = resident_bytes()
        return True

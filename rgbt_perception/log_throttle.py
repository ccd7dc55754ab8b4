"""Throttled warnings per key: a reason that repeats is logged once a period, and one noisy
reason never hides another (rclpy's own throttle is per call site, shared by every reason)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable


def reason_key(text: str) -> str:
    """The kind of a message: its text with numbers blanked ("step 1281 ..." ~ "step 7 ...")."""
    return re.sub(r"-?\d+(\.\d+)?", "#", text)


class ThrottledLog:
    """`warn(key, text)` logs through `sink` at most once per `period` seconds for each key, and
    says how many were held back since the last one."""

    def __init__(self, sink: Callable[[str], None], period: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.sink, self.period, self.clock = sink, period, clock
        self.last: dict[str, float] = {}
        self.held: dict[str, int] = {}

    def warn(self, key: str, text: str) -> bool:
        now = self.clock()
        if key in self.last and now - self.last[key] < self.period:
            self.held[key] = self.held.get(key, 0) + 1
            return False
        held = self.held.pop(key, 0)
        self.last[key] = now
        self.sink(text + (f" ({held} more like it in the last {self.period:g} s)" if held else ""))
        return True

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

    def __init__(self, sink: Callable[[str], None], period: float = 5.0, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 256):
        """Beyond `max_keys` reasons, the ones whose period has passed with nothing held back are
        forgotten (a node running all day meets many reasons; a forgotten one logs at once)."""
        self.sink, self.period, self.clock, self.max_keys = sink, period, clock, max_keys
        self.last: dict[str, float] = {}
        self.held: dict[str, int] = {}

    def warn(self, key: str, text: str) -> bool:
        now = self.clock()
        if key in self.last and now - self.last[key] < self.period:
            self.held[key] = self.held.get(key, 0) + 1
            return False
        if key not in self.last and len(self.last) >= self.max_keys:
            self.last = {k: t for k, t in self.last.items() if now - t < self.period or k in self.held}
        held = self.held.pop(key, 0)
        self.last[key] = now
        self.sink(text + (f" ({held} more like it in the last {self.period:g} s)" if held else ""))
        return True

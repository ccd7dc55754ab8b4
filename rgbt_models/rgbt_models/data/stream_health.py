"""Stream health of an RGB-thermal camera pair: which path a frame takes, and what is wrong.

A ROS-free policy with an injected clock: on the robot the monotonic wall clock when each
message arrives, in a bag the stamp of the message being read,
so that a bag replays the degraded mode exactly as the robot would have entered it:

- thermal missing: RGB frames have kept coming for `timeout` s without any thermal frame (a
  slow camera pair is not a missing thermal camera) -> RGB alone (SAMSOD's RGB-only head);
- unpairable: both cameras arrive, but no pair has formed for `timeout` s (stamps far apart:
  a clock or driver problem) -> RGB alone as well;
- silent: a camera not heard for `timeout` s (diagnostics); the RGB camera silent while thermal
  arrives is its own problem (every output hangs on RGB), never "unpairable".

A stream back after a silence gives pairing a fresh `timeout` before it counts as unpairable.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class StreamHealth:
    """Arrivals of the two streams and of pairs, and the decisions that follow from them.
    `timeout` is in the clock's unit (the node: s; the bag reader: ns of stamps, so that the
    comparison is exact) and may be changed at any time (a runtime parameter)."""

    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout, self.clock = timeout, clock
        self.last_seen: dict[str, float | None] = {"rgb": None, "thermal": None}
        self.last_stamp: dict[str, float | None] = {"rgb": None, "thermal": None}  # header stamps (s)
        self.rgb_without_thermal_since: float | None = None
        self.both_streams_since: float | None = None
        self.last_pair: float | None = None

    def seen(self, stream: str, stamp: float | None = None) -> None:
        """A valid frame of `stream` ('rgb' | 'thermal') arrived (stamp: its header stamp, s)."""
        now = self.clock()
        previous = self.last_seen[stream]
        if previous is not None and now - previous > self.timeout:
            self.both_streams_since = None  # back after a silence: pairing gets a fresh `timeout` to start
        self.last_seen[stream] = now
        self.last_stamp[stream] = stamp
        if stream == "thermal":
            self.rgb_without_thermal_since = None
        elif self.rgb_without_thermal_since is None:
            self.rgb_without_thermal_since = now
        if self.both_streams_since is None and None not in self.last_seen.values():
            self.both_streams_since = now

    def paired(self) -> None:
        self.last_pair = self.clock()

    def thermal_missing(self) -> bool:
        since = self.rgb_without_thermal_since
        return since is not None and self.clock() - since > self.timeout

    def unpairable(self) -> bool:
        now, thermal = self.clock(), self.last_seen["thermal"]
        if thermal is None or now - thermal > self.timeout or self.silent("rgb"):
            return False
        since = max(t for t in (self.last_pair, self.both_streams_since, 0.0) if t is not None)
        return now - since > self.timeout

    def silent(self, stream: str) -> bool:
        last = self.last_seen[stream]
        return last is None or self.clock() - last > self.timeout

    def stamp_offset_text(self, slop: float) -> str:
        rgb, thermal = self.last_stamp["rgb"], self.last_stamp["thermal"]
        if rgb is None or thermal is None:
            return "no stamps yet"
        offset = thermal - rgb
        return (f"thermal stamps are {abs(offset):.3f} s {'ahead of' if offset > 0 else 'behind'} RGB "
                f"(sync.slop {slop} s)")

    def problem(self, slop: float) -> str | None:
        """What a status report should say is wrong with the inputs, or None."""
        if self.silent("rgb") and self.silent("thermal"):
            return "no input: neither camera is publishing"
        if self.silent("rgb"):
            return "no RGB input: thermal arrives but the RGB camera is silent, nothing is published"
        if self.thermal_missing() and self.last_seen["rgb"] is not None:
            return "DEGRADED: thermal missing, saliency from RGB only, SARTM paused"
        if self.unpairable():
            return (f"DEGRADED: RGB and thermal cannot be paired ({self.stamp_offset_text(slop)}), "
                    "saliency from RGB only")
        return None

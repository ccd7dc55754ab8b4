"""Shutter freezes of uncooled thermal cameras (flat-field correction, FFC / NUC).

Every few seconds to minutes an uncooled microbolometer (FLIR Boson and Lepton, Optris, OAK-T)
closes its shutter to recalibrate, and for 0.5-3 s sends the last image again (or nothing).
Fused with moving RGB, such a frame puts warm objects where they no longer are. A live sensor's
frames are never bit-identical (sensor noise), so a run of identical (or, with a tolerance,
nearly identical) frames lasting longer than `duration` is a freeze. A driver that republishes
each sensor frame a few times (a 9 Hz core behind a 30 Hz topic) makes short runs that stay
below `duration`. Frames are told apart by their stamps: the same frame paired again with
another RGB frame (sync.policy latest) neither starts nor extends a run. ROS-free, so that a bag
replays it as the robot runs it.
"""

from __future__ import annotations

import numpy as np

FREEZE_POLICIES = ("degrade", "fuse")  # frozen thermal: RGB-only path, or fused anyway (only reported)


def nearly_equal(a: np.ndarray, b: np.ndarray, tolerance: float) -> bool:
    """Bit-identical (tolerance 0), or a mean absolute difference of at most `tolerance` times
    the value range of `a` (robust 1st-99th percentile span)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if tolerance <= 0:
        return bool(np.array_equal(a, b))
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    finite = np.isfinite(a32) & np.isfinite(b32)
    if not finite.any():
        return False
    low, high = np.percentile(a32[finite], (1, 99))
    span = max(float(high - low), 1e-6)
    return float(np.abs(a32[finite] - b32[finite]).mean()) <= tolerance * span


class FreezeDetector:
    """Tracks runs of identical thermal frames; `update` says whether a frame is frozen."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.previous: np.ndarray | None = None
        self.previous_stamp: float | None = None
        self.run_start: float | None = None  # stamp of the first frame of the current run of equal frames
        self.frozen = False
        self.frozen_frames = 0  # frozen frames seen (distinct stamps)

    @property
    def frozen_for(self) -> float:
        """How long the current freeze has lasted (s of stamps; 0 when not frozen)."""
        if not self.frozen or self.previous_stamp is None or self.run_start is None:
            return 0.0
        return self.previous_stamp - self.run_start

    def update(self, image: np.ndarray, stamp: float, duration: float, tolerance: float = 0.0) -> bool:
        """Whether the thermal frame stamped `stamp` (s) is frozen: equal (within `tolerance`)
        to the frames before it for more than `duration` s. duration < 0 switches detection off."""
        if duration < 0:
            self.frozen = False
            return False
        if self.previous_stamp is not None and stamp == self.previous_stamp:
            return self.frozen  # the same frame again (paired with another RGB frame)
        if self.previous_stamp is not None and stamp < self.previous_stamp:
            self.reset()  # time went backwards: a bag starting over
        same = self.previous is not None and nearly_equal(self.previous, image, tolerance)
        if not same:
            self.run_start = stamp
        self.previous, self.previous_stamp = image, stamp
        self.frozen = same and stamp - self.run_start > duration
        self.frozen_frames += int(self.frozen)
        return self.frozen

"""Thermal image normalisation to [0, 1] for 8-bit, 16-bit raw and float (e.g. kelvin) inputs,
and the thermal set-up a model is trained with (stored in its checkpoint, applied by every tool).

Normalisations of 16-bit and float images: 'fixed' (a set range, e.g. centi-kelvin 27315..37315
for 0..100 C), 'minmax' and 'percentile' (each frame rescaled on its own: a hot object entering
the view darkens the whole background from one frame to the next) and 'stable' (the percentile
range tracked over time: an exponential moving average with time constant `time_constant` s, a
dead band of HYSTERESIS of the range, and a range that changes by at most a factor e per time
constant, so that the input the models see does not flicker; on a still image, without a time,
it is the percentile normalisation, which is what training on still images uses). 8-bit images
are display-scaled already and divided by 255 in every mode.
Polarity: a black-hot camera (warm = dark) is turned white-hot, what the models are trained on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

THERMAL_NORMALIZATIONS = ("fixed", "minmax", "percentile", "stable")
POLARITIES = ("white_hot", "black_hot")
HYSTERESIS = 0.02  # 'stable': percentile moves smaller than this share of the range are ignored


@dataclass(frozen=True)
class ThermalSetup:
    """How raw thermal becomes a model's [0, 1] input."""

    normalization: str = "minmax"
    range: tuple[float, float] = (0.0, 65535.0)  # 'fixed'
    percentiles: tuple[float, float] = (1.0, 99.0)  # 'percentile', 'stable'
    time_constant: float = 2.0  # 'stable' (s)
    polarity: str = "white_hot"

    def __post_init__(self) -> None:
        if self.normalization not in THERMAL_NORMALIZATIONS:
            raise ValueError(f"thermal normalisation must be one of {THERMAL_NORMALIZATIONS}, got "
                             f"{self.normalization!r}")
        if self.polarity not in POLARITIES:
            raise ValueError(f"thermal polarity must be one of {POLARITIES}, got {self.polarity!r}")
        object.__setattr__(self, "range", tuple(float(v) for v in self.range))
        object.__setattr__(self, "percentiles", tuple(float(v) for v in self.percentiles))
        if len(self.range) != 2 or not self.range[0] < self.range[1]:
            raise ValueError(f"thermal range must be [low, high] with low < high, got {list(self.range)}")
        low, high = self.percentiles
        if len(self.percentiles) != 2 or not 0 <= low < high <= 100:
            raise ValueError(f"thermal percentiles must be [low, high] within 0..100, got {list(self.percentiles)}")
        if not self.time_constant > 0:
            raise ValueError(f"thermal time constant must be > 0 s, got {self.time_constant}")

    def to_dict(self) -> dict:
        values = asdict(self)
        return {**values, "range": list(self.range), "percentiles": list(self.percentiles)}

    @classmethod
    def from_dict(cls, values: dict) -> ThermalSetup:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in known.items()})

    def overridden(self, **given) -> ThermalSetup:
        """This set-up with the fields `given` as not None replaced (lists as tuples): a tool's
        options or a config section on top of what a checkpoint recorded."""
        return replace(self, **{k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None})

    def describe(self) -> str:
        detail = {"fixed": f" {self.range[0]:g}..{self.range[1]:g}",
                  "percentile": f" {self.percentiles[0]:g}-{self.percentiles[1]:g} %",
                  "stable": f" {self.percentiles[0]:g}-{self.percentiles[1]:g} %, {self.time_constant:g} s"}
        return f"{self.normalization}{detail.get(self.normalization, '')}, {self.polarity.replace('_', '-')}"


def trained_setup_with(trained: ThermalSetup | None, **given) -> ThermalSetup:
    """"The trained set-up plus overrides": the set-up a model was trained with
    (`trained`; minmax, white-hot where it records none) with the fields `given` as not None
    replaced. The node's parameters, rgbt-eval's options, rgbt-train's data section and UUSOD's
    data section all become a set-up through it."""
    return (trained or ThermalSetup()).overridden(**given)


def setup_line(setup: ThermalSetup, trained: ThermalSetup | None) -> str:
    """The line saying which thermal set-up a tool uses against the one its model(s) were
    trained with; a tool logs it as a warning when `differs(setup, trained)`."""
    if trained is None:
        return f"thermal set-up: {setup.describe()}; the checkpoints do not say which set-up they were trained with"
    if setup == trained:
        return f"thermal set-up: {setup.describe()}; trained with: the same"
    return (f"thermal set-up: {setup.describe()}; trained with: {trained.describe()} "
            f"(the models see another input distribution)")


def differs(setup: ThermalSetup, trained: ThermalSetup | None) -> bool:
    """Whether a tool feeds the models another set-up than the one they were trained with."""
    return trained is not None and setup != trained


class StableRange:
    """The 'stable' normalisation's state: the tracked low and high percentile of one stream."""

    def __init__(self) -> None:
        self.low: float | None = None
        self.high: float | None = None
        self.stamp: float | None = None

    def update(self, low: float, high: float, stamp: float | None, time_constant: float) -> tuple[float, float]:
        """The range after a frame with percentiles (low, high) at `stamp` (s). No stamp, a first
        frame, time going backwards or a gap of more than 5 time constants start afresh."""
        fresh = (self.low is None or stamp is None or self.stamp is None or stamp < self.stamp
                 or stamp - self.stamp > 5 * time_constant)
        if fresh:
            self.low, self.high = low, high
        else:
            dt = stamp - self.stamp
            alpha = 1.0 - math.exp(-dt / time_constant)
            span = max(self.high - self.low, 1e-6)
            # Each bound moves by at most span * (e^(dt/tc) - 1): the range changes by a bounded
            # factor per time constant, so a normalised pixel changes by a few % per frame
            # however far the percentiles jump (a 48x wider range takes ln 48 = 3.9 time constants).
            limit = span * math.expm1(dt / time_constant)
            self.low = _towards(self.low, low, alpha, HYSTERESIS * span, limit)
            self.high = _towards(self.high, high, alpha, HYSTERESIS * span, limit)
        self.stamp = stamp
        return self.low, self.high


def _towards(current: float, target: float, alpha: float, band: float, limit: float) -> float:
    """One EMA step of `current` towards `target`, ignoring a dead band and at most `limit`."""
    step = target - current
    if abs(step) <= band:
        return current
    move = alpha * (step - math.copysign(band, step))
    return current + max(-limit, min(limit, move))


def thermal_to_unit(image: np.ndarray, setup: ThermalSetup, tracker: StableRange | None = None,
                    stamp: float | None = None) -> np.ndarray:
    """Raw thermal -> float32 [0, 1], white-hot, as `setup` says ('stable' tracks its range in
    `tracker` over the stamps given; without a tracker it is the frame's percentile range)."""
    mode, value_range = setup.normalization, setup.range
    if mode == "stable" and image.dtype != np.uint8:
        finite = np.isfinite(image) if image.dtype.kind == "f" else None
        values = image[finite] if finite is not None else image
        if values.size == 0:
            raise ValueError("thermal image has no finite pixel")
        low, high = (float(v) for v in np.percentile(values, setup.percentiles))
        if tracker is not None:
            low, high = tracker.update(low, high, stamp, setup.time_constant)
        mode, value_range = "fixed", (low, high if high > low else low + 1.0)
    elif mode == "stable":
        mode = "fixed"
    unit = normalize_thermal(image, mode, value_range, setup.percentiles)
    return 1.0 - unit if setup.polarity == "black_hot" else unit


def normalize_thermal(image: np.ndarray, mode: str = "minmax", value_range: tuple[float, float] = (0.0, 255.0),
                      percentiles: tuple[float, float] = (1.0, 99.0)) -> np.ndarray:
    """Map a thermal image to float32 [0, 1].

    uint8 images are divided by 255 whatever the mode (they are already display-scaled).
    For 16-bit and float images: 'fixed' maps value_range linearly, 'minmax' the frame's
    min..max, 'percentile' the frame's low..high percentiles (robust to hot spots).
    Non-finite pixels (NaN, inf) are set to the low end; an image without any finite pixel
    raises ValueError.
    """
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    # float64 for float inputs: a range near the float32 limits (+-3e38) must not overflow to inf.
    data = image.astype(np.float64 if image.dtype.kind == "f" else np.float32)
    finite = np.isfinite(data)
    if not finite.any():
        raise ValueError("thermal image has no finite pixel")
    if mode == "fixed":
        low, high = value_range
    elif mode == "minmax":
        values = data[finite]
        low, high = float(values.min()), float(values.max())
    elif mode in ("percentile", "stable"):  # 'stable' on a still image: its percentile range
        low, high = (float(v) for v in np.percentile(data[finite], percentiles))
    else:
        raise ValueError(f"unknown thermal normalisation {mode!r}; choose one of {THERMAL_NORMALIZATIONS}")
    if not finite.all():
        data = np.where(finite, data, low)
    scale = high - low if high > low else 1.0
    if not np.isfinite(scale):
        raise ValueError(f"thermal normalisation range {low}..{high} is not finite")
    return np.clip((data - low) / scale, 0.0, 1.0).astype(np.float32)

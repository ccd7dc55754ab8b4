"""Thermal image normalisation to [0, 1] for 8-bit, 16-bit raw and float (e.g. kelvin) inputs."""

from __future__ import annotations

import numpy as np

THERMAL_NORMALIZATIONS = ("fixed", "minmax", "percentile")


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
    elif mode == "percentile":
        low, high = (float(v) for v in np.percentile(data[finite], percentiles))
    else:
        raise ValueError(f"unknown thermal normalisation {mode!r}; choose one of {THERMAL_NORMALIZATIONS}")
    if not finite.all():
        data = np.where(finite, data, low)
    scale = high - low if high > low else 1.0
    if not np.isfinite(scale):
        raise ValueError(f"thermal normalisation range {low}..{high} is not finite")
    return np.clip((data - low) / scale, 0.0, 1.0).astype(np.float32)

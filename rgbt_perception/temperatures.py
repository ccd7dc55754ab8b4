"""Temperatures from a radiometric thermal camera, in the outputs' pixel grid (ROS-free).

A radiometric camera reports a linear function of the scene temperature: FLIR's TLinear mode
0.01 K per count (Boson, Lepton 3.5), many 16-bit drivers centi-kelvin, 32FC1 drivers kelvin.
`thermal.kelvin_scale` and `thermal.kelvin_offset` say which: K = raw * scale + offset (scale 0:
not radiometric, every temperature NaN). The raw image is brought into the RGB camera's frame
(thermal.homography, or a resize when the sizes differ) and onto the output size with
nearest-neighbour sampling, so that every temperature is one the camera measured, never a blend
of an object and its background.
"""

from __future__ import annotations

import cv2
import numpy as np


def kelvin_map(raw: np.ndarray, scale: float, offset: float, rgb_size: tuple[int, int],
               output_size: tuple[int, int], homography: np.ndarray | None = None) -> np.ndarray:
    """(H_out, W_out) float32 kelvin of raw thermal (NaN where it has no finite value or the
    homography maps outside the thermal image)."""
    values = raw.astype(np.float32)
    rgb_h, rgb_w = rgb_size
    if homography is not None:
        values = cv2.warpPerspective(values, homography, (rgb_w, rgb_h), flags=cv2.INTER_NEAREST,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
    elif values.shape != (rgb_h, rgb_w):
        values = cv2.resize(values, (rgb_w, rgb_h), interpolation=cv2.INTER_NEAREST)
    out_h, out_w = output_size
    if values.shape != (out_h, out_w):
        values = cv2.resize(values, (out_w, out_h), interpolation=cv2.INTER_NEAREST)
    return values * np.float32(scale) + np.float32(offset)


def region_temperatures(kelvin: np.ndarray, labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, max) kelvin of each label 0..count-1 over its finite pixels (NaN for none)."""
    finite = np.isfinite(kelvin)
    flat_labels, flat = labels[finite].ravel(), kelvin[finite].ravel().astype(np.float64)
    counts = np.bincount(flat_labels, minlength=count)[:count]
    sums = np.bincount(flat_labels, weights=flat, minlength=count)[:count]
    highest = np.full(count, -np.inf)
    np.maximum.at(highest, flat_labels, flat)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / counts, np.nan)
    return mean.astype(np.float32), np.where(counts > 0, highest, np.nan).astype(np.float32)

"""A registered RGB-thermal pair as a camera pair with known misregistration would see it.

Calibration is proven on registered pairs (real ones from public data sets, and synthetic scenes)
by undoing what it should recover: the RGB camera sees a centre crop of the registered view, the
thermal camera its own view of the same scene through a known thermal -> RGB homography, at its
own resolution, with real scene content (not a filled border) wherever the crop's margin allows.
"""

from __future__ import annotations

import cv2
import numpy as np

from rgbt_models.calibration.result import turn_about


def misregistration(dx: float, dy: float, scale: float, degrees: float, size: tuple[int, int],
                    thermal_size: tuple[int, int] | None = None) -> np.ndarray:
    """A thermal -> RGB homography: the thermal camera's pixels (of `thermal_size`, default the RGB
    `size`, both (width, height)) scaled to the RGB size, turned by `degrees` and scaled by `scale`
    about the centre, then shifted by (dx, dy) RGB px."""
    width, height = size
    thermal_width, thermal_height = thermal_size or size
    to_rgb = np.diag([width / thermal_width, height / thermal_height, 1.0])
    return turn_about(((width - 1) / 2, (height - 1) / 2), scale, degrees, (dx, dy)) @ to_rgb


def seen_through(rgb: np.ndarray, thermal: np.ndarray, homography: np.ndarray, margin: float = 0.12,
                 thermal_size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(RGB crop, thermal camera image) of a registered pair (thermal the RGB's size): the RGB
    camera sees the view less `margin` of it on every side; the thermal camera pixel p sees the
    registered thermal at crop pixel homography @ p (so the homography registers it again)."""
    height, width = rgb.shape[:2]
    left, top = round(margin * width), round(margin * height)
    crop = rgb[top:height - top, left:width - left]
    size = (crop.shape[1], crop.shape[0])
    out = thermal_size or size
    shift = np.array([[1.0, 0, left], [0, 1.0, top], [0, 0, 1.0]])
    camera = cv2.warpPerspective(thermal, shift @ homography, out, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_REFLECT)
    return np.ascontiguousarray(crop), camera

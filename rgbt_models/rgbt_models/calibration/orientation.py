"""Edge orientation: the similarity between an RGB and a thermal image that survives the change of modality.

The two cameras see different intensities (a warm wall may be dark in RGB, a painted line has no
temperature), and their gradient magnitudes correlate weakly on real pairs (about 0.1-0.5). Where
both show an edge, though, it runs the same way. So each image becomes a field of doubled-angle
orientations, z = (gx + i gy)^2 / (|g|^2 + eps^2): its angle is twice the edge's (an edge that is
bright-to-dark in one camera and dark-to-bright in the other matches), its magnitude is near 1 on
any clear edge whatever its contrast and near 0 on flat or noisy ground (eps is the image's own mean
gradient power). Two fields are compared by the real part of their normalised correlation, the
mean of cos(2 x the angle between the edges), weighted by both magnitudes: 1 when every edge
agrees, about 0 for unrelated images ("orientation correlation", as in multimodal image
registration). Held as two float32 channels (cos, sin) so that OpenCV's template matching sums
the product over both.
"""

from __future__ import annotations

import cv2
import numpy as np


def orientation_field(gray: np.ndarray, blur: float = 1.0, valid: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 2) float32 doubled-angle orientation field of a float gray image; zero outside `valid`
    (a warped image's defined pixels, shrunk so that its border is no edge)."""
    smooth = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), blur)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    power = gx * gx + gy * gy
    inside = power if valid is None else power[valid]
    eps2 = max(float(inside.mean()) if inside.size else 0.0, 1e-12)
    field = np.stack([gx * gx - gy * gy, 2 * gx * gy], axis=2) / (power + eps2)[..., None]
    if valid is not None:
        field[~valid] = 0.0
    return field.astype(np.float32)


def warp_field(gray: np.ndarray, warp: np.ndarray, size: tuple[int, int], blur: float = 1.0) -> np.ndarray:
    """The orientation field of `gray` seen through `warp` (3x3, gray's pixel -> output pixel) in an
    output of `size` (width, height); zero where the warped image is not defined."""
    warped = cv2.warpPerspective(gray, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    defined = cv2.warpPerspective(np.ones(gray.shape, np.uint8), warp, size, flags=cv2.INTER_NEAREST,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    margin = max(2, round(2 * blur) + 2)
    valid = cv2.erode(defined, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)).astype(bool)
    return orientation_field(warped, blur, valid)


def correlation_surface(fixed: np.ndarray, moving: np.ndarray, reach: int) -> np.ndarray:
    """Normalised orientation correlation of `moving` placed at every offset (dx, dy) in
    [-reach, reach]^2 over `fixed` (same size): surface[reach + dy, reach + dx] compares moving's
    pixel y with fixed's y + (dx, dy). Outside `fixed` counts as no edge."""
    padded = cv2.copyMakeBorder(fixed, reach, reach, reach, reach, cv2.BORDER_CONSTANT, value=(0.0, 0.0))
    return cv2.matchTemplate(padded, moving, cv2.TM_CCORR_NORMED)


def peak(surface: np.ndarray) -> tuple[float, float, float]:
    """(dx, dy, value) of a surface's maximum, to a sub-pixel by a parabola through its neighbours,
    as an offset from the surface's centre."""
    row, column = np.unravel_index(int(np.argmax(surface)), surface.shape)
    value = float(surface[row, column])

    def vertex(minus: float, centre: float, plus: float) -> float:
        curvature = minus - 2 * centre + plus
        return 0.0 if curvature >= 0 else float(np.clip(0.5 * (minus - plus) / curvature, -0.5, 0.5))

    dx = column + (vertex(*surface[row, column - 1:column + 2]) if 0 < column < surface.shape[1] - 1 else 0.0)
    dy = row + (vertex(*surface[row - 1:row + 2, column]) if 0 < row < surface.shape[0] - 1 else 0.0)
    return dx - surface.shape[1] // 2, dy - surface.shape[0] // 2, value


def similarity_terms(fixed: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """(sum a.b, sum |a|^2, sum |b|^2) of two fields where the moving one is defined: summed over
    several frames and combined by `similarity`, frames with more edges weigh more."""
    inside = np.any(moving != 0, axis=2)
    a, b = fixed[inside], moving[inside]
    return np.array([(a * b).sum(), (a * a).sum(), (b * b).sum()], np.float64)


def similarity(terms: np.ndarray) -> float:
    """The orientation correlation from (summed) `similarity_terms`."""
    return float(terms[0] / max(np.sqrt(terms[1] * terms[2]), 1e-12))

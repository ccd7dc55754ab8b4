"""RGB-thermal registration without a target: the thermal -> RGB homography from unlabeled pairs.

Intensities of the two cameras do not correspond (a warm wall may be dark in RGB), but their
edges do: object outlines, the horizon, the borders of materials. Each pair becomes two gradient
magnitude images (polarity does not matter), normalised to zero mean and unit variance; OpenCV's
ECC (enhanced correlation coefficient, `cv2.findTransformECC`, a maximiser of the normalised
correlation that is insensitive to gain and offset) aligns them, by an affine map (default) or
a homography per frame, at full
resolution (an image pyramid's coarse levels lose the thin common edges and mislead it); a frame
whose correlation does not rise above MIN_SCORE and above its start is left out. Frames are
combined robustly: each frame's homography maps a grid of points, the median position of every
point over the frames that converged is taken, and one homography is fitted to those medians.
Reported with it: the score (the median, over the frames, of the gradient correlation after
alignment; against the same before), the consistency (median distance of the frames' own
estimates from the result, pixels) and how many frames converged.

Refused, with the reason, when the frames carry too little structure to be trusted: too few
frames with edges at all, too few that converge, a consistency worse than `max_spread` pixels,
or a score too low. Output: `thermal.homography` (row-major, thermal pixel -> RGB pixel), what
the node's parameter of that name takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_EDGE_SHARE = 0.02  # a frame needs this share of strong-gradient pixels to be used
MIN_FRAMES = 3
MIN_SCORE = 0.2
MOTIONS = ("affine", "homography")


class CalibrationRefused(ValueError):
    """The frames cannot give a trustworthy homography; the message says why."""


@dataclass
class Calibration:
    homography: np.ndarray  # 3x3, thermal pixel -> RGB pixel
    score: float  # edges: median gradient correlation after alignment; checkerboard: inlier share
    score_before: float  # edges: the same with the identity (sizes matched); checkerboard: NaN
    spread_px: float  # edges: median distance of the frames' estimates from the result; checkerboard: RMS error
    frames_used: int
    frames_offered: int


def describe(result: Calibration) -> str:
    """One line: how the homography was found and how well it fits."""
    if np.isnan(result.score_before):
        return (f"checkerboard in {result.frames_used} of {result.frames_offered} pairs, {100 * result.score:.0f} % "
                f"of the corners inliers, RMS error {result.spread_px:.2f} px")
    return (f"{result.frames_used} of {result.frames_offered} pairs aligned, score {result.score:.2f} (before "
            f"alignment {result.score_before:.2f}), frames agree within {result.spread_px:.2f} px (median)")


def gradient_image(image: np.ndarray, blur: float = 1.0) -> np.ndarray:
    """Normalised gradient magnitude (float32, zero mean, unit variance) of a gray image."""
    smooth = cv2.GaussianBlur(image.astype(np.float32), (0, 0), blur)
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = cv2.magnitude(gx, gy)
    return ((magnitude - magnitude.mean()) / max(float(magnitude.std()), 1e-6)).astype(np.float32)


def edge_share(gradient: np.ndarray) -> float:
    """Share of pixels whose normalised gradient stands out (> 1 std above the mean)."""
    return float((gradient > 1.0).mean())


def gray_unit(image: np.ndarray) -> np.ndarray:
    """RGB or thermal (any dtype) as a float32 gray image in [0, 1] (1st-99th percentile)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    gray = gray.astype(np.float32)
    finite = np.isfinite(gray)
    if not finite.any():
        return np.zeros_like(gray)
    low, high = np.percentile(gray[finite], (1, 99))
    return np.clip((np.where(finite, gray, low) - low) / max(float(high - low), 1e-6), 0, 1).astype(np.float32)


def correlation(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    a, b = (a[mask], b[mask]) if mask is not None else (a.ravel(), b.ravel())
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-9))


def align_pair(rgb_grad: np.ndarray, thermal_grad: np.ndarray, motion: str = "affine",
               iterations: int = 200) -> tuple[np.ndarray, float] | None:
    """ECC warp W, 3x3 (RGB pixel -> pixel of the thermal image resized to the RGB size), and its
    correlation; None when ECC does not converge. Full resolution (an image pyramid's coarse
    levels lose the thin common edges and mislead it)."""
    affine = motion == "affine"
    warp = np.eye(2, 3, dtype=np.float32) if affine else np.eye(3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-7)
    try:
        score, warp = cv2.findTransformECC(rgb_grad, thermal_grad, warp,
                                           cv2.MOTION_AFFINE if affine else cv2.MOTION_HOMOGRAPHY, criteria, None, 5)
    except cv2.error:
        return None
    warp = np.vstack([warp, [0.0, 0.0, 1.0]]) if affine else warp.astype(np.float64)
    return warp / warp[2, 2], float(score)


def grid_points(width: int, height: int, steps: int = 5) -> np.ndarray:
    xs, ys = np.meshgrid(np.linspace(0, width - 1, steps), np.linspace(0, height - 1, steps))
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)


def apply_homography(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    mapped = np.c_[points, np.ones(len(points))] @ homography.T
    return mapped[:, :2] / mapped[:, 2:3]


def calibrate(pairs, max_spread: float = 3.0, motion: str = "affine") -> Calibration:
    """The thermal -> RGB homography from (rgb (H, W, 3) uint8, raw thermal) pairs. motion:
    'affine' (6 degrees of freedom per frame: measured 0.2-2 px per frame on the synthetic
    drive, where a full homography per frame scattered 1-7 px) or 'homography' (8: for cameras
    whose optical axes are not parallel, with much more structure)."""
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {MOTIONS}, got {motion!r}")
    pairs = list(pairs)
    estimates, before, after, rgb_size = [], [], [], None
    for rgb, thermal in pairs:
        height, width = rgb.shape[:2]
        rgb_size = (height, width)
        scale = np.diag([width / thermal.shape[1], height / thermal.shape[0], 1.0])  # thermal px -> resized px
        rgb_grad = gradient_image(gray_unit(rgb))
        thermal_grad = gradient_image(cv2.resize(gray_unit(thermal), (width, height), interpolation=cv2.INTER_AREA))
        if min(edge_share(rgb_grad), edge_share(thermal_grad)) < MIN_EDGE_SHARE:
            continue
        aligned = align_pair(rgb_grad, thermal_grad, motion)
        start = correlation(rgb_grad, thermal_grad)
        if aligned is None or aligned[1] < MIN_SCORE or aligned[1] <= start:
            continue  # no common structure found in this frame (e.g. a dark RGB image at night)
        warp, score = aligned
        before.append(start)
        after.append(score)
        estimates.append(np.linalg.inv(warp) @ scale)  # thermal px -> RGB px
    if len(estimates) < MIN_FRAMES:
        raise CalibrationRefused(
            f"only {len(estimates)} of {len(pairs)} frames have enough structure (edges in both cameras) and "
            f"align; at least {MIN_FRAMES} are needed: record a scene with objects, edges and temperature "
            "differences (not a blank wall or the sky)")
    height, width = rgb_size
    thermal_shape = pairs[0][1].shape
    grid = grid_points(thermal_shape[1], thermal_shape[0])
    mapped = np.stack([apply_homography(h, grid) for h in estimates])
    median = np.median(mapped, axis=0)
    homography, _ = cv2.findHomography(grid, median, 0)
    homography = homography / homography[2, 2]
    spread = float(np.median(np.linalg.norm(mapped - apply_homography(homography, grid)[None], axis=2)))
    score, score_before = float(np.median(after)), float(np.median(before))
    if spread > max_spread:
        raise CalibrationRefused(f"the frames disagree: their homographies are {spread:.1f} px apart (median; at "
                                 f"most {max_spread} px): too little common structure, or the cameras moved apart")
    if score < MIN_SCORE:
        raise CalibrationRefused(f"the aligned edges correlate only {score:.2f} (at least {MIN_SCORE}): too little "
                                 "structure common to both cameras")
    return Calibration(homography, score, score_before, spread, len(estimates), len(pairs))


def checkerboard_corners(image: np.ndarray, pattern: tuple[int, int]) -> np.ndarray | None:
    """Inner corners (N, 2) of a `pattern` (columns, rows) checkerboard, sub-pixel; a heated
    board may show either polarity in thermal: both are tried."""
    gray = (gray_unit(image) * 255).astype(np.uint8)
    for candidate in (gray, 255 - gray):
        found, corners = cv2.findChessboardCorners(candidate, pattern, flags=cv2.CALIB_CB_ADAPTIVE_THRESH)
        if found:
            corners = cv2.cornerSubPix(candidate, corners, (5, 5), (-1, -1),
                                       (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-3))
            return corners.reshape(-1, 2).astype(np.float64)
    return None


def calibrate_checkerboard(pairs, pattern: tuple[int, int], max_rms: float = 2.0) -> Calibration:
    """The thermal -> RGB homography from pairs that show a heated checkerboard (inner corners
    `pattern`) to both cameras: the corners found in both images of a pair are matched (the
    thermal corner order, which the board's symmetry leaves open, is the one of the two that
    fits), and one homography is fitted to all of them with RANSAC. Reported: the inlier share
    (score) and the RMS reprojection error of the inliers (px). Refused with fewer than 3 frames
    with the board found in both cameras, or an RMS error above `max_rms`."""
    pairs = list(pairs)
    thermal_points, rgb_points, frames = [], [], 0
    for rgb, thermal in pairs:
        rgb_corners, thermal_corners = checkerboard_corners(rgb, pattern), checkerboard_corners(thermal, pattern)
        if rgb_corners is None or thermal_corners is None:
            continue
        fits = []
        for order in (thermal_corners, thermal_corners[::-1]):
            homography, _ = cv2.findHomography(order, rgb_corners, 0)
            if homography is not None:
                fits.append((float(np.linalg.norm(apply_homography(homography, order) - rgb_corners, axis=1).mean()),
                             order))
        if not fits:
            continue
        thermal_points.append(min(fits, key=lambda fit: fit[0])[1])
        rgb_points.append(rgb_corners)
        frames += 1
    if frames < MIN_FRAMES:
        raise CalibrationRefused(f"the {pattern[0]}x{pattern[1]} checkerboard was found in both cameras in only "
                                 f"{frames} of {len(pairs)} frames (at least {MIN_FRAMES}): heat the board, fill more "
                                 "of the view with it, or check --checkerboard (inner corners, columns x rows)")
    source, target = np.concatenate(thermal_points), np.concatenate(rgb_points)
    homography, inliers = cv2.findHomography(source, target, cv2.RANSAC, 3.0)
    inliers = inliers.ravel().astype(bool)
    homography = homography / homography[2, 2]
    rms = float(np.sqrt((np.linalg.norm(apply_homography(homography, source[inliers]) - target[inliers], axis=1)
                         ** 2).mean()))
    if rms > max_rms:
        raise CalibrationRefused(f"the checkerboard corners fit a homography only to {rms:.2f} px RMS (at most "
                                 f"{max_rms}): a board that bends, or cameras whose views differ by parallax")
    return Calibration(homography, float(inliers.mean()), float("nan"), rms, frames, len(pairs))


def parameters_yaml(result: Calibration, source: str) -> str:
    """A --params-file snippet with thermal.homography, and how it was found."""
    values = ", ".join(f"{v:.6g}" for v in result.homography.ravel())
    return (f"# rgbt-calibrate from {source}: {describe(result)}\n"
            "/**/rgbt_perception:\n  ros__parameters:\n"
            f"    thermal.homography: [{values}]  # thermal pixel -> RGB pixel, row-major\n")

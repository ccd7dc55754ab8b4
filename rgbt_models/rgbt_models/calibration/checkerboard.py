"""The thermal -> RGB homography from a heated checkerboard seen by both cameras.

A checkerboard's corner list is only defined up to the board's symmetry: OpenCV may number the
corners from either end (a point reflection of the grid, which a homography fits exactly), and a
square board also from either side. Of the orders that fit, the one that keeps the two cameras'
"up" the same (the map's rotation at the board nearest 0) is taken: cameras mounted side by side
on a robot differ by a few degrees, not by a half turn.
"""

from __future__ import annotations

import cv2
import numpy as np

from rgbt_models.calibration.result import Calibration, CalibrationRefused, apply_homography, gray_unit

MIN_FRAMES = 3
MIN_INLIER_SHARE = 0.9


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


def corner_orders(corners: np.ndarray, pattern: tuple[int, int]) -> list[np.ndarray]:
    """Every numbering of the same corners that the board's symmetry allows."""
    grid = corners.reshape(pattern[1], pattern[0], 2)
    turns = (0, 1, 2, 3) if pattern[0] == pattern[1] else (0, 2)
    return [np.rot90(grid, k).reshape(-1, 2) for k in turns]


def rotation_at(homography: np.ndarray, point: np.ndarray) -> float:
    """The angle (deg) by which a homography turns the neighbourhood of a point."""
    probes = apply_homography(homography, point + np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    jacobian = np.stack([probes[1] - probes[0], probes[2] - probes[0]], axis=1)
    return float(np.degrees(np.arctan2(jacobian[1, 0] - jacobian[0, 1], jacobian[0, 0] + jacobian[1, 1])))


def match_board(rgb_corners: np.ndarray, thermal_corners: np.ndarray, pattern: tuple[int, int]) -> np.ndarray | None:
    """The thermal corners in the RGB corners' order: of the orders a homography fits (within 2 px
    mean), the one that turns the board least."""
    fits = []
    for order in corner_orders(thermal_corners, pattern):
        homography, _ = cv2.findHomography(order, rgb_corners, 0)
        if homography is None:
            continue
        error = float(np.linalg.norm(apply_homography(homography, order) - rgb_corners, axis=1).mean())
        if error <= 2.0:
            fits.append((abs(rotation_at(homography, order.mean(axis=0))), order))
    return min(fits, key=lambda fit: fit[0])[1] if fits else None


def calibrate_checkerboard(pairs, pattern: tuple[int, int], max_rms: float = 2.0) -> Calibration:
    """The thermal -> RGB homography from pairs that show a heated checkerboard (inner corners
    `pattern`) to both cameras: the corners found in both images of a pair are matched, and one
    homography is fitted to all of them with RANSAC. Reported: the inlier share (score) and the
    RMS reprojection error of the inliers (px). Refused with fewer than 3 frames with the board
    found in both cameras, fewer than 90 % of the corners inliers, or an RMS error above `max_rms`."""
    pairs = list(pairs)
    thermal_points, rgb_points = [], []
    for rgb, thermal in pairs:
        rgb_corners, thermal_corners = checkerboard_corners(rgb, pattern), checkerboard_corners(thermal, pattern)
        if rgb_corners is None or thermal_corners is None:
            continue
        matched = match_board(rgb_corners, thermal_corners, pattern)
        if matched is not None:
            thermal_points.append(matched)
            rgb_points.append(rgb_corners)
    frames = len(rgb_points)
    if frames < MIN_FRAMES:
        raise CalibrationRefused(f"the {pattern[0]}x{pattern[1]} checkerboard was found in both cameras in only "
                                 f"{frames} of {len(pairs)} frames (at least {MIN_FRAMES}): heat the board, fill more "
                                 "of the view with it, or check --checkerboard (inner corners, columns x rows)")
    source, target = np.concatenate(thermal_points), np.concatenate(rgb_points)
    cv2.setRNGSeed(0)
    homography, inliers = cv2.findHomography(source, target, cv2.RANSAC, 3.0)
    inliers = inliers.ravel().astype(bool)
    homography = homography / homography[2, 2]
    rms = float(np.sqrt((np.linalg.norm(apply_homography(homography, source[inliers]) - target[inliers], axis=1)
                         ** 2).mean()))
    if inliers.mean() < MIN_INLIER_SHARE:
        raise CalibrationRefused(f"only {100 * inliers.mean():.0f} % of the checkerboard corners fit one homography "
                                 f"(at least {100 * MIN_INLIER_SHARE:.0f} %): the board was matched inconsistently "
                                 "between frames, or the cameras moved during the recording")
    if rms > max_rms:
        raise CalibrationRefused(f"the checkerboard corners fit a homography only to {rms:.2f} px RMS (at most "
                                 f"{max_rms}): a board that bends, or cameras whose views differ by parallax")
    return Calibration(homography, float(inliers.mean()), float("nan"), rms, frames, len(pairs))

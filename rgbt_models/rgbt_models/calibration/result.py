"""What a calibration returns, how it is told, and the point arithmetic both routes share."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


class CalibrationRefused(ValueError):
    """The frames cannot give a trustworthy homography; the message says why."""


@dataclass
class Calibration:
    """The thermal -> RGB homography (full-resolution pixels of each camera) and how well it holds."""

    homography: np.ndarray  # 3x3, thermal pixel -> RGB pixel
    score: float  # edges: orientation correlation after alignment; checkerboard: inlier share
    score_before: float  # edges: the same at the identity (sizes matched); checkerboard: NaN
    spread_px: float  # edges: median offset of a frame's own edges from the result; checkerboard: RMS error
    frames_used: int
    frames_offered: int
    margin: float = float("nan")  # edges: the share of the score by which it beats the answer moved a few px
    prominence: float = float("nan")  # edges: how far the coarse search's peak stands above any other


def describe(result: Calibration) -> str:
    """One line: how the homography was found and how well it fits."""
    if np.isnan(result.score_before):
        return (f"checkerboard in {result.frames_used} of {result.frames_offered} pairs, {100 * result.score:.0f} % "
                f"of the corners inliers, RMS error {result.spread_px:.2f} px")
    dropped = result.frames_offered - result.frames_used
    return (f"accepted: the frames' own edges sit {result.spread_px:.2f} px from the answer (median; under 1 px is "
            f"good, over 2 px: parallax or cameras that moved); {result.frames_used} of {result.frames_offered} pairs "
            f"used{f' (the other {dropped} share too few edges)' if dropped else ''}; edge agreement "
            f"{result.score:.2f} aligned, {result.score_before:.2f} before (its size depends on the scene); "
            f"{100 * result.margin:.0f} % better than the answer moved a few px (a distinct optimum)")


def parameters_yaml(result: Calibration, source: str) -> str:
    """A --params-file snippet with thermal.homography, and how it was found. Every value is written
    with a decimal point and no exponent: rcl refuses a list that mixes integers (`0`) with floats,
    and YAML 1.1 readers take `1e-05` for a string."""
    values = ", ".join(np.format_float_positional(float(v), precision=10, trim="0")
                       for v in result.homography.ravel())
    return (f"# rgbt-calibrate from {source}: {describe(result)}\n"
            "/**/rgbt_perception:\n  ros__parameters:\n"
            f"    thermal.homography: [{values}]  # thermal pixel -> RGB pixel, row-major\n")


def gray_unit(image: np.ndarray) -> np.ndarray:
    """RGB or thermal (any dtype) as a float32 gray image in [0, 1] (1st-99th percentile)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    gray = gray.astype(np.float32)
    finite = np.isfinite(gray)
    if not finite.any():
        return np.zeros_like(gray)
    low, high = np.percentile(gray[finite], (1, 99))
    return np.clip((np.where(finite, gray, low) - low) / max(float(high - low), 1e-6), 0, 1).astype(np.float32)


def turn_about(centre: tuple[float, float], scale: float, degrees: float,
               shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """3x3: scale and turn by `degrees` about `centre`, then shift (px)."""
    radians = np.deg2rad(degrees)
    linear = scale * np.array([[np.cos(radians), -np.sin(radians)], [np.sin(radians), np.cos(radians)]])
    matrix = np.eye(3)
    matrix[:2, :2] = linear
    matrix[:2, 2] = np.add(centre, shift) - linear @ np.asarray(centre, float)
    return matrix


def grid_points(width: int, height: int, steps: int = 5) -> np.ndarray:
    """A steps x steps grid of (x, y) points spanning an image, for comparing homographies."""
    xs, ys = np.meshgrid(np.linspace(0, width - 1, steps), np.linspace(0, height - 1, steps))
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)


def apply_homography(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points mapped by a 3x3 homography."""
    mapped = np.c_[points, np.ones(len(points))] @ homography.T
    return mapped[:, :2] / mapped[:, 2:3]


def mean_distance(first: np.ndarray, second: np.ndarray, width: int, height: int) -> float:
    """How far apart two homographies put the points of an image (mean over a 9x9 grid, px)."""
    grid = grid_points(width, height, 9)
    return float(np.linalg.norm(apply_homography(first, grid) - apply_homography(second, grid), axis=1).mean())

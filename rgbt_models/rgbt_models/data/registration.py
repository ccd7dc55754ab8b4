"""The thermal camera registered onto the RGB one: the 3x3 thermal -> RGB homography that
rgbt-calibrate finds and the node applies (its parameter `thermal.homography`), read from a
list or a params file, and applied to a thermal image in [0, 1] the same way in training,
evaluation, adaptation and on the robot, so that a model learns on the frames it will see."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import yaml

from rgbt_models.data.thermal import StableRange, ThermalSetup, thermal_to_unit

NO_HOMOGRAPHY = (0.0,)  # the node's default: the cameras are registered already


def homography_matrix(values: Sequence[float], where: str) -> np.ndarray | None:
    """The 3x3 matrix of 9 row-major `values`, or None for [0.0] (no homography). A ValueError
    naming `where` for another length or a matrix that maps the image onto a line or a point."""
    numbers = [float(v) for v in values]
    if tuple(numbers) == NO_HOMOGRAPHY:
        return None
    if len(numbers) != 9:
        raise ValueError(f"{where} needs 9 values (3x3 row-major), got {len(numbers)}")
    matrix = np.array(numbers, np.float64).reshape(3, 3)
    if abs(np.linalg.det(matrix)) <= 1e-12 * max(abs(v) for v in numbers) ** 3:
        raise ValueError(f"{where}={numbers} is singular: it maps the thermal image onto a line or a point "
                         "(rgbt-calibrate writes one that is not)")
    return matrix


def read_homography(path: str | Path) -> np.ndarray | None:
    """`thermal.homography` of a node params file: rgbt-calibrate's output, or a whole params file
    (flat `thermal.homography` or nested `thermal: {homography: ...}` under `ros__parameters`)."""
    path = Path(path)
    try:
        content = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read a params file with thermal.homography ({error})") from error
    for parameters in _ros_parameters(content):
        value, nested = parameters.get("thermal.homography"), parameters.get("thermal")
        if value is None and isinstance(nested, dict):
            value = nested.get("homography")
        if value is not None:
            if not isinstance(value, list):
                raise ValueError(f"{path}: thermal.homography must be a list of 9 numbers, got {value!r}")
            return homography_matrix(value, f"{path}: thermal.homography")
    raise ValueError(f"{path}: no thermal.homography under ros__parameters (rgbt-calibrate --output writes one)")


def homography_setting(value: str | Sequence[float] | None, where: str) -> np.ndarray | None:
    """A config's homography: None, 9 numbers, or the path of a params file that holds one."""
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        return read_homography(value)
    return homography_matrix(value, where)


def homography_record(homography: np.ndarray | None) -> list[float]:
    """What a checkpoint records of the registration it was trained with: the node parameter's
    form, 9 row-major numbers or [0.0] for none."""
    return list(NO_HOMOGRAPHY) if homography is None else [float(v) for v in np.ravel(homography)]


def missing_registration(kind: str, trained_with: Sequence[float] | None, running: np.ndarray | None) -> str | None:
    """The warning for a model (`kind`) learnt on frames a homography registered (its checkpoint's
    record `trained_with`) that runs with none (`running`): on the same rig, its thermal would be off
    by what calibration found. None otherwise: registered training data, or another homography (a
    recalibration), is as it should be."""
    if running is not None or homography_matrix(trained_with or NO_HOMOGRAPHY, f"{kind}'s recorded homography") is None:
        return None
    return (f"registration: {kind} was trained on frames registered by thermal.homography {list(trained_with)}, "
            "and runs with none: on that rig, give it (rgbt-calibrate's file)")


def register_thermal(thermal01: np.ndarray, homography: np.ndarray, height: int, width: int) -> np.ndarray:
    """A thermal image in [0, 1] warped onto the RGB image's (height, width) pixel grid (bilinear;
    0 where the thermal camera does not see), as the node does before the model's resize."""
    return cv2.warpPerspective(thermal01, homography, (width, height))


def unit_thermal_on_rgb_grid(thermal: np.ndarray, setup: ThermalSetup, homography: np.ndarray | None,
                             rgb_shape: tuple[int, ...], tracker: StableRange | None = None,
                             stamp: float | None = None) -> np.ndarray:
    """Raw thermal -> [0, 1] by its set-up (thermal_to_unit; `tracker`, `stamp`: 'stable'), then
    warped onto the RGB image's pixel grid by the rig's homography (None: left at its own size):
    what training, evaluation, adaptation and the node all feed the model's resize."""
    unit = thermal_to_unit(thermal, setup, tracker, stamp)
    return unit if homography is None else register_thermal(unit, homography, *rgb_shape[:2])


def _ros_parameters(content) -> list[dict]:
    """Every `ros__parameters` mapping of a params file, at any depth."""
    found = []
    if isinstance(content, dict):
        for key, value in content.items():
            if key == "ros__parameters" and isinstance(value, dict):
                found.append(value)
            else:
                found.extend(_ros_parameters(value))
    return found

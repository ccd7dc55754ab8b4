"""rgbt-calibrate's rooms: the thermal -> RGB homography of a camera pair from a recording.

`calibrate` (edges.py) needs no target, only a scene with structure; `calibrate_checkerboard`
(checkerboard.py) uses a heated board. Both return a `Calibration` (result.py) or raise
`CalibrationRefused` with the reason.
"""

from rgbt_models.calibration.checkerboard import calibrate_checkerboard
from rgbt_models.calibration.edges import MOTIONS, calibrate
from rgbt_models.calibration.result import (
    Calibration,
    CalibrationRefused,
    apply_homography,
    describe,
    grid_points,
    mean_distance,
    parameters_yaml,
)

__all__ = ["MOTIONS", "Calibration", "CalibrationRefused", "apply_homography", "calibrate", "calibrate_checkerboard",
           "describe", "grid_points", "mean_distance", "parameters_yaml"]

"""rgbt-calibrate's rooms without the command line: the edge route against known misregistration
(synthetic scenes: exact truth; real registered pairs when RGBT_REAL_PAIRS names them), its
refusals, and the checkerboard's corner order."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rgbt_models.calibration import CalibrationRefused, calibrate, mean_distance
from rgbt_models.calibration.checkerboard import match_board
from rgbt_models.calibration.misregister import misregistration, seen_through
from rgbt_models.data.synthetic import make_scene


def scenes_seen_through(case, height: int, width: int, count: int = 6):
    """`count` synthetic scenes (one at night) seen by a camera pair misregistered by `case`
    (dx, dy at 640 px wide, scale, degrees); the true thermal -> RGB map and the frames."""
    scenes = [make_scene(seed, height, width, night=seed == count - 1) for seed in range(count)]
    crop = (width - 2 * round(0.12 * width), height - 2 * round(0.12 * height))
    factor = crop[0] / 640
    truth = misregistration(case[0] * factor, case[1] * factor, case[2], case[3], crop)
    return truth, [seen_through(s.rgb, s.thermal_raw, truth) for s in scenes], crop


@pytest.mark.parametrize("case", [(30, -20, 1.06, 2.0), (-40, 25, 0.92, -3.0)],
                         ids=["30,-20,x1.06,2deg", "corner of the range"])
def test_edges_recover_a_large_misregistration_within_2_px(case):
    """A shift of 30 px with a scale and a rotation is far outside a local method's basin: the
    coarse search must find it."""
    truth, frames, crop = scenes_seen_through(case, 336, 420)
    assert crop == (320, 256)
    result = calibrate(frames)
    assert mean_distance(result.homography, truth, *crop) <= 2.0
    assert result.frames_used >= 3 and result.score > result.score_before


def test_thermal_at_its_own_resolution():
    """A 160x128 thermal camera beside a 320x256 RGB one: the map carries the size change too."""
    scenes = [make_scene(seed, 336, 420, night=False) for seed in range(4)]
    truth = misregistration(6, -3.5, 1.03, 1.0, (320, 256), thermal_size=(160, 128))
    frames = [seen_through(s.rgb, s.thermal_raw, truth, thermal_size=(160, 128)) for s in scenes]
    assert frames[0][0].shape == (256, 320, 3) and frames[0][1].shape == (128, 160)
    assert mean_distance(calibrate(frames).homography, truth, 160, 128) <= 2.0


def test_unrelated_pairs_are_refused():
    """Each RGB image with another scene's thermal image: edges everywhere, none in common."""
    scenes = [make_scene(seed, 256, 320, night=False) for seed in range(5)]
    frames = [(scenes[i].rgb, scenes[(i + 1) % 5].thermal_raw) for i in range(5)]
    with pytest.raises(CalibrationRefused):
        calibrate(frames)


def test_the_checkerboards_corner_order_keeps_the_cameras_up():
    """A symmetric board's corners may be numbered from either end (a 180 deg turn, which a
    homography fits exactly), a square board's from any side: the order that keeps the cameras'
    up direction is taken, whichever numbering each camera reported."""
    columns, rows = 7, 5
    xs, ys = np.meshgrid(np.arange(columns) * 20.0 + 50, np.arange(rows) * 20.0 + 40)
    rgb = np.stack([xs.ravel(), ys.ravel()], axis=1)
    truth = misregistration(6, -4, 0.98, 1.5, (320, 240))
    thermal = np.c_[rgb, np.ones(len(rgb))] @ np.linalg.inv(truth).T
    thermal = thermal[:, :2] / thermal[:, 2:]
    assert np.allclose(match_board(rgb, thermal[::-1], (columns, rows)), thermal)
    square = rgb.reshape(rows, columns, 2)[:, :rows].reshape(-1, 2)
    square_thermal = thermal.reshape(rows, columns, 2)[:, :rows]
    turned = np.rot90(square_thermal, 1).reshape(-1, 2)
    assert np.allclose(match_board(square, turned, (rows, rows)), square_thermal.reshape(-1, 2))


REAL = os.environ.get("RGBT_REAL_PAIRS")


@pytest.mark.skipif(not REAL, reason="RGBT_REAL_PAIRS names no folder of real registered pairs (vi/ and ir/, "
                    "e.g. the MSRS or RoadScene samples of a public fusion repository; see docs/calibration.md)")
@pytest.mark.parametrize("case", [(12, -7, 1.03, 1.0), (-40, 25, 1.08, 3.0)])
def test_real_pairs_recover_what_they_give_unwarped(case):
    """Real registered pairs: each one warped by a known map gives that map composed with what
    the pair gives unwarped (the data set's own registration is not exact) within 2 px, or is
    refused; never accepted more than 5 px off."""
    import cv2

    folder = Path(REAL)
    errors = []
    for path in sorted((folder / "vi").iterdir())[:8]:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        thermal = cv2.resize(cv2.imread(str(folder / "ir" / path.name), cv2.IMREAD_GRAYSCALE), rgb.shape[1::-1])
        crop = (rgb.shape[1] - 2 * round(0.12 * rgb.shape[1]), rgb.shape[0] - 2 * round(0.12 * rgb.shape[0]))
        factor = crop[0] / 640
        truth = misregistration(case[0] * factor, case[1] * factor, case[2], case[3], crop)
        try:
            unwarped = calibrate([seen_through(rgb, thermal, np.eye(3))], min_frames=1).homography
            found = calibrate([seen_through(rgb, thermal, truth)], min_frames=1).homography
        except CalibrationRefused:
            continue
        errors.append(mean_distance(found, unwarped @ truth, *crop))
    assert errors and max(errors) <= 5.0 and np.median(errors) <= 2.0

"""Thermal cameras as they are: shutter freezes, cameras slower than the RGB one, stable
normalisation, temperatures and registration, through the pipeline, rgbt-replay and the node."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rgbt_models.data.drive import DriveConfig, write_drive_bag
from rgbt_models.data.pairing import LatestPairing, PairSynchronizer
from rgbt_models.data.rosbag import read_pairs
from rgbt_models.data.thermal_freeze import FreezeDetector
from rgbt_perception.replay import main as replay
from rgbt_perception.testing.node_fixtures import write_test_checkpoints

SMALL = {"height": 64, "width": 80, "dropout": None}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return write_test_checkpoints(tmp_path_factory.mktemp("checkpoints"))


# -- different frame rates ----------------------------------------------------------------------
def test_latest_pairs_every_rgb_frame_of_a_30hz_camera_with_a_9hz_thermal_camera(tmp_path):
    drive = DriveConfig(seconds=3.0, fps=30, thermal_fps=9, **SMALL)
    info = write_drive_bag(tmp_path / "bag", drive)
    assert (info["rgb"], info["thermal"]) == (90, 27)
    paired = {}
    for policy in ("exact", "latest"):
        counters: dict = {}
        pairs = list(read_pairs(tmp_path / "bag", drive.rgb_topic, drive.thermal_topic, counters=counters,
                                policy=policy, max_age=0.15))
        paired[policy] = [p for p in pairs if p.thermal is not None]
        assert counters["pairs"] == len(paired[policy])
    assert len(paired["exact"]) == 27  # one RGB frame per thermal frame: 63 RGB frames dropped
    assert len(paired["latest"]) == 90  # every RGB frame (at least 90 % asked for)
    ages = [p.age_ns / 1e9 for p in paired["latest"]]
    assert max(abs(a) for a in ages) <= 0.15
    assert len({(p.thermal.header.stamp.sec, p.thermal.header.stamp.nanosec) for p in paired["latest"]}) == 27


def test_latest_pairing_rules():
    pairs: list = []
    sync = LatestPairing(lambda a, b: pairs.append((a, b)), max_age=0.1, stamp_of=lambda x: x)
    sync.add(0, 0.00)            # no thermal yet: it waits for the next one
    sync.add(1, 0.01)            # ... which comes 10 ms later: a pair
    sync.add(0, 0.033)           # the newest thermal is recent: paired at once
    sync.add(0, 0.066)
    sync.add(0, 0.2)             # thermal 0.19 s old: waits
    sync.add(0, 0.3)             # superseded before a thermal frame came: dropped; waits itself
    sync.add(1, 0.31)
    sync.add(0, 0.5)             # waits, and the next thermal frame is too far: dropped
    sync.add(1, 0.65)
    assert pairs == [(0.0, 0.01), (0.033, 0.01), (0.066, 0.01), (0.3, 0.31)] and sync.unmatched() == 2
    sync.add(0, 0.1)             # time went backwards (a bag restarting): nothing old is reused
    assert pairs[-1] == (0.3, 0.31) and sync.latest is None and sync.unmatched() == 3
    exact = PairSynchronizer(lambda a, b: None, 10, 0.05, stamp_of=lambda x: x)
    exact.set_max_age(1.0)  # (both policies take both runtime parameters)
    sync.set_slop(0.5)


@pytest.mark.slow
def test_replay_with_latest_reports_the_pair_ages(tmp_path, checkpoints):
    drive = DriveConfig(seconds=1.0, fps=30, thermal_fps=9, height=128, width=160, dropout=None)
    write_drive_bag(tmp_path / "bag", drive)
    out = tmp_path / "out"
    assert replay([str(tmp_path / "bag"), *checkpoints, "-p", "sync.policy:=latest", "-p", "sync.max_age:=0.15",
                   "--output", str(out), "--no-video", "--overlay-every", "0", "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["rgb"] == 30 and summary["counts"]["pairs"] >= 27
    assert summary["sync_policy"] == "latest" and 0 < summary["pair_age_ms"]["max"] <= 150
    assert "Pairing (sync.policy latest): thermal frame age in a pair" in (out / "report.md").read_text()


# -- shutter freezes -------------------------------------------------------------------------------
def test_freeze_detector_counts_runs_of_identical_frames_by_their_stamps():
    rng = np.random.default_rng(0)
    live = [rng.integers(29000, 31000, (8, 8), np.uint16) for _ in range(4)]
    detector = FreezeDetector()
    frames = [(live[0], 0.0), (live[1], 0.1), (live[1], 0.2), (live[1], 0.3), (live[1], 0.3), (live[1], 0.4),
              (live[2], 0.5), (live[3], 0.6)]
    frozen = [detector.update(image, stamp, duration=0.15) for image, stamp in frames]
    # run of live[1] from 0.1: 0.2 (0.1 s) not yet, 0.3 frozen, 0.3 again (the same frame paired
    # anew) still frozen but not counted twice, 0.4 frozen, then live frames again
    assert frozen == [False, False, False, True, True, True, False, False]
    assert detector.frozen_frames == 2 and not detector.frozen
    noisy = live[2] + rng.integers(0, 3, live[2].shape).astype(np.uint16)  # a camera adding noise while frozen
    assert not FreezeDetector().update(live[2], 0.0, 0.0) and True
    tolerant = FreezeDetector()
    tolerant.update(live[2], 0.0, 0.05, tolerance=0.01)
    assert tolerant.update(noisy, 0.1, 0.05, tolerance=0.01)
    assert not tolerant.update(live[3], 0.2, 0.05, tolerance=0.01)
    assert not FreezeDetector().update(live[0], 0.0, -1.0)  # -1: off


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["degrade", "fuse"])
def test_replay_counts_frozen_thermal_and_degrades_those_frames(tmp_path, checkpoints, policy):
    """A bag with the thermal camera frozen from 1.0 to 2.0 s (10 identical frames after the last
    live one): with freeze_duration 0.25 s the frames from 1.2 s on are frozen (8)."""
    drive = DriveConfig(seconds=3.0, fps=10, freeze=(1.0, 2.0), height=128, width=160, dropout=None)
    info = write_drive_bag(tmp_path / "bag", drive)
    assert info["thermal_frozen"] == 10
    out = tmp_path / "out"
    assert replay([str(tmp_path / "bag"), *checkpoints, "-p", "thermal.freeze_duration:=0.25", "-p",
                   f"thermal.freeze_policy:={policy}", "--mask-topic", drive.mask_topic, "--output", str(out),
                   "--no-video", "--overlay-every", "0", "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["thermal_frozen"] == 8
    rows = (out / "frames.csv").read_text().splitlines()
    header = rows[0].split(",")
    frozen = [r.split(",")[header.index("thermal_frozen")] for r in rows[1:]]
    degraded = [r.split(",")[header.index("degraded")] for r in rows[1:]]
    assert frozen == ["0"] * 12 + ["1"] * 8 + ["0"] * 10
    assert degraded == (frozen if policy == "degrade" else ["0"] * 30)
    degraded_images = summary["saliency"].get("degraded frames (thermal missing or frozen)", {"images": 0})["images"]
    assert degraded_images == (8 if policy == "degrade" else 0)


@pytest.mark.ros
def test_the_node_says_thermal_frozen_in_diagnostics_and_recovers(rclpy_context):
    """Frozen thermal frames (the same image under new stamps) in the node itself: counted,
    reported in /diagnostics with their duration, and gone with the next live frame."""

    from rgbt_perception.node import RGBTPerceptionNode
    from rgbt_perception.testing.node_fixtures import CameraFeed, node_overrides, scene_pair

    node = RGBTPerceptionNode(context=rclpy_context, parameter_overrides=node_overrides())
    cameras = CameraFeed(node)
    try:
        _, frozen_thermal = scene_pair(0, 10, 0)

        def feed(second: int, nanosec: int, thermal_msg) -> None:
            rgb, _ = scene_pair(second, second, nanosec)
            thermal_msg.header.stamp.sec, thermal_msg.header.stamp.nanosec = second, nanosec
            cameras.processes(rgb, thermal_msg, timeout=30)

        for step in range(6):  # 0.0 .. 0.5 s, all the same image
            feed(10, step * 100_000_000, frozen_thermal)
        status = node.diagnostic_status()
        assert status.message.startswith("thermal frozen (shutter / FFC?) for 0.5 s"), status.message
        assert "saliency from RGB only" in status.message and status.level == status.WARN
        assert node.counts["thermal_frozen"] == 3  # 0.3, 0.4 and 0.5 s: more than 0.25 s after the first
        feed(11, 0, scene_pair(5, 11, 0)[1])  # a live frame
        assert node.diagnostic_status().message == "running"
    finally:
        cameras.close()
        node.shutdown()
        node.destroy_node()


# -- normalisation and the thermal set-up ----------------------------------------------------------
def test_stable_normalisation_does_not_flicker_when_a_hot_object_enters():
    """A 95 C object entering a 22 C scene: minmax and percentile rescale the background at once;
    'stable' moves it by a few % per frame and still takes the object into its range."""
    from rgbt_models.data.thermal import StableRange, ThermalSetup, thermal_to_unit
    from rgbt_models.testing import background_change, hot_object_sequence

    images, stamps, background = hot_object_sequence(frames=30)
    change = {mode: background_change(images, stamps, background, ThermalSetup(mode))
              for mode in ("minmax", "percentile", "stable")}
    assert change["minmax"] > 0.3 and change["percentile"] > 0.3, change
    assert change["stable"] < 0.07, change
    images, stamps, _ = hot_object_sequence(frames=120)  # 11 s after it entered
    tracker, setup = StableRange(), ThermalSetup("stable")
    for image, stamp in zip(images, stamps):
        unit = thermal_to_unit(image, setup, tracker, stamp)
    assert tracker.high > 36000 and unit.max() == 1.0 and 0.0 < float(np.median(unit)) < 0.2
    still = images[-1]  # a still image (no stamp, no state): the percentile normalisation
    assert np.array_equal(thermal_to_unit(still, setup), thermal_to_unit(still, ThermalSetup("percentile")))
    black = thermal_to_unit(still, ThermalSetup("minmax", polarity="black_hot"))
    assert np.allclose(black, 1.0 - thermal_to_unit(still, ThermalSetup("minmax")))


def test_the_thermal_set_up_comes_from_the_checkpoints_and_a_parameter_overrides_it(tmp_path, capsys):
    from rgbt_models.cli.evaluate import main as evaluate
    from rgbt_models.data.thermal import ThermalSetup
    from rgbt_models.runtime import load_model
    from rgbt_models.runtime.loading import ModelLoadError
    from rgbt_perception.model_loading import build_pipeline
    from rgbt_perception.parameters import PARAMETERS

    params = write_test_checkpoints(tmp_path)
    paths = {"sartm": params[1].split(":=")[1], "samsod": params[3].split(":=")[1]}
    trained = ThermalSetup("stable", percentiles=(2.0, 98.0), time_constant=4.0, polarity="black_hot")
    for path in paths.values():
        load_model(None, path).save(path, extra={"thermal": trained.to_dict()})
    values = {name: spec[0] for name, spec in PARAMETERS.items()} | {
        "sartm.checkpoint": paths["sartm"], "samsod.checkpoint": paths["samsod"], "threads": 1}
    lines: list[str] = []
    warnings: list[str] = []
    pipeline = build_pipeline(values, lines.append, warnings.append)
    assert pipeline.config.thermal == trained and pipeline.trained_thermal == trained
    assert "thermal set-up: stable 2-98 %, 4 s, black-hot; trained with: the same" in lines
    lines.clear()
    override = build_pipeline(values | {"thermal.normalization": "minmax"}, lines.append, warnings.append)
    assert override.config.thermal == ThermalSetup("minmax", polarity="black_hot")  # the camera's polarity kept
    assert any(line.startswith("thermal set-up: minmax, black-hot; trained with: stable 2-98 %") for line in warnings)
    assert build_pipeline(values | {"thermal.polarity": "white_hot"}, lines.append).config.thermal.polarity == \
        "white_hot"
    load_model(None, paths["sartm"]).save(paths["sartm"], extra={"thermal": ThermalSetup().to_dict()})
    with pytest.raises(ModelLoadError, match="different thermal set-ups"):
        build_pipeline(values, lines.append)
    assert evaluate(["--checkpoint", paths["samsod"], "--dataset", "synthetic", "--synthetic-count", "2",
                     "--height", "64", "--width", "64", "--no-progress", "--output", str(tmp_path / "eval")]) == 0
    assert "rgbt-eval: thermal set-up: stable 2-98 %, 4 s, black-hot; trained with: the same" in \
        capsys.readouterr().err


def test_a_model_learnt_on_registered_rig_frames_warns_when_run_without_the_homography(tmp_path, capsys):
    """rgbt-train records data.homography; the node warns only where a model learnt on frames a
    homography registered runs with none (registered training data, or a recalibration, is fine)."""
    from rgbt_models.cli.evaluate import main as evaluate
    from rgbt_models.data.drive import MISREGISTRATION
    from rgbt_models.runtime import load_model
    from rgbt_perception.model_loading import build_pipeline
    from rgbt_perception.parameters import PARAMETERS

    params = write_test_checkpoints(tmp_path)
    samsod = params[3].split(":=")[1]
    values = {name: spec[0] for name, spec in PARAMETERS.items()} | {
        "sartm.enabled": "false", "samsod.checkpoint": samsod, "threads": 1}
    recalibrated = [*MISREGISTRATION[:2], -5.0, *MISREGISTRATION[3:]]
    for recorded, running, warned in ((list(MISREGISTRATION), [0.0], True),
                                      (list(MISREGISTRATION), recalibrated, False),
                                      ([0.0], list(MISREGISTRATION), False), (None, [0.0], False)):
        load_model(None, samsod).save(samsod, extra={} if recorded is None else {"homography": recorded})
        warnings: list[str] = []
        build_pipeline(values | {"thermal.homography": running}, lambda line: None, warnings.append)
        said = [w for w in warnings if w.startswith("registration: samsod was trained on frames registered")]
        assert bool(said) == warned, (recorded, running, warnings)
    # rgbt-eval says the same where --homography is missing
    load_model(None, samsod).save(samsod, extra={"homography": list(MISREGISTRATION)})
    params_file = tmp_path / "homography.yaml"
    params_file.write_text(f"/**:\n  ros__parameters:\n    thermal.homography: {list(MISREGISTRATION)}\n")
    for registration, warned in (([], True), (["--homography", str(params_file)], False)):
        assert evaluate(["--checkpoint", samsod, "--dataset", "synthetic", "--synthetic-count", "1", "--height", "64",
                         "--width", "64", "--no-progress", "--output", str(tmp_path / "eval"), *registration]) == 0
        assert ("rgbt-eval: registration: samsod was trained on frames registered" in capsys.readouterr().err) == warned


# -- temperatures ----------------------------------------------------------------------------------
def test_object_temperatures_match_the_scenes_known_values_through_an_unregistered_camera():
    """The synthetic scene's thermal is centi-kelvin (its objects 300-315 K): seen through a
    homography (the thermal camera not registered), brought back by thermal.homography and
    sampled at another output size, every object's mean is within 0.5 K of its true mean."""
    import cv2

    from rgbt_models.data.synthetic import make_scene
    from rgbt_perception.temperatures import TemperatureConversion, kelvin_map, region_temperatures

    homography = np.array([[1.04, 0.02, -5.0], [-0.01, 1.03, 3.0], [0.0, 0.0, 1.0]])
    checked = 0
    for seed in range(6):
        scene = make_scene(seed, 128, 160)
        camera = cv2.warpPerspective(scene.thermal_raw, np.linalg.inv(homography), (160, 128),
                                     flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        kelvin = kelvin_map(camera, TemperatureConversion("linear", 0.01), (128, 160), (64, 80), homography)
        truth_kelvin = scene.thermal_raw / 100.0
        count, components = cv2.connectedComponents(scene.saliency // 255, connectivity=8)
        small = cv2.resize(components.astype(np.int32), (80, 64), interpolation=cv2.INTER_NEAREST)
        core = cv2.erode((small > 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        means, highest = region_temperatures(kelvin, np.where(core, small, 0), count)
        for index in range(1, count):
            region = components == index
            if (np.where(core, small, 0) == index).sum() < 6:
                continue  # too small to keep a core at half resolution
            assert abs(means[index] - truth_kelvin[region].mean()) <= 0.5, (seed, index)
            assert truth_kelvin[region].mean() <= highest[index] <= truth_kelvin[region].max() + 1e-3
            assert 298 < means[index] < 318
            checked += 1
    assert checked >= 6


def test_the_outputs_carry_temperatures_only_from_a_radiometric_live_camera(checkpoints):
    from std_msgs.msg import Header

    from rgbt_models.data.synthetic import make_scene
    from rgbt_perception.model_loading import build_pipeline
    from rgbt_perception.outputs import RclpyMessages, frame_messages
    from rgbt_perception.parameters import PARAMETERS

    values = {name: spec[0] for name, spec in PARAMETERS.items()} | {
        "sartm.checkpoint": checkpoints[1].split(":=")[1], "samsod.checkpoint": checkpoints[3].split(":=")[1],
        "model_height": 128, "model_width": 160, "saliency.threshold": 0.0, "threads": 1}
    scene = make_scene(3, 128, 160)
    plain = build_pipeline(values, lambda line: None).run(scene.rgb, scene.thermal_raw)
    assert plain.objects and all(np.isnan(o.mean_temperature) for o in plain.objects)
    radiometric = build_pipeline(values | {"thermal.camera": "flir_tlinear"}, lambda line: None)
    result = radiometric.run(scene.rgb, scene.thermal_raw)
    (whole,) = result.objects  # threshold 0: the whole frame is one region
    kelvin = scene.thermal_raw / 100.0
    assert abs(whole.mean_temperature - kelvin.mean()) < 0.05 and abs(whole.max_temperature - kelvin.max()) < 0.01
    by_class = {c.class_id: c.mean_temperature for c in result.class_stats}
    for class_id, temperature in by_class.items():
        assert abs(temperature - kelvin[result.semantic_mask == class_id].mean()) < 1e-3
    messages = frame_messages(result, Header(), {"saliency/objects", "semantic/classes"}, RclpyMessages())
    assert messages["saliency/objects"].objects[0].max_temperature == pytest.approx(whole.max_temperature)
    assert list(messages["semantic/classes"].mean_temperatures) == pytest.approx(list(by_class.values()))
    degraded = radiometric.run(scene.rgb, None)  # no thermal: no temperature
    (whole,) = degraded.objects
    assert np.isnan(whole.mean_temperature) and np.isnan(whole.max_temperature)


# -- registration ----------------------------------------------------------------------------------
def test_rgbt_calibrate_recovers_a_known_homography_from_an_unlabeled_drive(tmp_path, capsys):
    """The synthetic drive seen by a thermal camera that is shifted, scaled and sheared against
    the RGB one: rgbt-calibrate finds thermal -> RGB within 2 px (mean over the image) and writes
    a params file the node reads."""
    import yaml

    from rgbt_models.calibration import apply_homography, grid_points
    from rgbt_models.cli.calibrate import main as calibrate
    from rgbt_perception.parameters import load_parameter_file

    truth = np.array([[1.04, 0.02, -5.0], [-0.01, 1.03, 3.0], [0.0, 0.0, 1.0]])
    drive = DriveConfig(seconds=8.0, fps=2.5, frames_per_scene=1, thermal_warp=tuple(truth.ravel()), height=128,
                        width=160, dropout=None)
    write_drive_bag(tmp_path / "bag", drive)
    output = tmp_path / "homography.yaml"
    assert calibrate([str(tmp_path / "bag"), "--rgb-topic", drive.rgb_topic, "--thermal-topic", drive.thermal_topic,
                      "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("rgbt-calibrate: accepted: the frames' own edges sit ")
    assert " pairs used" in printed and "edge agreement" in printed and "thermal.homography: [" in printed
    values = yaml.safe_load(output.read_text())["/**/rgbt_perception"]["ros__parameters"]["thermal.homography"]
    found = np.array(values).reshape(3, 3)
    grid = grid_points(160, 128, 9)
    assert np.linalg.norm(apply_homography(found, grid) - apply_homography(truth, grid), axis=1).mean() <= 2.0
    assert load_parameter_file(output)["thermal.homography"] == values  # a file the node takes as it is


@pytest.mark.parametrize("content", ["constant", "noise"])
def test_rgbt_calibrate_refuses_frames_without_structure(tmp_path, capsys, content):
    from rgbt_models.cli.calibrate import main as calibrate
    from rgbt_models.data.rosbag import BagWriter

    rng = np.random.default_rng(0)
    with BagWriter(tmp_path / "flat", "mcap") as writer:
        for index in range(12):
            stamp = 1_700_000_000 * 10**9 + index * 100_000_000
            rgb = np.full((96, 128, 3), 120, np.uint8)
            thermal = np.full((96, 128), 29500, np.uint16)
            if content == "noise":  # a blank wall seen by noisy sensors
                rgb = (rgb + rng.integers(0, 6, rgb.shape)).astype(np.uint8)
                thermal = (thermal + rng.integers(0, 20, thermal.shape)).astype(np.uint16)
            writer.write_image("/rgb", rgb, "rgb8", stamp, "rgb")
            writer.write_image("/thermal", thermal, "mono16", stamp + 1_000_000, "thermal")
    output = tmp_path / "h.yaml"
    assert calibrate([str(tmp_path / "flat"), "--rgb-topic", "/rgb", "--thermal-topic", "/thermal",
                      "--output", str(output)]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("rgbt-calibrate: refused: ") and not output.exists()


def test_rgbt_calibrate_from_a_heated_checkerboard(tmp_path, capsys):
    """A heated checkerboard (warm squares: the thermal image's polarity is the RGB one's
    opposite) moved through both views of an unregistered camera pair."""
    import cv2
    import yaml

    from rgbt_models.calibration import apply_homography, grid_points
    from rgbt_models.cli.calibrate import main as calibrate
    from rgbt_models.data.rosbag import BagWriter

    truth = np.array([[0.98, 0.01, 6.0], [0.0, 1.01, -4.0], [0.0, 0.0, 1.0]])
    with BagWriter(tmp_path / "board", "mcap") as writer:
        for index in range(6):
            rgb = np.full((240, 320), 200, np.uint8)
            size, left, top = 18, 40 + 12 * index, 40 + 8 * index
            for row in range(6):
                for column in range(8):
                    if (row + column) % 2 == 0:
                        y, x = top + row * size, left + column * size
                        rgb[y:y + size, x:x + size] = 30
            warm = np.where(rgb < 100, 31500, 29500).astype(np.float32)  # the dark squares are heated
            thermal = cv2.warpPerspective(warm, np.linalg.inv(truth), (320, 240), flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_REPLICATE).astype(np.uint16)
            stamp = 1_700_000_000 * 10**9 + index * 200_000_000
            writer.write_image("/rgb", cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB), "rgb8", stamp, "rgb")
            writer.write_image("/thermal", thermal, "mono16", stamp + 1_000_000, "thermal")
    output = tmp_path / "h.yaml"
    assert calibrate([str(tmp_path / "board"), "--rgb-topic", "/rgb", "--thermal-topic", "/thermal",
                      "--checkerboard", "7x5", "--output", str(output)]) == 0
    assert "checkerboard in 6 of 6 pairs" in capsys.readouterr().out
    values = yaml.safe_load(output.read_text())["/**/rgbt_perception"]["ros__parameters"]["thermal.homography"]
    grid = grid_points(320, 240, 9)
    found = np.array(values).reshape(3, 3)
    assert np.linalg.norm(apply_homography(found, grid) - apply_homography(truth, grid), axis=1).mean() <= 1.0
    assert calibrate([str(tmp_path / "board"), "--rgb-topic", "/rgb", "--thermal-topic", "/thermal",
                      "--checkerboard", "9x9", "--output", str(output)]) == 1  # not this board

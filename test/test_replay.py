"""rgbt-replay: same metrics as the model library on the same frames (mcap and sqlite3),
--record read back with rosbags, --live against the real node on the bag's clock."""

from __future__ import annotations

import json
import signal

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rgbt_models.backbone import BackboneConfig
from rgbt_models.data.drive import DriveConfig, write_drive_bag
from rgbt_models.data.rosbag import decode_pair, read_pairs
from rgbt_models.data.thermal import normalize_thermal
from rgbt_models.metrics import ConfusionMatrix, SaliencyMetrics
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig
from rgbt_perception.replay import main as replay
from rgbt_perception.testing.node_fixtures import write_test_checkpoints

DRIVE = DriveConfig(seconds=1.2, fps=10, height=128, width=160, dropout=None)
MODEL_PARAMS = ["-p", "model_height:=128", "-p", "model_width:=160"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return write_test_checkpoints(tmp_path_factory.mktemp("ckpt"))


def evaluate_directly(bag, sartm_path, samsod_path):
    sartm, samsod = SARTM.load(sartm_path), SAMSOD.load(samsod_path)
    confusion, saliency = ConfusionMatrix(4), SaliencyMetrics()
    pairs = read_pairs(bag, DRIVE.rgb_topic, DRIVE.thermal_topic, 0.05,
                       truth_topics=(DRIVE.label_topic, DRIVE.mask_topic), thermal_timeout=1.0)
    for pair in pairs:
        rgb, thermal = decode_pair(pair)
        x = torch.from_numpy(cv2.resize(rgb, (160, 128), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None] / 255.0
        t = cv2.resize(normalize_thermal(thermal, "minmax"), (160, 128), interpolation=cv2.INTER_AREA)
        t = torch.from_numpy(t)[None, None]
        _, probabilities = sartm.predict(x.float(), t)
        ids = F.interpolate(probabilities, size=rgb.shape[:2], mode="bilinear", align_corners=False).argmax(1)[0]
        label = np.frombuffer(pair.truth[DRIVE.label_topic].data, np.uint8).reshape(rgb.shape[:2])
        confusion.step(ids.numpy().astype(np.uint8), label)
        sal = F.interpolate(samsod.predict(x.float(), t), size=rgb.shape[:2], mode="bilinear", align_corners=False)
        mask = np.frombuffer(pair.truth[DRIVE.mask_topic].data, np.uint8).reshape(rgb.shape[:2])
        saliency.step((np.clip(sal[0, 0].numpy(), 0, 1) * 255 + 0.5).astype(np.uint8), mask)
    return confusion.results(), saliency.results()


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_replay_metrics_equal_the_model_library(tmp_path, checkpoints, storage):
    bag = tmp_path / "bag"
    write_drive_bag(bag, DRIVE, storage)
    out = tmp_path / "out"
    code = replay([str(bag), *checkpoints, *MODEL_PARAMS, "-p", "thermal.camera:=flir_tlinear",
                   "-p", "saliency.threshold:=0.0",  # the whole frame one salient object: one in every frame
                   "--label-topic", DRIVE.label_topic, "--mask-topic", DRIVE.mask_topic, "--output", str(out),
                   "--no-video", "--overlay-every", "5"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    # the drive's scene spans 250-320 K (sky, ground, people at 309 K, cars at 300-315 K): every
    # class the model found reads inside it in centi-kelvin (flir_tlinear), and the report says so
    temperatures = summary["temperatures_k"]
    assert temperatures["classes"] and all(250 < k < 320 for k in temperatures["classes"].values())
    assert 250 < temperatures["hottest_object"] < 320
    assert "Temperatures (thermal.camera flir_tlinear; medians over the frames): " in (out / "report.md").read_text()
    semantic, saliency = evaluate_directly(bag, checkpoints[1].split(":=")[1], checkpoints[3].split(":=")[1])
    assert summary["semantic"]["with thermal"]["mIoU"] == pytest.approx(semantic["mIoU"], abs=1e-9)
    assert summary["semantic"]["with thermal"]["frames"] == semantic["frames"] == 12
    replayed = summary["saliency"]["with thermal"]
    for key in ("S", "maxF", "MAE", "maxE"):
        assert replayed[key] == pytest.approx(saliency[key], abs=1e-9), key
    assert summary["frames_processed"] == 12
    assert (out / "report.md").read_text().count("|") > 20 and (out / "frames.csv").is_file()
    assert len(list((out / "overlays").glob("*.png"))) == 3
    assert (out / "confusion_with_thermal.png").is_file()  # named after the result it shows
    assert set(summary["latency_ms"]) >= {"decode", "preprocess", "sartm", "samsod", "total"}


@pytest.mark.slow
def test_record_reads_back_with_rosbags(tmp_path, checkpoints):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import get_types_from_msg

    from rgbt_models.data.rosbag import default_typestore
    from rgbt_perception.replay.recording import rgbt_msg_definitions

    bag = tmp_path / "bag"
    write_drive_bag(bag, DriveConfig(seconds=1.5, fps=10, height=128, width=160, dropout=(0.5, 1.0)))
    code = replay([str(bag), *checkpoints, *MODEL_PARAMS, "-p", "thermal.timeout:=0.15", "--output",
                   str(tmp_path / "out"), "--no-video", "--record", str(tmp_path / "rec.mcap")])
    assert code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    degraded = summary["counts"]["degraded"]
    # the last thermal frame before the dropout is at 0.403 s (3 ms after its RGB frame): the RGB
    # frames more than thermal.timeout (0.15 s) after it and before thermal returns (1.003 s) are
    # degraded: 0.6, 0.7, 0.8 and 0.9 s
    assert degraded == 4
    typestore = default_typestore()
    types = {}
    for name, text in rgbt_msg_definitions().items():
        types.update(get_types_from_msg(text, name))
    typestore.register(types)
    rgb_stamps = [p.stamp_ns for p in read_pairs(bag, DRIVE.rgb_topic, DRIVE.thermal_topic, thermal_timeout=0.15)]
    with AnyReader([tmp_path / "rec"], default_typestore=typestore) as reader:
        found = {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
        stamps = {}
        for connection, _, raw in reader.messages():
            msg = reader.deserialize(raw, connection.msgtype)
            stamps.setdefault(connection.topic, []).append(
                msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
    processed = summary["frames_processed"]
    assert found["/saliency/map"] == ("sensor_msgs/msg/Image", processed)
    assert found["/saliency/objects"] == ("rgbt_msgs/msg/SalientObjects", processed)
    assert found["/semantic/classes"] == ("rgbt_msgs/msg/SemanticClasses", processed - degraded)
    assert found["/semantic/mask"][1] == processed - degraded
    assert stamps["/saliency/map"] == rgb_stamps


@pytest.mark.slow
@pytest.mark.ros
def test_live_replay_into_the_node(tmp_path, checkpoints, rclpy_context, ros_env):
    from rgbt_perception.replay.cli import parse_args
    from rgbt_perception.replay.live import replay_live
    from rgbt_perception.testing.ros_harness import NodeProcess

    bag = tmp_path / "bag"
    write_drive_bag(bag, DriveConfig(seconds=3.0, fps=10, height=128, width=160, dropout=None))
    node = NodeProcess("rgbt_perception.node", ros_args=[
        "--params-file", "config/rgbt.yaml", *checkpoints, *MODEL_PARAMS, "-p", "use_sim_time:=true",
        "-p", "diagnostics_period:=0.5", "-r", f"rgb/image:={DRIVE.rgb_topic}",
        "-r", f"thermal/image:={DRIVE.thermal_topic}", "-r", "__ns:=/robot1"])  # a robot's namespace
    try:
        node.wait_for_log("rgbt_perception ready", timeout=90)
        args = parse_args([str(bag), "--live", "--namespace", "robot1", "--rate", "1.0",
                           "--output", str(tmp_path / "live")])
        from rgbt_perception.parameters import load_parameter_file

        summary = replay_live(args, load_parameter_file("config/rgbt.yaml"))
        node.stop(signal.SIGINT, timeout=20)  # clean, not fast: the shutdown tests time it (test_node.py)
    finally:
        node.kill()
    pairs = summary["pairs_published"]
    assert pairs == 30
    # Every pair is answered or counted as skipped (a pair still in the synchronizer when the
    # bag ends may be neither: at most one).
    assert summary["pairs_answered"] + summary["node_skipped"] >= pairs - 1, summary
    assert summary["pairs_answered"] >= 5
    # The node's clock is the bag's (1.7e9 s), not the wall clock (> 1.79e9 s in 2026).
    assert 1_700_000_000 <= summary["node_clock_sec"] < 1_700_000_100
    assert "The node ran on the bag's clock (use_sim_time)." in (tmp_path / "live" / "live_report.md").read_text()
    # and the README's node, without use_sim_time, on the wall clock
    from rgbt_perception.replay.report import clock_line

    assert clock_line(1_796_000_000, summary["bag_clock_sec"]).startswith("The node ran on the wall clock")


@pytest.mark.ros
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_live_replay_stopped_by_a_signal_says_so_without_a_traceback(tmp_path, ros_env, sig):
    """Ctrl-C, or SIGTERM from `timeout` / systemd, while the replay waits for a node: exit 130 and
    one line, as for any stopped command (rclpy turns SIGTERM into ExternalShutdownException)."""
    import subprocess
    import sys
    import time

    bag = tmp_path / "bag"
    write_drive_bag(bag, DriveConfig(seconds=0.4, fps=5, height=64, width=96, dropout=None))
    log = tmp_path / "replay.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "rgbt_perception.replay", str(bag), "--live",
                                    "--output", str(tmp_path / "live")], stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "waiting up to" not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(sig)
        code = process.wait(timeout=30)
    finally:
        process.kill()
    printed = log.read_text()
    assert code == 130 and "Traceback" not in printed, printed
    assert "rgbt-replay: stopped by a signal before any pair was played" in printed


@pytest.mark.slow
@pytest.mark.parametrize("key", ["index", "stamp"])
def test_truth_folder_gives_the_same_metrics_as_truth_topics(tmp_path, checkpoints, key):
    bag = tmp_path / "bag"
    write_drive_bag(bag, DRIVE, "mcap")
    truth = tmp_path / "truth"
    for kind in ("labels", "masks"):
        (truth / kind).mkdir(parents=True)
    pairs = read_pairs(bag, DRIVE.rgb_topic, DRIVE.thermal_topic, truth_topics=(DRIVE.label_topic, DRIVE.mask_topic),
                       thermal_timeout=1.0)
    for index, pair in enumerate(pairs):
        name = f"{index if key == 'index' else pair.stamp_ns}.png"
        for kind, topic in (("labels", DRIVE.label_topic), ("masks", DRIVE.mask_topic)):
            msg = pair.truth[topic]
            cv2.imwrite(str(truth / kind / name), np.asarray(msg.data, np.uint8).reshape(msg.height, msg.width))
    common = [str(bag), *checkpoints, *MODEL_PARAMS, "--no-video", "--overlay-every", "0"]
    assert replay([*common, "--label-topic", DRIVE.label_topic, "--mask-topic", DRIVE.mask_topic,
                   "--output", str(tmp_path / "a")]) == 0
    assert replay([*common, "--truth-dir", str(truth), "--truth-key", key, "--output", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert a["saliency"] == b["saliency"] and a["semantic"] == b["semantic"]


@pytest.mark.slow
def test_rgbt_eval_and_rgbt_replay_give_the_same_numbers_on_the_same_frames(tmp_path):
    """The bag's frames written as a folder data set: rgbt-eval over the folder and rgbt-replay
    over the bag, both at the size the checkpoint was trained at, score at native size alike."""
    from rgbt_models.cli.evaluate import main as evaluate_cli
    from rgbt_models.data.classes import class_list

    torch.manual_seed(1)
    backbone = BackboneConfig(name="test", image_size=128)
    sartm = tmp_path / "sartm.pt"
    samsod = tmp_path / "samsod.pt"
    SARTM(SARTMConfig(backbone=backbone, classes="synthetic", lora_rank=4), torch.zeros(4, 1)).save(
        sartm, extra={"input_size": [96, 128]})
    SAMSOD(SAMSODConfig(backbone=backbone)).save(samsod, extra={"input_size": [96, 128]})
    bag = tmp_path / "bag"
    write_drive_bag(bag, DRIVE, "mcap")
    folders = {kind: tmp_path / kind for kind in ("semantic", "saliency")}
    pairs = read_pairs(bag, DRIVE.rgb_topic, DRIVE.thermal_topic, 0.05,
                       truth_topics=(DRIVE.label_topic, DRIVE.mask_topic), thermal_timeout=1.0)
    for index, pair in enumerate(pairs):
        rgb, thermal = decode_pair(pair)
        for kind, folder in folders.items():
            truth_topic, truth_folder = ((DRIVE.label_topic, "labels") if kind == "semantic"
                                         else (DRIVE.mask_topic, "masks"))
            for sub, image in (("rgb", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)), ("thermal", thermal),
                               (truth_folder, np.frombuffer(pair.truth[truth_topic].data, np.uint8)
                                .reshape(rgb.shape[:2]))):
                (folder / sub).mkdir(parents=True, exist_ok=True)
                assert cv2.imwrite(str(folder / sub / f"{index:04d}.png"), image)
    (folders["semantic"] / "classes.yaml").write_text(json.dumps(class_list("synthetic").to_dict()))

    out = tmp_path / "replay"
    assert replay([str(bag), "-p", f"sartm.checkpoint:={sartm}", "-p", f"samsod.checkpoint:={samsod}",
                   "--label-topic", DRIVE.label_topic, "--label-classes", "synthetic", "--mask-topic",
                   DRIVE.mask_topic, "--output", str(out), "--no-video", "--overlay-every", "0"]) == 0
    replayed = json.loads((out / "summary.json").read_text())
    results = {}
    for kind, checkpoint in (("semantic", sartm), ("saliency", samsod)):
        assert evaluate_cli(["--checkpoint", str(checkpoint), "--dataset", f"folder:{folders[kind]}",
                             "--output", str(tmp_path / f"eval_{kind}")]) == 0
        (results[kind],) = json.loads((tmp_path / f"eval_{kind}" / "results.json").read_text()).values()
    assert results["semantic"]["confusion_matrix"] == replayed["semantic"]["with thermal"]["confusion_matrix"]
    assert results["semantic"]["mIoU"] == pytest.approx(replayed["semantic"]["with thermal"]["mIoU"], abs=1e-12)
    for key in ("S", "maxF", "maxE", "MAE", "wF"):
        assert results["saliency"][key] == pytest.approx(replayed["saliency"]["with thermal"][key], abs=1e-9), key


@pytest.mark.slow
def test_rgbt_eval_registers_a_bag_with_the_homography_the_node_uses(tmp_path):
    """A rig whose thermal camera is off the RGB one: rgbt-eval on the bag with --homography (the
    file rgbt-calibrate writes) scores what rgbt-replay scores with it as its params file."""
    from rgbt_models.cli.evaluate import main as evaluate_cli
    from rgbt_models.data.drive import MISREGISTRATION

    torch.manual_seed(2)
    samsod = tmp_path / "samsod.pt"
    SAMSOD(SAMSODConfig(backbone=BackboneConfig(name="test", image_size=128))).save(
        samsod, extra={"input_size": [96, 128]})
    drive = DriveConfig(seconds=0.6, fps=10, height=128, width=160, dropout=None, thermal_warp=MISREGISTRATION)
    write_drive_bag(tmp_path / "bag", drive, "mcap")
    params = tmp_path / "homography.yaml"
    params.write_text(f"/**:\n  ros__parameters:\n    thermal.homography: {list(MISREGISTRATION)}\n")
    topics = ["--rgb-topic", drive.rgb_topic, "--thermal-topic", drive.thermal_topic, "--mask-topic", drive.mask_topic]
    assert replay([str(tmp_path / "bag"), "--config", str(params), "-p", "sartm.enabled:=false", "-p",
                   f"samsod.checkpoint:={samsod}", *topics, "--output", str(tmp_path / "replay"), "--no-video",
                   "--overlay-every", "0"]) == 0
    replayed = json.loads((tmp_path / "replay" / "summary.json").read_text())["saliency"]["with thermal"]
    scores = {}
    for name, registration in (("registered", ["--homography", str(params)]), ("as_recorded", [])):
        assert evaluate_cli(["--checkpoint", str(samsod), "--dataset", f"bag:{tmp_path / 'bag'}", *topics,
                             *registration, "--no-progress", "--output", str(tmp_path / name)]) == 0
        (scores[name],) = json.loads((tmp_path / name / "results.json").read_text()).values()
    for key in ("S", "maxF", "MAE"):
        assert scores["registered"][key] == pytest.approx(replayed[key], abs=1e-9), key
    assert scores["as_recorded"]["MAE"] != pytest.approx(replayed["MAE"], abs=1e-9)


@pytest.mark.slow
def test_replay_refuses_ground_truth_of_another_class_list(tmp_path, checkpoints, capsys):
    bag = tmp_path / "bag"
    write_drive_bag(bag, DRIVE, "mcap")
    args = [str(bag), *checkpoints, *MODEL_PARAMS, "--label-topic", DRIVE.label_topic, "--output", str(tmp_path)]
    assert replay([*args, "--label-classes", "pst900"]) == 2
    err = capsys.readouterr().err
    assert "synthetic (4): 0 background" in err and "pst900 (5)" in err


def test_without_config_replay_reads_the_installed_packages_file(tmp_path, monkeypatch):
    """A colcon or apt install has no source tree: the shipped file is found in the package's share."""
    import ament_index_python.packages as index

    from rgbt_perception.replay import cli

    share = tmp_path / "share" / "rgbt_perception"
    (share / "config").mkdir(parents=True)
    (share / "config" / "rgbt.yaml").write_text("/**:\n  ros__parameters:\n    qos.depth: 9\n")
    monkeypatch.setattr(index, "get_package_share_directory", lambda name: str(share))
    assert cli.default_config() == share / "config" / "rgbt.yaml"

    def not_installed(name):
        raise index.PackageNotFoundError(name)

    monkeypatch.setattr(index, "get_package_share_directory", not_installed)
    assert cli.default_config() == cli.SOURCE_CONFIG


# -- corrupt bags, bad frames, an existing --record ------------------------------------------------
@pytest.fixture(scope="module")
def replay_checkpoints(tmp_path_factory):
    from rgbt_models.backbone import BackboneConfig
    from rgbt_models.samsod import SAMSOD, SAMSODConfig

    folder = tmp_path_factory.mktemp("ckpt")
    SAMSOD(SAMSODConfig(backbone=BackboneConfig(name="test", image_size=128))).save(
        folder / "s.pt", extra={"input_size": [128, 160]})
    return ["-p", "sartm.enabled:=false", "-p", f"samsod.checkpoint:={folder / 's.pt'}"]


def test_replay_names_a_corrupt_or_truncated_bag(tmp_path, replay_checkpoints, capsys):
    from rgbt_models.data.drive import DriveConfig, write_drive_bag
    from rgbt_perception.replay import main as replay

    garbage = tmp_path / "garbage.mcap"
    garbage.write_bytes(b"\x89MCAP0\r\n" + bytes(range(256)) * 4)
    drive = DriveConfig(seconds=0.5, fps=10, height=128, width=160, dropout=None)
    bag = tmp_path / "bag"
    write_drive_bag(bag, drive, "mcap")
    mcap = next(bag.glob("*.mcap"))
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    for path in (garbage, bag):
        code = replay([str(path), *replay_checkpoints, "--rgb-topic", drive.rgb_topic, "--thermal-topic",
                       drive.thermal_topic, "--output", str(tmp_path / "out"), "--no-video"])
        err = capsys.readouterr().err
        assert code == 2 and str(path) in err and "Traceback" not in err


def test_replay_skips_a_bad_frame_and_guards_or_names_earlier_outputs(tmp_path, replay_checkpoints, capsys):
    from rgbt_models.data.rosbag import BagWriter
    from rgbt_models.data.synthetic import make_scene
    from rgbt_perception.replay import main as replay

    bag = tmp_path / "bag"
    with BagWriter(bag, "mcap") as writer:
        for i in range(4):
            stamp = (i + 1) * 100_000_000
            scene = make_scene(i, 128, 160)
            writer.write_image("/rgb", scene.rgb, "rgb8", stamp)
            thermal = writer.image(scene.thermal_raw, "mono16", stamp, "t")
            if i == 2:
                thermal.data = thermal.data[:-7]  # a truncated frame in the middle of the bag
            writer.write("/thermal", thermal, stamp)
    args = [str(bag), *replay_checkpoints, "--rgb-topic", "/rgb", "--thermal-topic", "/thermal",
            "--output", str(tmp_path / "out"), "--no-video", "--record", str(tmp_path / "rec.mcap")]
    assert replay(args) == 0
    assert "replaced" not in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames_processed"] == 3 and summary["bad_frames"] == 1
    assert summary["bad_frame_details"][0]["stamp_ns"] == 300_000_000
    assert summary["record"] == str(tmp_path / "rec") and (tmp_path / "rec").is_dir()
    capsys.readouterr()
    assert replay(args) == 2 and "exists; remove it or pass --overwrite" in capsys.readouterr().err
    assert replay([*args, "--overwrite"]) == 0
    assert "(an earlier run's report there replaced)" in capsys.readouterr().out


def test_the_scene_temperatures_are_each_class_median_and_none_without_radiometric_thermal():
    from rgbt_perception.replay.aggregate import temperature_summary

    rows = [{"class_temperatures_k": "person:309.0 road:288.0", "hottest_object_k": 310.0},
            {"class_temperatures_k": "person:311.0", "hottest_object_k": float("nan")},
            {"class_temperatures_k": "person:300.0 road:290.0", "hottest_object_k": 312.0}]
    assert temperature_summary(rows) == {"classes": {"person": 309.0, "road": 289.0}, "hottest_object": 311.0}
    assert temperature_summary([{"class_temperatures_k": "", "hottest_object_k": float("nan")}]) is None

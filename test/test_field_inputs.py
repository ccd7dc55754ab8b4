"""What field robots and their bags carry and what ROS users expect beside the outputs:
compressed camera topics (image_transport's `compressed`: jpeg/png, 16-bit png thermal) in the
node and in rgbt-replay; the RGB camera_info scaled to the output size."""

from __future__ import annotations

import json
import time

import pytest

from rgbt_models.data.drive import DriveConfig, write_drive_bag
from rgbt_models.data.image_codec import encode_compressed
from rgbt_models.data.synthetic import make_scene
from rgbt_perception.replay import main as replay
from rgbt_perception.testing.node_fixtures import Graph, node_overrides, scene_pair, write_test_checkpoints

pytestmark = pytest.mark.ros

OVERRIDES = node_overrides(rgb__transport="compressed", thermal__transport="compressed")


def compressed(array, encoding, sec, codec="png"):
    from sensor_msgs.msg import CompressedImage

    fmt, data = encode_compressed(array, encoding, codec)
    msg = CompressedImage(format=fmt, data=data)
    msg.header.stamp.sec = sec
    msg.header.frame_id = "camera"
    return msg


def test_node_takes_compressed_topics_under_the_remapped_base_name(rclpy_context):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CompressedImage, Image

    from rgbt_perception.node import RGBTPerceptionNode

    graph = Graph(rclpy_context, RGBTPerceptionNode(context=rclpy_context, parameter_overrides=OVERRIDES,
                                                    cli_args=["--ros-args", "-r", "rgb/image:=/cam/color/image_raw"]))
    node, camera = graph.node, graph.tester
    rgb_pub = camera.create_publisher(CompressedImage, "/cam/color/image_raw/compressed", qos_profile_sensor_data)
    thermal_pub = camera.create_publisher(CompressedImage, "thermal/image/compressed", qos_profile_sensor_data)
    received = []
    camera.create_subscription(Image, "saliency/map", received.append, 10)
    try:
        graph.spin_until(lambda: rgb_pub.get_subscription_count() and thermal_pub.get_subscription_count(),
                         what="the node to subscribe to the compressed topics")
        scene = make_scene(3, 128, 160)
        second, deadline = 1, time.monotonic() + 60  # generous: a loaded machine is slow, not wrong
        while not node.counts["bad"] and time.monotonic() < deadline:
            bad = compressed(scene.rgb, "rgb8", second, "jpeg")  # truncated: decoded on the worker once
            bad.data = bytes(bad.data)[:40]                       # paired, a counted bad pair
            rgb_pub.publish(bad)
            thermal_pub.publish(compressed(scene.thermal_raw, "mono16", second))
            graph.spin_for(0.3)
            second += 1
        while not received and time.monotonic() < deadline:
            rgb_pub.publish(compressed(scene.rgb, "rgb8", second, "jpeg"))
            thermal_pub.publish(compressed(scene.thermal_raw, "mono16", second))
            graph.spin_for(0.3)
            second += 1
        assert received and received[0].height == 128 and received[0].width == 160
        assert node.counts["processed"] >= 1 and node.counts["bad"] == 1 and node.bad_reasons == {"pair": 1}
    finally:
        graph.close()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return [*write_test_checkpoints(tmp_path_factory.mktemp("ckpt")), "-p", "model_height:=128",
            "-p", "model_width:=160"]


def test_replay_of_a_png_compressed_bag_equals_the_raw_bag(tmp_path, checkpoints):
    summaries = {}
    for kind in ("raw", "png"):
        drive = DriveConfig(seconds=0.8, fps=10, height=128, width=160, dropout=None,
                            compressed=None if kind == "raw" else "png")
        write_drive_bag(tmp_path / kind, drive)
        out = tmp_path / f"out_{kind}"
        assert replay([str(tmp_path / kind), *checkpoints, "--label-topic", drive.label_topic, "--mask-topic",
                       drive.mask_topic, "--output", str(out), "--no-video", "--overlay-every", "0"]) == 0
        summaries[kind] = json.loads((out / "summary.json").read_text())
    raw, png = summaries["raw"], summaries["png"]
    assert png["frames_processed"] == raw["frames_processed"] == 8
    assert png["semantic"] == raw["semantic"] and png["saliency"] == raw["saliency"]


def camera_info(width=160, height=128, stamp_sec=0):
    from sensor_msgs.msg import CameraInfo

    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob", d=[0.1, -0.2, 0.0, 0.0, 0.0])
    info.k = [100.0, 0.0, 80.0, 0.0, 110.0, 64.0, 0.0, 0.0, 1.0]
    info.p = [100.0, 0.0, 80.0, -5.0, 0.0, 110.0, 64.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.header.stamp.sec, info.header.frame_id = stamp_sec, "camera_info_frame"
    return info


def test_scaled_camera_info_in_output_pixels():
    from sensor_msgs.msg import RegionOfInterest

    from rgbt_perception.camera_info import info_topic_for, scale_camera_info

    half = scale_camera_info(camera_info(), 64, 80)
    assert list(half.k) == [50.0, 0.0, 40.0, 0.0, 55.0, 32.0, 0.0, 0.0, 1.0]
    assert list(half.p) == [50.0, 0.0, 40.0, -2.5, 0.0, 55.0, 32.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    assert (half.width, half.height) == (80, 64) and list(half.d) == [0.1, -0.2, 0.0, 0.0, 0.0]
    # A binned camera: K is in full-sensor pixels; the output states it in its own.
    binned = camera_info(width=320, height=256)
    binned.binning_x = binned.binning_y = 2
    binned.k = [200.0, 0.0, 160.0, 0.0, 220.0, 128.0, 0.0, 0.0, 1.0]
    out = scale_camera_info(binned, 128, 160)
    assert list(out.k)[:6] == [100.0, 0.0, 80.0, 0.0, 110.0, 64.0] and out.binning_x == 0
    # A cropped camera (roi): the crop's offset is subtracted before scaling.
    cropped = camera_info(width=320, height=256)
    cropped.roi = RegionOfInterest(x_offset=80, y_offset=64, width=160, height=128)
    cropped.k = [100.0, 0.0, 160.0, 0.0, 110.0, 128.0, 0.0, 0.0, 1.0]
    out = scale_camera_info(cropped, 128, 160)
    assert list(out.k)[:6] == [100.0, 0.0, 80.0, 0.0, 110.0, 64.0] and out.roi.width == 0
    assert info_topic_for("/cam/color/image_raw") == "/cam/color/camera_info"
    assert info_topic_for("rgb/image") == "rgb/camera_info"


def test_node_publishes_camera_info_scaled_to_the_outputs_with_their_stamp(rclpy_context):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image

    from rgbt_perception.node import RGBTPerceptionNode

    overrides = node_overrides(output__height=64, output__width=80)
    graph = Graph(rclpy_context, RGBTPerceptionNode(context=rclpy_context, parameter_overrides=overrides,
                                                    cli_args=["--ros-args", "-r", "rgb/image:=/cam/color/image_raw"]))
    camera = graph.tester
    rgb_pub = camera.create_publisher(Image, "/cam/color/image_raw", qos_profile_sensor_data)
    thermal_pub = camera.create_publisher(Image, "thermal/image", qos_profile_sensor_data)
    info_pub = camera.create_publisher(CameraInfo, "/cam/color/camera_info", qos_profile_sensor_data)
    infos, masks = {"semantic": [], "saliency": []}, []
    for prefix in infos:
        camera.create_subscription(CameraInfo, f"{prefix}/camera_info", infos[prefix].append, 10)
    camera.create_subscription(Image, "semantic/mask", masks.append, 10)
    try:
        graph.spin_until(lambda: info_pub.get_subscription_count() and thermal_pub.get_subscription_count(),
                         what="the node's subscriptions")
        second, deadline = 1, time.monotonic() + 60  # generous: a loaded machine is slow, not wrong
        while not (infos["semantic"] and infos["saliency"] and masks) and time.monotonic() < deadline:
            info_pub.publish(camera_info(stamp_sec=second))
            rgb, thermal = scene_pair(second, second, 0)
            rgb_pub.publish(rgb)
            thermal_pub.publish(thermal)
            graph.spin_for(0.3)
            second += 1
        for prefix, received in infos.items():
            assert received, f"no {prefix}/camera_info"
            info = received[0]
            assert (info.width, info.height) == (80, 64) and list(info.k)[:6] == [50.0, 0.0, 40.0, 0.0, 55.0, 32.0]
            assert info.header.frame_id == "rgb_camera"  # the outputs' frame, not the info's
        stamps = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in masks}
        assert (infos["semantic"][0].header.stamp.sec, infos["semantic"][0].header.stamp.nanosec) in stamps
    finally:
        graph.close()


def test_vision_msgs_forms_of_the_outputs():
    """Runs where vision_msgs is installed (a ROS install; not on PyPI)."""
    pytest.importorskip("vision_msgs", reason="vision_msgs is not on PyPI: ROS installs only")
    from std_msgs.msg import Header

    from rgbt_perception import vision_msgs_out
    from rgbt_perception.pipeline import SalientRegion

    header = Header(frame_id="rgb_camera")
    message = vision_msgs_out.detections(header, [SalientRegion(10, 20, 30, 40, 900, 0.75, 25.0, 40.0)])
    (detection,) = message.detections
    center = detection.bbox.center
    point = center.position if hasattr(center, "position") else center
    assert (point.x, point.y, detection.bbox.size_x, detection.bbox.size_y) == (25.0, 40.0, 30.0, 40.0)
    assert detection.results[0].hypothesis.score == 0.75 and detection.header.frame_id == "rgb_camera"
    labels = vision_msgs_out.label_info(header, ["unlabeled", "person"])
    assert [(c.class_id, c.class_name) for c in labels.class_map] == [(0, "unlabeled"), (1, "person")]

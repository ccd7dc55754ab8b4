"""What field robots and their bags carry: compressed camera topics (image_transport's
`compressed`: jpeg/png, 16-bit png thermal) in the node and in rgbt-replay."""

from __future__ import annotations

import json
import time

import pytest
import torch
from node_fixtures import MODEL_CONFIGS
from rclpy.parameter import Parameter

from rgbt_models.backbone import BackboneConfig
from rgbt_models.data.drive import DriveConfig, write_drive_bag
from rgbt_models.data.image_codec import encode_compressed
from rgbt_models.data.synthetic import make_scene
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig
from rgbt_perception.replay import main as replay

pytestmark = pytest.mark.ros

OVERRIDES = [Parameter("allow_untrained", value=True),
             Parameter("sartm.config", value=str(MODEL_CONFIGS / "sartm" / "test.yaml")),
             Parameter("samsod.config", value=str(MODEL_CONFIGS / "samsod" / "test.yaml")),
             Parameter("model_height", value=128), Parameter("model_width", value=160),
             Parameter("rgb.transport", value="compressed"), Parameter("thermal.transport", value="compressed")]


def compressed(array, encoding, sec, codec="png"):
    from sensor_msgs.msg import CompressedImage

    fmt, data = encode_compressed(array, encoding, codec)
    msg = CompressedImage(format=fmt, data=data)
    msg.header.stamp.sec = sec
    msg.header.frame_id = "camera"
    return msg


def test_node_takes_compressed_topics_under_the_remapped_base_name(rclpy_context):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CompressedImage, Image

    from rgbt_perception.node import RGBTPerceptionNode

    node = RGBTPerceptionNode(context=rclpy_context, parameter_overrides=OVERRIDES,
                              cli_args=["--ros-args", "-r", "rgb/image:=/cam/color/image_raw"])
    camera = Node("camera", context=rclpy_context)
    rgb_pub = camera.create_publisher(CompressedImage, "/cam/color/image_raw/compressed", qos_profile_sensor_data)
    thermal_pub = camera.create_publisher(CompressedImage, "thermal/image/compressed", qos_profile_sensor_data)
    received = []
    camera.create_subscription(Image, "saliency/map", received.append, 10)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    executor.add_node(camera)
    try:
        deadline = time.monotonic() + 30
        while rgb_pub.get_subscription_count() == 0 or thermal_pub.get_subscription_count() == 0:
            executor.spin_once(timeout_sec=0.05)
            assert time.monotonic() < deadline, "the node did not subscribe to the compressed topics"
        def spin_for(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.02)

        scene = make_scene(3, 128, 160)
        for second in range(1, 20):  # a truncated jpeg: decoded on the worker once paired, a counted bad pair
            bad = compressed(scene.rgb, "rgb8", second, "jpeg")
            bad.data = bytes(bad.data)[:40]
            rgb_pub.publish(bad)
            thermal_pub.publish(compressed(scene.thermal_raw, "mono16", second))
            spin_for(0.3)
            if node.counts["bad"]:
                break
        for second in range(20, 40):
            rgb_pub.publish(compressed(scene.rgb, "rgb8", second, "jpeg"))
            thermal_pub.publish(compressed(scene.thermal_raw, "mono16", second))
            spin_for(0.2)
            if received:
                break
        assert received and received[0].height == 128 and received[0].width == 160
        assert node.counts["processed"] >= 1 and node.counts["bad"] == 1 and node.bad_reasons == {"pair": 1}
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.shutdown()
        node.destroy_node()
        camera.destroy_node()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    backbone = BackboneConfig(name="test", image_size=128)
    SARTM(SARTMConfig(backbone=backbone, classes="synthetic", lora_rank=4), torch.zeros(4, 1)).save(folder / "a.pt")
    SAMSOD(SAMSODConfig(backbone=backbone)).save(folder / "b.pt")
    return ["-p", f"sartm.checkpoint:={folder / 'a.pt'}", "-p", f"samsod.checkpoint:={folder / 'b.pt'}",
            "-p", "model_height:=128", "-p", "model_width:=160"]


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

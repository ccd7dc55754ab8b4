"""Helpers of the node tests: synthetic image messages, the node's test parameters and
checkpoints, and an in-process graph (the node under test + a tester node on one executor)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rgbt_models.data.synthetic import make_scene
from rgbt_perception.testing.ros_harness import REPO_ROOT, spin_until

MODEL_CONFIGS = REPO_ROOT / "rgbt_models" / "rgbt_models" / "configs"
# The parameter set of the node under test (test-size models with random weights); the
# subprocess form adds the shipped parameter file underneath, as a robot would run it.
TEST_PARAMETERS = {
    "allow_untrained": True, "sartm.config": str(MODEL_CONFIGS / "sartm" / "test.yaml"),
    "samsod.config": str(MODEL_CONFIGS / "samsod" / "test.yaml"), "model_height": 128, "model_width": 160,
    "thermal.timeout": 0.6, "diagnostics_period": 0.25,
    "uncertainty.warn": 1.0,  # random weights: their uncertainty means nothing (its own test sets it)
}


def ros_argument(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


TEST_NODE_ARGS = ["--params-file", str(REPO_ROOT / "config" / "rgbt.yaml"),
                  *[part for name, value in TEST_PARAMETERS.items()
                    for part in ("-p", f"{name}:={ros_argument(value)}")]]


def refused_at_start(*ros_args: str) -> str:
    """What the node says when it refuses to start with `ros_args`, started in this process by the
    executable's own entry (rgbt_perception.node.main: rclpy's default context, the parameters
    declared and checked, the models loaded): exit status 2, one line, no traceback. The same
    start as a subprocess without a second interpreter loading torch."""
    import contextlib
    import io

    from rgbt_perception.node import main

    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        code = main(["rgbt_perception_node", "--ros-args", *ros_args])
    assert code == 2 and "Traceback" not in said.getvalue(), said.getvalue()
    return said.getvalue()


def image_msg(array: np.ndarray, encoding: str, sec: int, nanosec: int, frame_id: str = "camera"):
    """A sensor_msgs/Image of `array` (any dtype and channel count), built as the node builds its
    outputs (the fast path that Humble's message checks accept at once)."""
    from rgbt_perception.outputs import array_to_image

    msg = array_to_image(array, encoding)
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.header.frame_id = frame_id
    return msg


def scene_pair(index: int, sec: int, nanosec: int, height: int = 128, width: int = 160):
    scene = make_scene(index, height, width)
    return (image_msg(scene.rgb, "rgb8", sec, nanosec, "rgb_camera"),
            image_msg(scene.thermal_raw, "mono16", sec, nanosec, "thermal_camera"))


def node_overrides(**extra) -> list:
    """parameter_overrides for an in-process node with the test-size models (random weights)."""
    from rclpy.parameter import Parameter

    values = {**TEST_PARAMETERS, **{k.replace("__", "."): v for k, v in extra.items()}}
    return [Parameter(name, value=value) for name, value in values.items()]


def write_test_checkpoints(folder: Path) -> list[str]:
    """Test-size SARTM and SAMSOD checkpoints (random weights, seed 0) in `folder`, as the
    node/replay parameters that load them (model size 128x160)."""
    import torch

    from rgbt_models.backbone import BackboneConfig
    from rgbt_models.runtime.loading import untrained_model
    from rgbt_models.samsod import SAMSODConfig
    from rgbt_models.sartm import SARTMConfig

    torch.manual_seed(0)
    backbone = BackboneConfig(name="test", image_size=128)
    untrained_model(SARTMConfig(backbone=backbone, classes="synthetic", lora_rank=4)).save(folder / "a.pt")
    untrained_model(SAMSODConfig(backbone=backbone)).save(folder / "b.pt")
    return ["-p", f"sartm.checkpoint:={folder / 'a.pt'}", "-p", f"samsod.checkpoint:={folder / 'b.pt'}"]


class CameraFeed:
    """The cameras of an in-process node under test: a tester node publishing on the node's input
    topics (rgb/image, thermal/image), spun by one executor with the node, so that every message
    reaches it as a camera's would: over DDS, through its subscription and its callbacks."""

    def __init__(self, node, executor=None, tester=None) -> None:
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        self.node, self.own = node, executor is None
        self.tester = tester or Node("camera_feed", context=node.context)
        if executor is None:
            executor = SingleThreadedExecutor(context=node.context)
            executor.add_node(node)
            executor.add_node(self.tester)
        self.executor = executor
        self.publishers = {stream: self.tester.create_publisher(Image, f"{stream}/image", qos_profile_sensor_data)
                           for stream in ("rgb", "thermal")}

    def spin_until(self, condition, timeout: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            self.executor.spin_once(timeout_sec=0.05)
            assert time.monotonic() < deadline, f"timed out waiting for {what}"

    def send(self, stream: str, msg, timeout: float = 60.0) -> None:
        """Publish one `stream` ("rgb" or "thermal") message and return once the node's callback
        has taken it (its count of that stream moved)."""
        publisher = self.publishers[stream]
        self.spin_until(lambda: publisher.get_subscription_count() > 0, timeout, f"the node's {stream} subscription")
        before = self.node.counts[stream]
        publisher.publish(msg)
        self.spin_until(lambda: self.node.counts[stream] > before, timeout, f"the node to take a {stream} message")

    def pair(self, rgb_msg, thermal_msg) -> None:
        self.send("rgb", rgb_msg)
        self.send("thermal", thermal_msg)

    def processes(self, rgb_msg, thermal_msg, timeout: float = 60.0) -> bool:
        """Send a pair and wait until the node's worker has processed it; whether it did."""
        before = self.node.counts["processed"]
        self.pair(rgb_msg, thermal_msg)
        deadline = time.monotonic() + timeout
        while self.node.counts["processed"] == before and time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.02)
        return self.node.counts["processed"] != before

    def close(self) -> None:
        for publisher in self.publishers.values():
            self.tester.destroy_publisher(publisher)
        if self.own:
            self.executor.remove_node(self.node)
            self.executor.shutdown(timeout_sec=1.0)
            self.tester.destroy_node()


class Graph:
    """A node under test and a tester node (publishers, subscriptions, service clients) spun
    by one executor in this process; deadlines are generous for a loaded machine."""

    def __init__(self, context, node):
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node

        self.node, self.tester = node, Node("tester", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(node)
        self.executor.add_node(self.tester)
        self.cameras = CameraFeed(node, self.executor, self.tester)

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.02)

    def spin_until(self, condition, timeout: float = 60.0, what: str = "condition") -> None:
        self.cameras.spin_until(condition, timeout, what)

    def call(self, service_type, name: str, request):
        """A service call from the tester node (what `ros2 service call` / `ros2 param set` do)."""
        client = self.tester.create_client(service_type, name)
        self.spin_until(client.service_is_ready, what=f"service {name}")
        future = client.call_async(request)
        self.executor.spin_until_future_complete(future, timeout_sec=60)
        return future.result()

    def processes_a_pair(self, second: int, timeout: float = 60.0) -> bool:
        """Publish one pair to the node; whether the worker processed it."""
        return self.cameras.processes(*scene_pair(second, second, 0), timeout=timeout)

    def drops_a_pair(self, second: int) -> bool:
        """Publish one pair to the node; whether the node dropped it in its callbacks (disabled or
        inactive: no pair formed, so nothing handed to the worker). Decided when the callbacks
        have taken both messages, with no waiting for an answer: a pair forms, and is handed to
        the worker, in the callback that takes its second message."""
        before = self.node.counts["pairs"]
        self.cameras.pair(*scene_pair(second, second, 0))
        return self.node.counts["pairs"] == before

    def close(self) -> None:
        self.cameras.close()
        self.executor.shutdown(timeout_sec=1.0)
        self.node.shutdown()
        self.node.destroy_node()
        self.tester.destroy_node()


OUTPUTS = {"semantic/mask": "Image", "semantic/color": "Image", "semantic/classes": "SemanticClasses",
           "saliency/map": "Image", "saliency/mask": "Image", "saliency/objects": "SalientObjects"}


class Probe:
    """A test-side node that publishes camera pairs and records every output of the node."""

    def __init__(self, context):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import Image

        from rgbt_msgs.msg import ClassMap, SalientObjects, SemanticClasses

        self.node = Node("probe", context=context)
        self.rgb_pub = self.node.create_publisher(Image, "rgb/image", qos_profile_sensor_data)
        self.thermal_pub = self.node.create_publisher(Image, "thermal/image", qos_profile_sensor_data)
        self.received: dict[str, list] = {topic: [] for topic in OUTPUTS}
        types = {"Image": Image, "SemanticClasses": SemanticClasses, "SalientObjects": SalientObjects}
        for topic, type_name in OUTPUTS.items():
            self.node.create_subscription(types[type_name], topic,
                                          lambda msg, t=topic: self.received[t].append(msg), 10)
        self.class_maps: list = []
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(ClassMap, "semantic/class_map", self.class_maps.append, latched)
        self.diagnostics: list = []
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 10)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)

    def spin_for(self, seconds: float) -> None:
        spin_until(self.node, lambda: False, seconds, self.executor)

    def wait(self, condition, timeout: float) -> bool:
        return spin_until(self.node, condition, timeout, self.executor)

    def wait_for_node(self, timeout: float = 60.0) -> bool:
        return self.wait(lambda: self.rgb_pub.get_subscription_count() > 0
                         and self.thermal_pub.get_subscription_count() > 0, timeout)

    def publish_pairs(self, count: int, start_sec: int = 100, rate: float = 5.0, thermal: bool = True) -> list:
        stamps = []
        for i in range(count):
            sec, nanosec = start_sec + i // 10, (i % 10) * 100_000_000
            rgb, th = scene_pair(i, sec, nanosec)
            self.rgb_pub.publish(rgb)
            if thermal:
                self.thermal_pub.publish(th)
            stamps.append((sec, nanosec))
            self.spin_for(1.0 / rate)
        return stamps

    def last_status(self):
        return self.diagnostics[-1].status[0] if self.diagnostics else None

    def status_value(self, key: str):
        status = self.last_status()
        return {kv.key: kv.value for kv in status.values}.get(key) if status else None

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()



"""The other end of the node in the node benchmarks: a second process that publishes RGB-T pairs
on the node's camera topics, times each saliency/map answer by its stamp, and keeps /diagnostics."""

from __future__ import annotations

import time

import numpy as np

from rgbt_perception.testing.ros_harness import REPO_ROOT

CONFIGS = REPO_ROOT / "rgbt_models/rgbt_models/configs"


def node_overrides(size: str) -> dict:
    """The parameters, over config/rgbt.yaml, of a node with random-weight SARTM + SAMSOD of `size`
    at 640x512 model input."""
    sartm = CONFIGS / "sartm" / ("test.yaml" if size == "test" else f"{size}_mfnet.yaml")
    return {"allow_untrained": True, "sartm.config": str(sartm),
            "samsod.config": str(CONFIGS / "samsod" / f"{size}.yaml"), "model_height": 512, "model_width": 640}


def node_arguments(size: str, *extra: str) -> list[str]:
    """--ros-args for the node of node_overrides(size)."""
    overrides = [f"{name}:={str(value).lower() if isinstance(value, bool) else value}"
                 for name, value in node_overrides(size).items()]
    return ["--params-file", str(REPO_ROOT / "config/rgbt.yaml"),
            *(arg for override in overrides for arg in ("-p", override)), *extra]


class CameraProbe:
    """Publishers for rgb/image and thermal/image (sensor QoS), a saliency/map subscription that
    records (arrival, latency) per answered stamp, and the /diagnostics messages."""

    def __init__(self, name: str) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image

        self.node = Node(name)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.rgb_pub = self.node.create_publisher(Image, "rgb/image", qos_profile_sensor_data)
        self.thermal_pub = self.node.create_publisher(Image, "thermal/image", qos_profile_sensor_data)
        self.sent: dict[tuple[int, int], float] = {}
        self.latencies: list[tuple[float, float]] = []
        self.answered: set[tuple[int, int]] = set()  # the stamps the node has answered
        self.diagnostics: list = []
        self.diagnostic_arrivals: list[float] = []  # monotonic arrival time of each of `diagnostics`
        self.node.create_subscription(Image, "saliency/map", self._answered, 10)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._diagnosed, 10)

    def _answered(self, msg) -> None:
        now = time.monotonic()
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        self.answered.add(key)
        self.latencies.append((now, now - self.sent.pop(key, np.nan)))

    def _diagnosed(self, msg) -> None:
        self.diagnostics.append(msg)
        self.diagnostic_arrivals.append(time.monotonic())

    def publish_pair(self, rgb, thermal, stamp_ns: int | None = None, with_thermal: bool = True) -> tuple[int, int]:
        """Stamp both (wall clock by default), remember when, publish; returns the stamp (sec, nanosec)."""
        stamp_ns = time.time_ns() if stamp_ns is None else stamp_ns
        key = (stamp_ns // 10**9, stamp_ns % 10**9)
        for msg in (rgb, thermal):
            msg.header.stamp.sec, msg.header.stamp.nanosec = key
        self.sent[key] = time.monotonic()
        self.rgb_pub.publish(rgb)
        if with_thermal:
            self.thermal_pub.publish(thermal)
        return key

    def status(self) -> dict[str, str]:
        """The last /diagnostics key-values, plus its message under 'message'."""
        if not self.diagnostics:
            return {}
        status = self.diagnostics[-1].status[0]
        return {kv.key: kv.value for kv in status.values} | {"message": status.message}

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()


def stop_text(node, timeout: float) -> str:
    """How the node under measurement stopped on SIGINT, reported rather than required: how long
    a loaded machine takes to stop the node is its own measure and must not cost the table."""
    try:
        return f"{node.stop(timeout=timeout):.2f} s, exit 0"
    except AssertionError as error:
        return str(error).splitlines()[0]


def tear_down(node, probe, lease) -> None:
    """The node (if any) killed if still running, the probe closed, rclpy down, the ROS domain released."""
    import rclpy

    if node is not None:
        node.kill()
    probe.close()
    rclpy.try_shutdown()
    lease.release()


class SensorFrames:
    """Camera pairs of a few synthetic scenes, each thermal frame with its own sensor noise (a few
    counts, shifted every frame), as a real camera sends them: a still scene is never bit for bit
    the frame before, which is what the node's freeze detector takes for a frozen camera.
    `frames[i]` is pair i (any i); the RGB messages are built once."""

    def __init__(self, scenes, noise_counts: int = 3, seed: int = 0) -> None:
        from rgbt_perception.testing.node_fixtures import image_msg

        self.scenes = scenes
        self.rgb = [image_msg(scene.rgb, "rgb8", 0, 0) for scene in scenes]
        self.noise = np.random.default_rng(seed).integers(0, noise_counts + 1, scenes[0].thermal_raw.shape,
                                                          dtype=np.uint16)
        self.image_msg = image_msg

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int):
        scene = self.scenes[index % len(self.scenes)]
        thermal = scene.thermal_raw + np.roll(self.noise, index)
        return self.rgb[index % len(self.scenes)], self.image_msg(thermal, "mono16", 0, 0)

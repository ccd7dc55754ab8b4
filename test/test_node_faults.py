"""The node under faults, in-process and as a subprocess: malformed thermal, non-finite model
output, thermal that can never be paired, a slow model at shutdown, signals while it starts,
misspelt and mistyped parameters, "no input"."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import rclpy
import torch
from rclpy.parameter import Parameter

from rgbt_perception.testing.node_fixtures import (
    MODEL_CONFIGS,
    TEST_NODE_ARGS,
    CameraFeed,
    image_msg,
    refused_at_start,
    scene_pair,
)
from rgbt_perception.testing.ros_harness import NodeProcess

pytestmark = pytest.mark.ros

OVERRIDES = [Parameter("allow_untrained", value=True),
             Parameter("sartm.config", value=str(MODEL_CONFIGS / "sartm" / "test.yaml")),
             Parameter("samsod.config", value=str(MODEL_CONFIGS / "samsod" / "test.yaml")),
             Parameter("model_height", value=128), Parameter("model_width", value=160),
             Parameter("thermal.timeout", value=0.3), Parameter("uncertainty.warn", value=1.0),
             # the tests ask for the reports themselves: the node's own timer must not take one
             # ("since the last report") in between, however slowly a loaded machine runs them
             Parameter("diagnostics_period", value=60.0)]


@pytest.fixture
def node(rclpy_context):
    from rgbt_perception.node import RGBTPerceptionNode

    instance = RGBTPerceptionNode(context=rclpy_context, parameter_overrides=OVERRIDES)
    yield instance
    instance.shutdown()
    instance.destroy_node()


@pytest.fixture
def cameras(node):
    """The node's cameras: messages published on its input topics (testing.node_fixtures.CameraFeed)."""
    feed = CameraFeed(node)
    yield feed
    feed.close()


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_malformed_32fc1_is_counted_and_the_node_keeps_serving(node, cameras):
    for step, length in ((161 * 4 + 1, (161 * 4 + 1) * 128), (160 * 4, 160 * 4 * 128 - 3)):
        msg = image_msg(np.zeros((128, 160), np.float32), "32FC1", 1, 0)
        msg.step, msg.data = step, np.zeros(length, np.uint8).tobytes()
        cameras.send("thermal", msg)  # must not raise
    # rows padded by 5 bytes (not a whole pixel) are a valid layout, decoded byte for byte; 3 bytes
    # short is not: one refused, counted under its stream, and no pair without an RGB frame
    assert node.bad_reasons == {"thermal": 1} and node.counts["thermal"] == 2 and node.counts["pairs"] == 0
    rgb, thermal = scene_pair(0, 2, 0)
    cameras.send("rgb", rgb)
    cameras.send("thermal", thermal)
    assert wait_for(lambda: node.counts["processed"] == 1) and node.worker.is_alive()
    assert node.counts["pairs"] == 1 and node.counts["model_errors"] == 0


def test_non_finite_model_output_is_never_published(node, cameras):
    nan = torch.full((1, 1, 128, 160), float("nan"))
    node.pipeline.samsod.predict_with_heads = lambda rgb, thermal: (nan, {"fused": nan})
    rgb, thermal = scene_pair(1, 3, 0)
    cameras.send("rgb", rgb)
    cameras.send("thermal", thermal)
    assert wait_for(lambda: node.counts["non_finite_outputs"] == 1)
    assert node.counts["processed"] == 0
    status = node.diagnostic_status()
    assert "non-finite model outputs dropped" in status.message


def test_thermal_float_limits_give_finite_outputs(node, cameras):
    rgb, _ = scene_pair(2, 4, 0)
    extreme = np.full((128, 160), 3e38, np.float32)
    extreme[:, :80] = -3e38
    cameras.send("rgb", rgb)
    cameras.send("thermal", image_msg(extreme, "32FC1", 4, 0))
    assert wait_for(lambda: node.counts["processed"] == 1)
    assert node.counts["non_finite_outputs"] == 0


def test_thermal_that_never_pairs_degrades_with_the_measured_offset(node, cameras):
    now = [0.0]  # the stream health's clock, injected: arrivals 50 ms apart however loaded the machine
    node.health.clock = lambda: now[0]
    for i in range(12):
        rgb, thermal = scene_pair(i, 100, i * 100_000_000)
        thermal.header.stamp.sec = 95  # 5 s behind: a clock or driver problem
        cameras.send("thermal", thermal)
        cameras.send("rgb", rgb)
        now[0] += 0.05
    assert node.counts["pairs"] == 0
    assert wait_for(lambda: node.counts["processed"] >= 1)  # RGB-only saliency keeps coming
    status = node.diagnostic_status()  # (at the health clock's 0.6 s: both cameras are still publishing)
    assert status.message.startswith("DEGRADED: RGB and thermal cannot be paired")
    assert "thermal stamps are 5.000 s behind RGB" in status.message


def test_no_input_is_reported_as_such(node, cameras):
    rgb, thermal = scene_pair(0, 200, 0)
    cameras.send("rgb", rgb)
    cameras.send("thermal", thermal)
    time.sleep(0.5)  # both silent for longer than thermal.timeout
    assert node.diagnostic_status().message == "no input: neither camera is publishing"



def test_diagnostics_report_memory_and_uptime_for_long_runs(node):
    """A robot left running all day: its monitoring sees the node's memory and how long it has run."""
    from pathlib import Path

    def values():
        return {kv.key: kv.value for kv in node.diagnostic_status().values}

    first = values()
    rss = next(int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    assert abs(float(first["resident memory (MB)"]) - rss) < 0.1 * rss
    time.sleep(1.1)
    assert float(values()["uptime (s)"]) >= float(first["uptime (s)"]) + 1

class Sleep(torch.nn.Module):
    def forward(self, x):
        time.sleep(0.2)
        return x


class SlowSaliency(torch.nn.Module):
    """A deliberately slow saliency model (10 s a frame, in 50 module calls)."""

    kind, input_size = "samsod", (128, 160)

    def __init__(self) -> None:
        super().__init__()
        self.step = Sleep()

    def predict(self, rgb, thermal):
        for _ in range(50):
            rgb = self.step(rgb)
        return torch.zeros(1, 1, *rgb.shape[-2:])


def test_shutdown_cancels_a_slow_inference(node, cameras):
    from rgbt_perception.pipeline import Pipeline, PipelineConfig

    node.pipeline = Pipeline(PipelineConfig(), samsod=SlowSaliency(), model_size=(128, 160))
    rgb, thermal = scene_pair(0, 300, 0)
    cameras.send("rgb", rgb)
    cameras.send("thermal", thermal)
    assert wait_for(lambda: node.pending is None)
    time.sleep(0.5)  # inside the slow forward now
    assert node.shutdown(deadline=3.0)  # within its deadline, though a frame of this model takes far longer
    assert not node.worker.is_alive()
    assert node.counts["processed"] == 0


def test_a_signal_while_the_lifecycle_node_configures_itself_is_a_clean_stop():
    from rgbt_perception import lifecycle_node
    from rgbt_perception.node import main

    class SignalledWhileConfiguring(lifecycle_node.RGBTPerceptionLifecycleNode):
        def __init__(self) -> None:
            super().__init__(parameter_overrides=OVERRIDES)

        def on_configure(self, state):
            terminate_self()
            return super().on_configure(state)

    assert main_exit_code(main, lambda: lifecycle_node.make_autostarted_node(SignalledWhileConfiguring)) == 0
    assert not [t for t in threading.enumerate() if t.name == "rgbt_inference" and t.is_alive()]


def terminate_self() -> None:
    """SIGTERM to this process, as a service manager sends it. While main builds the node its
    handler (process.StartSignals) raises StartInterrupted here; afterwards rclpy's handler shuts
    the context down and this returns once it has, so that the caller's next rcl call fails as it
    would in the field."""
    os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + 30
    while rclpy.ok() and time.monotonic() < deadline:
        time.sleep(0.01)


def main_exit_code(main, make_node) -> int:
    """The node's main() run in this process (default context, rclpy's signal handlers)."""
    try:
        return main(["rgbt_perception"], make_node)
    finally:
        rclpy.signals.uninstall_signal_handlers()


# -- start-up refusals (subprocess) ---------------------------------------------------------------
def test_misspelt_mistyped_and_contradictory_parameters_are_refused(ros_env):
    def start_fails(*extra: str) -> str:
        return refused_at_start(*TEST_NODE_ARGS, *extra)

    assert "samsod.checkpint (did you mean samsod.checkpoint?)" in start_fails("-p", "samsod.checkpint:=x.pt")
    err = start_fails("-p", "sync.slop:=soon")
    assert "sync.slop='soon' has the wrong type: expected float" in err
    err = start_fails("-p", "thermal.range_min:=500.0", "-p", "thermal.range_max:=100.0")
    assert "thermal.range_min=500.0 must be below thermal.range_max=100.0" in err


@pytest.mark.slow
def test_sigint_during_inference_exits_cleanly_and_promptly(rclpy_context):
    """A 640x512 frame keeps the test models busy; SIGINT while they run ends the node with 0."""
    from sensor_msgs.msg import Image

    node = NodeProcess("rgbt_perception.node", ros_args=[*TEST_NODE_ARGS, "-p", "model_height:=512",
                                                         "-p", "model_width:=640"])
    probe = rclpy.create_node("hardening_probe", context=rclpy_context)
    try:
        node.wait_for_log("rgbt_perception ready", timeout=90)
        pubs = [probe.create_publisher(Image, topic, 5) for topic in ("rgb/image", "thermal/image")]
        assert wait_for(lambda: all(p.get_subscription_count() for p in pubs), 30)
        rgb, thermal = scene_pair(0, 1, 0, 512, 640)
        for _ in range(3):
            pubs[0].publish(rgb)
            pubs[1].publish(thermal)
            time.sleep(0.1)
        took = node.stop(signal.SIGINT, timeout=5.0)
        assert took < 3.0
    finally:
        node.kill()
        probe.destroy_node()

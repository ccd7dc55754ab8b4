"""The node's worker in-process: a model exception is logged, counted, and good pairs keep flowing."""

from __future__ import annotations

import time

import pytest
from rclpy.parameter import Parameter

from rgbt_perception.testing.node_fixtures import MODEL_CONFIGS, CameraFeed, scene_pair

pytestmark = pytest.mark.ros


def test_model_exception_is_counted_and_the_node_keeps_serving(rclpy_context):
    from diagnostic_msgs.msg import DiagnosticStatus

    from rgbt_perception.node import RGBTPerceptionNode

    overrides = [Parameter("allow_untrained", value=True),
                 Parameter("sartm.config", value=str(MODEL_CONFIGS / "sartm" / "test.yaml")),
                 Parameter("samsod.config", value=str(MODEL_CONFIGS / "samsod" / "test.yaml")),
                 Parameter("model_height", value=128), Parameter("model_width", value=160),
                 Parameter("diagnostics_period", value=60.0)]  # the reports below are the test's own
    node = RGBTPerceptionNode(context=rclpy_context, parameter_overrides=overrides)
    cameras = CameraFeed(node)
    try:
        real_run = node.pipeline.run
        calls = {"n": 0}

        def flaky_run(rgb, thermal, outputs, thermal_stamp=None):
            calls["n"] += 1
            if calls["n"] <= 2:
                raise RuntimeError("CUDA out of memory (simulated)")
            return real_run(rgb, thermal, outputs, thermal_stamp)

        node.pipeline.run = flaky_run
        for i in range(4):
            rgb, thermal = scene_pair(i, 10 + i, 0)
            cameras.pair(rgb, thermal)
            deadline = time.monotonic() + 20
            while node.pending is not None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.3)
        deadline = time.monotonic() + 20
        while node.counts["processed"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert node.counts["model_errors"] == 2
        assert node.counts["processed"] == 2
        assert node.worker.is_alive()
        status = node.diagnostic_status()  # the report after the failures says so ...
        assert status.level == DiagnosticStatus.WARN
        assert "model failed on 2 frames since the last report" in status.message
        later = node.diagnostic_status()  # ... the next one no longer (the total stays)
        assert "model failed" not in later.message
        assert {kv.key: kv.value for kv in later.values}["model_errors"] == "2"
    finally:
        cameras.close()
        node.shutdown()
        node.destroy_node()


def test_dropped_pairs_are_counted_by_the_one_pairing_rule(rclpy_context):
    """The node pairs by the model library's rule (as rgbt-replay and the bag loaders do) on every
    install: a duplicated RGB stamp is dropped and counted in /diagnostics' "sync dropped"."""
    from rgbt_models.data.pairing import PairSynchronizer
    from rgbt_perception.node import RGBTPerceptionNode
    from rgbt_perception.testing.node_fixtures import node_overrides

    node = RGBTPerceptionNode(context=rclpy_context, parameter_overrides=node_overrides())
    cameras = CameraFeed(node)
    try:
        assert type(node.sync) is PairSynchronizer
        rgb, thermal = scene_pair(0, 10, 0)
        cameras.send("rgb", rgb)
        cameras.send("rgb", rgb)  # the driver sent the same frame twice
        cameras.send("thermal", thermal)
        values = {kv.key: kv.value for kv in node.diagnostic_status().values}
        assert values["sync dropped"] == "1" and node.sync.dropped == 1
    finally:
        cameras.close()
        node.shutdown()
        node.destroy_node()


def test_the_live_overlay_is_composed_only_while_subscribed(rclpy_context):
    """output.overlay_rate > 0: debug/overlay publishes the replay's panel (RGB | thermal | classes
    | saliency) while somebody subscribes, and composes nothing otherwise; 0: no publisher at all."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import Image

    from rgbt_perception.node import RGBTPerceptionNode
    from rgbt_perception.overlay import LiveOverlay
    from rgbt_perception.testing.node_fixtures import node_overrides
    from rgbt_perception.testing.ros_harness import spin_until

    node = RGBTPerceptionNode(context=rclpy_context, parameter_overrides=node_overrides(output__overlay_rate=30.0))
    cameras = CameraFeed(node)

    def frame(node, index: int) -> None:
        assert cameras.processes(*scene_pair(index, 20 + index, 0))

    probe = Node("overlay_viewer", context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(probe)
    panels: list = []
    try:
        assert LiveOverlay(node, 0.0).publisher is None  # rate 0 (the default): no publisher at all
        frame(node, 0)
        assert node.overlay.published == 0  # nobody subscribed: not composed
        probe.create_subscription(Image, "/debug/overlay", panels.append, 1)
        assert spin_until(probe, lambda: node.overlay.publisher.get_subscription_count() > 0, 30, executor)
        frame(node, 1)
        assert spin_until(probe, lambda: bool(panels), 30, executor)
        assert node.overlay.published == 1
        panel = panels[0]
        assert panel.encoding == "rgb8" and panel.width == 4 * 160 and panel.height > 128
    finally:
        executor.shutdown()
        probe.destroy_node()
        cameras.close()
        node.shutdown()
        node.destroy_node()


def test_the_node_publishes_each_frames_uncertainty_and_warns_when_the_models_are_unsure(rclpy_context):
    """`uncertainty` (rgbt_msgs/FrameUncertainty, the RGB stamp) for each frame; /diagnostics says
    WARN while the median since the last report is above uncertainty.warn, and OK again below."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter as RclpyParameter

    from rgbt_msgs.msg import FrameUncertainty
    from rgbt_perception.node import RGBTPerceptionNode
    from rgbt_perception.testing.node_fixtures import Graph, node_overrides

    graph = Graph(rclpy_context, RGBTPerceptionNode(context=rclpy_context,
                                                    parameter_overrides=node_overrides(uncertainty__warn=0.0,
                                                                                       diagnostics_period=60.0)))
    received: list = []
    try:
        graph.tester.create_subscription(FrameUncertainty, "uncertainty", received.append, 10)
        graph.spin_until(lambda: graph.node.pubs["uncertainty"].get_subscription_count() > 0, what="a subscriber")
        graph.node.stats.rates()  # a report before the frame: the next one covers it alone
        assert graph.processes_a_pair(30)
        graph.spin_until(lambda: bool(received), what="an uncertainty message")
        (message,) = received
        assert (message.header.stamp.sec, message.header.stamp.nanosec) == (30, 0)
        assert all(0.0 <= value <= 1.0 for value in (message.uncertainty, message.saliency, message.semantic))
        assert message.uncertainty == pytest.approx((message.saliency + message.semantic) / 2, abs=1e-6)
        status = graph.node.diagnostic_status()
        assert status.level == status.WARN and "models unsure: uncertainty" in status.message
        assert "above uncertainty.warn 0" in status.message
        values = {kv.key: kv.value for kv in status.values}
        assert values["uncertainty frames"] == "1" and float(values["uncertainty median"]) == \
            pytest.approx(message.uncertainty, abs=1e-3)
        request = SetParameters.Request(parameters=[RclpyParameter("uncertainty.warn", value=1.0).to_parameter_msg()])
        assert graph.call(SetParameters, "/rgbt_perception/set_parameters", request).results[0].successful
        assert graph.processes_a_pair(31)
        assert graph.node.diagnostic_status().message == "running"
    finally:
        graph.close()


@pytest.mark.parametrize("sim_time", [False, True])
def test_the_thermal_timeout_runs_on_the_bag_clock_with_sim_time(rclpy_context, sim_time):
    """A bag paused (or played slowly) under use_sim_time: RGB keeps arriving while /clock stands
    still, so no bag time passes and thermal is not missing; on the wall clock (no sim time) the
    same second of silence is past thermal.timeout (0.6 s). The diagnostics say the same."""
    from rosgraph_msgs.msg import Clock

    from rgbt_perception.node import RGBTPerceptionNode
    from rgbt_perception.testing.node_fixtures import node_overrides

    node = RGBTPerceptionNode(context=rclpy_context, parameter_overrides=node_overrides(use_sim_time=sim_time))
    cameras = CameraFeed(node)
    clock = cameras.tester.create_publisher(Clock, "/clock", 10)
    try:
        if sim_time:
            cameras.spin_until(lambda: clock.get_subscription_count() > 0, what="the node's /clock subscription")
            clock.publish(Clock(clock=scene_pair(0, 100, 0)[0].header.stamp))
            cameras.spin_until(lambda: node.get_clock().now().nanoseconds > 0, what="the bag clock")
        cameras.pair(*scene_pair(0, 100, 0))
        for index in range(1, 5):
            time.sleep(0.3)  # wall time passes, bag time does not
            cameras.send("rgb", scene_pair(index, 100, index * 1000)[0])
        assert node.health.thermal_missing() is (not sim_time)
        message = node.diagnostic_status().message
        assert message.startswith("DEGRADED: thermal missing") is (not sim_time), message
    finally:
        cameras.close()
        node.shutdown()
        node.destroy_node()

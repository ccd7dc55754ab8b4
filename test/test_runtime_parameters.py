"""`ros2 param set` against the node, over rclpy's parameter services: runtime parameters
apply from the next frame, invalid values are refused with the start-up checks' reason,
start-up-only parameters are read-only."""

from __future__ import annotations

import pytest
from rclpy.parameter import Parameter

from rgbt_perception.testing.node_fixtures import Graph, node_overrides

pytestmark = pytest.mark.ros

@pytest.fixture
def graph(rclpy_context):
    from rgbt_perception.node import RGBTPerceptionNode

    graph = Graph(rclpy_context, RGBTPerceptionNode(context=rclpy_context, parameter_overrides=node_overrides()))
    yield graph
    graph.close()


def set_remotely(graph, **values):
    """SetParameters over the node's service (what `ros2 param set` calls); the results."""
    from rcl_interfaces.srv import SetParameters

    request = SetParameters.Request(parameters=[Parameter(name.replace("__", "."), value=value).to_parameter_msg()
                                                for name, value in values.items()])
    return graph.call(SetParameters, "/rgbt_perception/set_parameters", request).results


def test_runtime_parameters_apply_and_bad_values_are_refused_with_the_reason(graph):
    node = graph.node
    (ok,) = set_remotely(graph, saliency__min_threshold=0.9)
    assert ok.successful and node.p["saliency.min_threshold"] == 0.9
    assert node.pipeline.config.saliency_min_threshold == 0.9
    assert node.pipeline.inputs["samsod"].height == 128  # the model size stays the loaded one
    (ok,) = set_remotely(graph, sync__slop=0.01)
    assert ok.successful and node.sync.slop == 0.01
    (ok,) = set_remotely(graph, output__color_overlay=False)
    assert ok.successful and node.pipeline.config.color_overlay is False

    (refused,) = set_remotely(graph, thermal__range_min=70000.0)  # above range_max 65535
    assert not refused.successful and "thermal.range_min" in refused.reason
    assert node.p["thermal.range_min"] == 0.0 and node.pipeline.config.thermal.range == (0.0, 65535.0)
    (refused,) = set_remotely(graph, output__height=64)  # height without width
    assert not refused.successful and "output.width" in refused.reason
    (refused,) = set_remotely(graph, saliency__threshold="high")
    assert not refused.successful and node.p["saliency.threshold"] == -1.0
    (refused,) = set_remotely(graph, saliency__min_threshold=1.5)  # outside the declared range
    assert not refused.successful
    for name, value, reason in (("thermal.homography", [0.0] * 9, "is singular"),
                                ("thermal.homography", [float("nan")] * 9, "must be finite"),
                                ("thermal.range_max", float("inf"), "thermal.range_max=inf must be finite")):
        (refused,) = set_remotely(graph, **{name.replace(".", "__"): value})  # would publish blank maps as "OK"
        assert not refused.successful and reason in refused.reason, (name, value, refused.reason)
    assert node.pipeline.config.homography is None and node.pipeline.config.thermal.range == (0.0, 65535.0)


def test_start_up_parameters_are_read_only(graph):
    node = graph.node
    for name, value in (("device", "cpu"), ("samsod.checkpoint", "/tmp/x.pt"), ("threads", 1),
                        ("qos.reliability", "reliable"), ("rgb.transport", "compressed")):
        (refused,) = set_remotely(graph, **{name.replace(".", "__"): value})
        assert not refused.successful and "read-only" in refused.reason.lower(), (name, refused.reason)
    assert node.describe_parameter("saliency.threshold").read_only is False
    assert node.describe_parameter("device").read_only is True

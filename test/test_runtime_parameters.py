"""`ros2 param set` against the node, over rclpy's parameter services: runtime parameters
apply from the next frame, invalid values are refused with the start-up checks' reason,
start-up-only parameters are read-only."""

from __future__ import annotations

import time

import pytest
from node_fixtures import MODEL_CONFIGS
from rclpy.parameter import Parameter

pytestmark = pytest.mark.ros

OVERRIDES = [Parameter("allow_untrained", value=True),
             Parameter("sartm.config", value=str(MODEL_CONFIGS / "sartm" / "test.yaml")),
             Parameter("samsod.config", value=str(MODEL_CONFIGS / "samsod" / "test.yaml")),
             Parameter("model_height", value=128), Parameter("model_width", value=160)]


@pytest.fixture
def graph(rclpy_context):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from rgbt_perception.node import RGBTPerceptionNode

    node = RGBTPerceptionNode(context=rclpy_context, parameter_overrides=OVERRIDES)
    client_node = Node("param_client", context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    executor.add_node(client_node)
    yield node, client_node, executor
    executor.shutdown(timeout_sec=1.0)
    node.shutdown()
    node.destroy_node()
    client_node.destroy_node()


def set_remotely(graph, **values):
    """SetParameters over the node's service (what `ros2 param set` calls); the results."""
    from rcl_interfaces.srv import SetParameters

    _, client_node, executor = graph
    client = client_node.create_client(SetParameters, "/rgbt_perception/set_parameters")
    deadline = time.monotonic() + 60
    while not client.service_is_ready():
        executor.spin_once(timeout_sec=0.05)
        assert time.monotonic() < deadline, "no set_parameters service"
    request = SetParameters.Request(parameters=[Parameter(name.replace("__", "."), value=value).to_parameter_msg()
                                                for name, value in values.items()])
    future = client.call_async(request)
    executor.spin_until_future_complete(future, timeout_sec=60)
    return future.result().results


def test_runtime_parameters_apply_and_bad_values_are_refused_with_the_reason(graph):
    node = graph[0]
    (ok,) = set_remotely(graph, saliency__min_threshold=0.9)
    assert ok.successful and node.p["saliency.min_threshold"] == 0.9
    assert node.pipeline.config.saliency_min_threshold == 0.9
    assert node.pipeline.config.model_height == 128  # the model size stays the loaded one
    (ok,) = set_remotely(graph, sync__slop=0.01)
    assert ok.successful and node.sync.slop == 0.01
    (ok,) = set_remotely(graph, output__color_overlay=False)
    assert ok.successful and node.pipeline.config.color_overlay is False

    (refused,) = set_remotely(graph, thermal__range_min=70000.0)  # above range_max 65535
    assert not refused.successful and "thermal.range_min" in refused.reason
    assert node.p["thermal.range_min"] == 0.0 and node.pipeline.config.thermal_range == (0.0, 65535.0)
    (refused,) = set_remotely(graph, output__height=64)  # height without width
    assert not refused.successful and "output.width" in refused.reason
    (refused,) = set_remotely(graph, saliency__threshold="high")
    assert not refused.successful and node.p["saliency.threshold"] == -1.0
    (refused,) = set_remotely(graph, saliency__min_threshold=1.5)  # outside the declared range
    assert not refused.successful


def test_start_up_parameters_are_read_only(graph):
    node = graph[0]
    for name, value in (("device", "cpu"), ("samsod.checkpoint", "/tmp/x.pt"), ("threads", 1),
                        ("qos.reliability", "reliable"), ("rgb.transport", "compressed")):
        (refused,) = set_remotely(graph, **{name.replace(".", "__"): value})
        assert not refused.successful and "read-only" in refused.reason.lower(), (name, refused.reason)
    assert node.describe_parameter("saliency.threshold").read_only is False
    assert node.describe_parameter("device").read_only is True

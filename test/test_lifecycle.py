"""The managed (lifecycle) node through its transitions, and the plain node's enable service,
both driven over their real rclpy services (what `ros2 lifecycle set` and `ros2 service call` use)."""

from __future__ import annotations

import pytest
from rclpy.parameter import Parameter

from rgbt_perception.testing.node_fixtures import Graph, node_overrides

pytestmark = pytest.mark.ros

OVERRIDES = node_overrides()


def transition(graph, label: str) -> bool:
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    ids = {"configure": Transition.TRANSITION_CONFIGURE, "activate": Transition.TRANSITION_ACTIVATE,
           "deactivate": Transition.TRANSITION_DEACTIVATE, "cleanup": Transition.TRANSITION_CLEANUP}
    request = ChangeState.Request(transition=Transition(id=ids[label]))
    return graph.call(ChangeState, "/rgbt_perception/change_state", request).success


def state_of(graph) -> str:
    from lifecycle_msgs.srv import GetState

    return graph.call(GetState, "/rgbt_perception/get_state", GetState.Request()).current_state.label


def test_lifecycle_transitions_load_process_pause_and_unload(rclpy_context):
    from rgbt_perception.lifecycle_node import RGBTPerceptionLifecycleNode

    graph = Graph(rclpy_context, RGBTPerceptionLifecycleNode(context=rclpy_context, parameter_overrides=OVERRIDES))
    try:
        assert state_of(graph) == "unconfigured" and not graph.node.started
        assert transition(graph, "configure") and state_of(graph) == "inactive"
        assert graph.node.get_subscriptions_info_by_topic("/rgb/image")
        assert graph.node.started and graph.node.pipeline.samsod is not None  # models loaded
        assert graph.drops_a_pair(1)  # inactive: nothing processed
        assert transition(graph, "activate") and state_of(graph) == "active"
        assert not graph.drops_a_pair(2)  # (the check tells the two apart)
        assert graph.processes_a_pair(3)
        assert transition(graph, "deactivate") and state_of(graph) == "inactive"
        assert graph.node.pipeline.samsod is not None  # still loaded
        assert graph.drops_a_pair(4)
        assert transition(graph, "cleanup") and state_of(graph) == "unconfigured"
        assert not graph.node.started and not hasattr(graph.node, "pipeline")
        assert not graph.node.get_subscriptions_info_by_topic("/rgb/image")  # unsubscribed
        assert transition(graph, "configure") and transition(graph, "activate")  # and back up again
        assert graph.processes_a_pair(5)
    finally:
        graph.close()


def test_lifecycle_configure_with_a_bad_checkpoint_fails_and_names_it(rclpy_context, tmp_path):
    from rgbt_perception.lifecycle_node import RGBTPerceptionLifecycleNode

    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    overrides = [*OVERRIDES, Parameter("samsod.checkpoint", value=str(bad))]
    graph = Graph(rclpy_context, RGBTPerceptionLifecycleNode(context=rclpy_context, parameter_overrides=overrides))
    try:
        assert not transition(graph, "configure")
        assert state_of(graph) == "unconfigured" and not graph.node.started
    finally:
        graph.close()


def test_enable_service_pauses_and_resumes_the_plain_node(rclpy_context):
    from std_srvs.srv import SetBool

    from rgbt_perception.node import RGBTPerceptionNode

    graph = Graph(rclpy_context, RGBTPerceptionNode(context=rclpy_context, parameter_overrides=OVERRIDES))
    try:
        assert graph.processes_a_pair(1)
        response = graph.call(SetBool, "/rgbt_perception/enable", SetBool.Request(data=False))
        assert response.success and response.message == "disabled"
        assert graph.drops_a_pair(2)
        assert graph.node.diagnostic_status().message.startswith("disabled")
        assert graph.call(SetBool, "/rgbt_perception/enable", SetBool.Request(data=True)).success
        assert graph.processes_a_pair(3)
    finally:
        graph.close()

"""The test harness itself: domain isolation, clean SIGINT/SIGTERM exits, large images."""

from __future__ import annotations

import os
import signal

import pytest

from rgbt_perception.testing.ros_harness import DomainLease, NodeProcess, spin_until

pytestmark = pytest.mark.ros


def test_domain_leases_are_exclusive():
    first, second = DomainLease(), DomainLease()
    try:
        assert first.domain_id != second.domain_id
    finally:
        first.release()
        second.release()


def test_session_domain_is_exported(ros_env):
    assert os.environ["ROS_DOMAIN_ID"] == ros_env["ROS_DOMAIN_ID"]
    assert os.path.isfile(os.environ["FASTDDS_DEFAULT_PROFILES_FILE"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_node_stops_cleanly_on_signal(ros_env, sig):
    node = NodeProcess("rgbt_perception.testing.talker", args=["custom"])
    try:
        node.wait_for_log("talker ready")
        elapsed = node.stop(sig, timeout=10.0)  # exit 0 is the subject; the bound only catches a hang
        assert elapsed < 10.0
    finally:
        node.kill()


def test_stop_reports_a_node_that_already_died(ros_env):
    node = NodeProcess("rgbt_perception.testing.talker", args=["no-such-mode"])
    node.process.wait(30)
    with pytest.raises(AssertionError, match="already exited"):
        node.stop()


@pytest.mark.slow
def test_large_images_arrive_with_the_fastdds_profile(rclpy_context):
    """640x480 rgb8 at 30 Hz, best effort, across processes: the Fast DDS default drops ~all."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    node = Node("image_listener", context=rclpy_context)
    sizes: list[int] = []
    node.create_subscription(Image, "image", lambda msg: sizes.append(len(msg.data)),
                             qos_profile_sensor_data)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    talker = NodeProcess("rgbt_perception.testing.talker", args=["images", "--count", "60", "--rate", "30"])
    try:
        talker.wait_for_log("talker ready")
        spin_until(node, lambda: "sent 60" in talker.log(), timeout=30, executor=executor)
        spin_until(node, lambda: len(sizes) >= 60, timeout=1.0, executor=executor)
        # A clean exit is required, not a fast one: on two cores beside the training tests, Fast
        # DDS took more than 5 s to wind down a participant that had just sent 60 large images.
        talker.stop(timeout=20)
    finally:
        talker.kill()
        executor.shutdown()
    assert len(sizes) >= 54, f"only {len(sizes)} of 60 images arrived"
    assert set(sizes) == {640 * 480 * 3}


def test_a_shutdown_before_the_executor_exists_is_a_clean_stop(ros_env):
    """A signal after a helper node said it was ready but before its executor was created used to
    exit 1 (RCLError from the executor: the context was already shut down)."""
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node

    from rgbt_perception.ros_compat import run_single_threaded

    context = Context()
    rclpy.init(context=context)
    node = Node("early_stop", context=context)
    context.shutdown()  # what rclpy's signal handler does
    assert run_single_threaded(node, context) == 0

"""Each custom message travels between two processes over a real ROS 2 graph."""

from __future__ import annotations

import pytest

from rgbt_perception.testing.ros_harness import spin_until, started_node

pytestmark = pytest.mark.ros


def test_custom_messages_cross_processes(rclpy_context):
    from rclpy.node import Node

    from rgbt_msgs.msg import ClassMap, SalientObjects, SemanticClasses

    node = Node("listener", context=rclpy_context)
    received: dict[str, object] = {}
    for topic, msg_type in (("semantic/classes", SemanticClasses),
                            ("semantic/class_map", ClassMap),
                            ("saliency/objects", SalientObjects)):
        node.create_subscription(msg_type, topic,
                                 lambda msg, topic=topic: received.setdefault(topic, msg), 10)
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    with started_node("rgbt_perception.testing.talker", args=["custom"]) as talker:
        talker.wait_for_log("talker ready")
        assert spin_until(node, lambda: len(received) == 3, timeout=20, executor=executor), \
            f"received only {sorted(received)}:\n{talker.log()}"
    executor.shutdown()

    semantic = received["semantic/classes"]
    assert list(semantic.class_ids) == [0, 2]
    assert list(semantic.class_names) == ["unlabeled", "person"]
    assert list(semantic.pixel_fractions) == pytest.approx([0.75, 0.25])
    assert semantic.header.frame_id == "camera"

    class_map = received["semantic/class_map"]
    assert class_map.ignore_id == 255
    assert [(c.id, c.name, c.r, c.g, c.b) for c in class_map.classes] == [
        (0, "unlabeled", 0, 0, 0), (2, "person", 220, 20, 60)]

    salient = received["saliency/objects"]
    assert (salient.height, salient.width) == (480, 640)
    (obj,) = salient.objects
    assert (obj.bbox.x_offset, obj.bbox.y_offset, obj.bbox.width, obj.bbox.height) == (10, 20, 30, 40)
    assert obj.area == 1000
    assert obj.mean_saliency == pytest.approx(0.8)
    assert (obj.centroid_x, obj.centroid_y) == (25.0, 40.0)
    assert semantic.header.stamp == salient.header.stamp

"""The node's camera subscriptions: the QoS its qos.* parameters ask for (to match the camera
driver), image_transport's topic naming for a compressed stream, and the RGB camera's
calibration (the sibling camera_info topic of the resolved RGB topic)."""

from __future__ import annotations

from collections.abc import Callable

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from rgbt_perception.camera_info import info_topic_for
from rgbt_perception.ros_compat import SubscriptionEventCallbacks, resolve_topic_name


def camera_qos(params: dict) -> QoSProfile:
    reliability = (ReliabilityPolicy.RELIABLE if params["qos.reliability"] == "reliable"
                   else ReliabilityPolicy.BEST_EFFORT)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=params["qos.depth"], reliability=reliability)


def camera_topic(node, params: dict, stream: str) -> tuple[type, str]:
    """(message type, topic) of a camera stream. Compressed: image_transport's naming, the base
    topic *after* remapping + '/compressed', so that remapping rgb/image to a camera's image_raw
    subscribes to image_raw/compressed."""
    if params[f"{stream}.transport"] == "compressed":
        return CompressedImage, resolve_topic_name(node, f"{stream}/image") + "/compressed"
    return Image, f"{stream}/image"


def subscribe_cameras(node, params: dict, on_rgb: Callable, on_thermal: Callable, on_camera_info: Callable,
                      on_incompatible_qos: Callable) -> list:
    """The RGB, thermal and RGB camera_info subscriptions (the camera QoS for all three)."""
    qos = camera_qos(params)
    subscriptions = []
    for stream, callback in (("rgb", on_rgb), ("thermal", on_thermal)):
        message_type, topic = camera_topic(node, params, stream)
        subscriptions.append(node.create_subscription(
            message_type, topic, callback, qos,
            event_callbacks=SubscriptionEventCallbacks(incompatible_qos=on_incompatible_qos)))
    info_topic = info_topic_for(resolve_topic_name(node, "rgb/image"))
    subscriptions.append(node.create_subscription(CameraInfo, info_topic, on_camera_info, qos))
    return subscriptions


def incompatible_inputs(node, subscriptions: list) -> list[str]:
    """The input topics that have, now, a publisher whose QoS cannot reach the subscription
    (rclpy's own compatibility check: a best-effort camera and `qos.reliability: reliable`). The
    incompatible-QoS event fires once per publisher; this says whether it is still there."""
    from rclpy.qos import QoSCompatibility, qos_check_compatible

    return [subscription.topic_name for subscription in subscriptions
            if any(qos_check_compatible(info.qos_profile, subscription.qos_profile)[0] == QoSCompatibility.ERROR
                   for info in node.get_publishers_info_by_topic(subscription.topic_name))]

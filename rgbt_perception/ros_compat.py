"""rclpy names that moved between ROS 2 distributions, imported from wherever this one has them.

Humble keeps the QoS event classes in `rclpy.qos_event`; Iron and later (Jazzy, Kilted) in
`rclpy.event_handler` (qos_event stays as a deprecated alias on some, not all)."""

from __future__ import annotations

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

__all__ = ["SubscriptionEventCallbacks"]

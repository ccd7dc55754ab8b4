"""rclpy names that moved between ROS 2 distributions, imported from wherever this one has them.

Humble keeps the QoS event classes in `rclpy.qos_event`; Iron and later (Jazzy, Kilted) in
`rclpy.event_handler` (qos_event stays as a deprecated alias on some, not all)."""

from __future__ import annotations

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

__all__ = ["SubscriptionEventCallbacks", "resolve_topic_name", "run_single_threaded", "spin_until_shutdown"]


def spin_until_shutdown(executor, context=None) -> None:
    """Spin `executor` until SIGINT/SIGTERM or an external shutdown, whichever way it ends.

    rclpy's signal handler shuts the context down from another point of the loop than the one
    spinning; a signal landing between the loop's `ok()` check and its wait-set creation raises
    RCLError ("the given context is not valid") instead of ExternalShutdownException.
    That is a shutdown too; any other RCLError is re-raised."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except rclpy._rclpy_pybind11.RCLError:
        if rclpy.ok(context=context):
            raise


def run_single_threaded(node, context=None) -> int:
    """Spin `node` alone on a single-threaded executor until shutdown, then destroy it and shut
    rclpy down (the main loop of the project's helper nodes); returns the exit code 0."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    try:
        # A SIGTERM landing after the node said it was ready but before the executor exists has
        # already shut the context down: creating the executor then raises RCLError. That is a
        # shutdown too. Checked first as well, since rclpy's half-built executor then warns from __del__.
        if not rclpy.ok(context=context):
            return 0
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        spin_until_shutdown(executor, context)
    except KeyboardInterrupt:  # a SIGINT before the spin began (after the node said it was ready)
        pass
    except rclpy._rclpy_pybind11.RCLError:
        if rclpy.ok(context=context):
            raise
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    return 0



def resolve_topic_name(node, topic: str) -> str:
    """The fully qualified name `topic` has for `node` after remapping (Node.resolve_topic_name,
    where this distribution's rclpy has it). Where it lacks it, the name is expanded without
    remapping (node name and namespace only), and a remapped camera topic must then be given in
    full."""
    resolve = getattr(node, "resolve_topic_name", None)
    if resolve is not None:
        return resolve(topic)
    from rclpy.expand_topic_name import expand_topic_name

    return expand_topic_name(topic, node.get_name(), node.get_namespace())

"""The node as a managed (lifecycle) node, for systems that bring their nodes up in order
(nav2's lifecycle_manager, launch_ros LifecycleNode, `ros2 lifecycle set`).

  configure   load the models, subscribe, advertise (a bad checkpoint or parameter -> FAILURE
              with the reason logged; the node stays unconfigured and can be configured again)
  activate    start processing and publishing
  deactivate  stop processing and publishing; the models stay loaded
  cleanup     unload the models and remove subscriptions and publishers
  shutdown    as cleanup, from any state

Parameters are declared (and checked) at construction, as in the plain node. With autostart
(the default of the `rgbt_perception_lifecycle_node` executable; `--no-autostart` to wait for a manager) the node
configures and activates itself, as yolo_ros's nodes do.
"""

from __future__ import annotations

import sys

import rclpy
from rclpy.lifecycle import LifecycleNode, State, TransitionCallbackReturn

from rgbt_perception.node import PerceptionNodeBase, main
from rgbt_perception.process import START_ERRORS, StartInterrupted


class RGBTPerceptionLifecycleNode(PerceptionNodeBase, LifecycleNode):
    """rgbt_perception with the managed-node state machine (see the module docstring)."""

    def __init__(self, **node_options) -> None:
        super().__init__("rgbt_perception", **node_options)
        self.p = self._declare_parameters()

    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            self._start()
        except START_ERRORS as error:
            self.get_logger().error(f"configure failed: {error}")
            self._stop()
            return TransitionCallbackReturn.FAILURE
        except Exception:
            if not self.context.ok():  # an rcl call failed because a signal shut the context down
                raise StartInterrupted from None
            raise
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        self.enabled = True
        return super().on_activate(state)

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self.enabled = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        return TransitionCallbackReturn.SUCCESS if self._stop() else TransitionCallbackReturn.ERROR

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self.enabled = False
        return TransitionCallbackReturn.SUCCESS if self._stop() else TransitionCallbackReturn.ERROR


def make_autostarted_node(node_class: type[RGBTPerceptionLifecycleNode] = RGBTPerceptionLifecycleNode
                          ) -> RGBTPerceptionLifecycleNode:
    """Configured and activated unless --no-autostart; a failed configure fails the start."""
    node = node_class()
    if "--no-autostart" not in sys.argv:
        if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            interrupted = not rclpy.ok()  # a signal during configure fails its rcl calls
            node.destroy_node()
            if interrupted:
                raise StartInterrupted
            raise ValueError("configure failed (see the error above)")
        node.trigger_activate()
    return node


def lifecycle_main(argv: list[str] | None = None) -> int:
    return main(argv, make_node=make_autostarted_node)


if __name__ == "__main__":
    sys.exit(lifecycle_main())

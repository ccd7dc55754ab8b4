"""The node the long soak runs: rgbt_perception's lifecycle node, unchanged, plus one service.

`~/inject_model_error` (std_srvs/Trigger) makes SAMSOD's next forward pass raise, as a CUDA
error or a broken kernel would on a robot, so that the soak can check that the node counts the
failure, logs it and goes on with the next frame. Everything else (configure / activate at start,
the lifecycle services, the process's signal handling) is the packaged lifecycle node's.
Started by benchmarks/soak_node.py (soak/run.py) as `python -m soak_target --ros-args ...` when
--model-error-every or --lifecycle-every is given (make soak-long).
"""

from __future__ import annotations

import sys
import threading
from functools import partial

from rclpy.lifecycle import TransitionCallbackReturn
from std_srvs.srv import Trigger

from rgbt_perception.lifecycle_node import RGBTPerceptionLifecycleNode, make_autostarted_node
from rgbt_perception.node import main


class InjectedModelFault(RuntimeError):
    """What the armed SAMSOD forward pass raises."""


class FaultInjectableNode(RGBTPerceptionLifecycleNode):
    """The lifecycle node with a service that arms one SAMSOD failure."""

    def __init__(self) -> None:
        super().__init__()
        self.fault_armed = threading.Event()
        self.create_service(Trigger, "~/inject_model_error", self._arm)

    def _arm(self, request, response):
        self.fault_armed.set()
        response.success, response.message = True, "the next SAMSOD forward pass raises"
        return response

    def on_configure(self, state):
        result = super().on_configure(state)
        if result == TransitionCallbackReturn.SUCCESS and self.pipeline.samsod is not None:
            self.pipeline.samsod.register_forward_pre_hook(self._fail_if_armed)
        return result

    def _fail_if_armed(self, module, args) -> None:
        if self.fault_armed.is_set():
            self.fault_armed.clear()
            raise InjectedModelFault("injected model fault (soak): SAMSOD forward pass failed")


if __name__ == "__main__":
    sys.exit(main(make_node=partial(make_autostarted_node, FaultInjectableNode)))

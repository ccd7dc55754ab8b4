"""A node's process: rclpy up, the node built, spun until SIGINT/SIGTERM, stopped cleanly.

Shared by the plain node and the lifecycle node. Exit status 0 on a signal (also one that
arrives while the node is still being built), 2 with one line when the node cannot start (a bad
parameter or checkpoint).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import SingleThreadedExecutor

from rgbt_models.runtime.loading import ModelLoadError
from rgbt_perception.ros_compat import spin_until_shutdown

SHUTDOWN_DEADLINE = 1.5  # s from SIGINT/SIGTERM to a stopped worker
START_ERRORS = (ModelLoadError, ValueError, rclpy.exceptions.InvalidParameterValueException)


class StartInterrupted(Exception):
    """SIGINT/SIGTERM arrived while the node was being built or configured: a clean stop."""


def run_node(make_node: Callable[[], object], argv: list[str] | None = None) -> int:
    rclpy.init(args=sys.argv if argv is None else argv)
    try:
        node = make_node()
    except START_ERRORS as error:
        print(f"[rgbt_perception] cannot start: {error}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    except (StartInterrupted, rclpy._rclpy_pybind11.RCLError) as error:
        # SIGINT/SIGTERM while starting (rcl calls fail on the shut-down context): a clean stop
        if isinstance(error, rclpy._rclpy_pybind11.RCLError) and rclpy.ok():
            raise
        rclpy.try_shutdown()
        return 0
    # One executor thread is enough (callbacks only validate and pair; inference has its own
    # thread) and measured far better: rclpy's MultiThreadedExecutor fell behind 2 x 30 Hz
    # camera streams on 2 cores while the models ran, receiving 1 message in 4, seconds late.
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        spin_until_shutdown(executor)
    finally:
        stopped = node._stop()
        executor.shutdown(timeout_sec=1.0)
        if not stopped:
            # One operation outlived the deadline. Tearing the process down around a running
            # worker aborts in C++ ("terminate called without an active exception"): leave now.
            print(f"[rgbt_perception] inference did not stop within {SHUTDOWN_DEADLINE} s; exiting without "
                  "waiting for it", file=sys.stderr, flush=True)
            os._exit(0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0

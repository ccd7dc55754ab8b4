"""A node's process: rclpy up, the node built, spun until SIGINT/SIGTERM, stopped cleanly.

Shared by the plain node and the lifecycle node. Exit status 0 on a signal (also one that
arrives while the node is still being built), 2 with one line when the node cannot start (a bad
parameter or checkpoint).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import SingleThreadedExecutor

from rgbt_models.runtime.loading import ModelLoadError
from rgbt_perception.ros_compat import spin_until_shutdown

SHUTDOWN_DEADLINE = 1.5  # s from SIGINT/SIGTERM to a stopped worker
START_ERRORS = (ModelLoadError, ValueError, rclpy.exceptions.InvalidParameterValueException)


class StartInterrupted(BaseException):
    """SIGINT/SIGTERM arrived while the node was being built or configured: a clean stop. A
    BaseException, like KeyboardInterrupt: no `except Exception` on the way (rclpy's lifecycle
    callbacks, a model loader's) turns it into a failure."""


HELP = """usage: {program} [--ros-args -p NAME:=VALUE ... -r FROM:=TO ... --params-file FILE]

The rgbt_perception node: RGB-T pairs on rgb/image and thermal/image in; SAMSOD saliency and
SARTM segmentation out. A model runs when its checkpoint is given, e.g.
  {program} --ros-args -p samsod.checkpoint:=samsod.pt -r rgb/image:=/cam/rgb/image_raw \\
      -r thermal/image:=/cam/thermal/image_raw
Every parameter: docs/parameters.md, or config/rgbt.yaml (commented). With the launch file's
arguments instead: ros2 launch rgbt_perception rgbt.launch.py (pip route: rgbt-launch --show-args)."""


def wants_help(argv: list[str]) -> bool:
    """-h / --help among the node's own arguments (before --ros-args)."""
    own = argv[1:argv.index("--ros-args")] if "--ros-args" in argv else argv[1:]
    return any(arg in ("-h", "--help") for arg in own)


def run_node(make_node: Callable[[], object], argv: list[str] | None = None) -> int:
    """Run the node until SIGINT/SIGTERM; `argv` as sys.argv (program name first)."""
    argv = sys.argv if argv is None else argv
    if wants_help(argv):
        print(HELP.format(program=os.path.basename(argv[0]) if argv else "rgbt_perception_node"))
        return 0
    missing = [file for flag, file in itertools.pairwise(argv) if flag == "--params-file" and not os.path.isfile(file)]
    if missing:  # rcl would refuse it inside rclpy.init, as a traceback
        print(f"[rgbt_perception] cannot start: --params-file {missing[0]}: no such file", file=sys.stderr, flush=True)
        return 2
    rclpy.init(args=argv)
    try:
        node = make_node()
    except START_ERRORS as error:
        print(f"[rgbt_perception] cannot start: {error}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    except (StartInterrupted, KeyboardInterrupt, rclpy._rclpy_pybind11.RCLError) as error:
        # SIGINT/SIGTERM while starting (rcl calls fail on the shut-down context, or rclpy's
        # handler raises KeyboardInterrupt inside a model load): a clean stop
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

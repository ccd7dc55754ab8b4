"""A node's process: rclpy up, the node built, spun until SIGINT/SIGTERM, stopped cleanly.

Shared by the plain node and the lifecycle node. Exit status 0 on a signal (also one that
arrives while the node is still being built), 2 with one line when the node cannot start (a bad
parameter or checkpoint).
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
from collections.abc import Callable

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions, install_signal_handlers

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


class StartSignals:
    """SIGINT/SIGTERM while the node is built stop the start: StartInterrupted is raised at the
    next Python instruction (as Ctrl-C raises KeyboardInterrupt), while the ROS context stays
    valid, so that no rcl call or log line of the start meets a shut-down context. rclpy's own
    handlers (which shut the context down) are installed once the node is built; they call these,
    which then do nothing. Outside the main thread (where Python allows no handlers) rclpy's
    handlers do it all, as before."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.starting = True
        self.installed = threading.current_thread() is threading.main_thread()
        self.previous = {signum: signal.signal(signum, self._interrupt) for signum in self.SIGNALS} \
            if self.installed else {}

    def _interrupt(self, signum, frame) -> None:
        if self.starting:
            raise StartInterrupted

    def init_options(self) -> SignalHandlerOptions:
        """rclpy.init's: no rclpy handlers yet where these are installed."""
        return SignalHandlerOptions.NO if self.installed else SignalHandlerOptions.ALL

    def started(self) -> None:
        """The node is built: rclpy's handlers from now on."""
        if self.installed:
            install_signal_handlers(SignalHandlerOptions.ALL)
        self.starting = False

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


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
    signals = StartSignals()
    try:
        return _run(make_node, argv, signals)
    finally:
        signals.restore()


def _run(make_node: Callable[[], object], argv: list[str], signals: StartSignals) -> int:
    try:
        rclpy.init(args=argv, signal_handler_options=signals.init_options())
    except StartInterrupted:
        rclpy.try_shutdown()
        return 0
    except rclpy._rclpy_pybind11.RCLError as error:  # e.g. a malformed --ros-args rule
        reason = str(error).split(", at /")[0].split(". Error: ")[0]  # rcl's lexer detail and source line left out
        print(f"[rgbt_perception] cannot start: {reason}", file=sys.stderr, flush=True)
        return 2
    try:
        node = make_node()
        signals.started()
    except START_ERRORS as error:
        print(f"[rgbt_perception] cannot start: {error}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    except (StartInterrupted, KeyboardInterrupt, rclpy._rclpy_pybind11.RCLError) as error:
        # SIGINT/SIGTERM while starting: a clean stop (an RCLError only where rclpy's handler shut
        # the context down: outside the main thread, or in the instant after the start)
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
    except StartInterrupted:  # a signal while a lifecycle manager had the node configure itself
        pass
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

"""The node's process (rgbt_perception/process.py): its own arguments, and the signals that stop
a start. The executables' exits on a signal at each moment: test_node.py."""

from __future__ import annotations

import os
import signal
import time

import pytest

from rgbt_perception.process import StartInterrupted, StartSignals, run_node, wants_help


def test_help_is_the_nodes_own_argument_not_a_ros_one():
    assert wants_help(["rgbt_perception_node", "--help"])
    assert wants_help(["rgbt_perception_node", "-h", "--ros-args", "-p", "a:=1"])
    assert not wants_help(["rgbt_perception_node", "--ros-args", "-p", "note:=-h"])
    assert not wants_help(["rgbt_perception_node"])


def test_help_and_a_missing_params_file_end_before_rclpy_starts(capsys):
    never = pytest.fail  # make_node must not be called
    assert run_node(never, ["rgbt_perception_node", "--help"]) == 0
    assert "usage: rgbt_perception_node" in capsys.readouterr().out
    assert run_node(never, ["rgbt_perception_node", "--ros-args", "--params-file", "/nonexistent/rgbt.yaml"]) == 2
    assert capsys.readouterr().err == ("[rgbt_perception] cannot start: --params-file /nonexistent/rgbt.yaml: "
                                       "no such file\n")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_node_is_built_stops_the_start_where_it_is(signum):
    """Raised in the main thread at its next instruction, as Ctrl-C raises KeyboardInterrupt; no
    ROS context is touched (rclpy's handlers are not installed yet). The handlers in place before
    come back afterwards."""
    before = signal.getsignal(signum)
    signals = StartSignals()
    try:
        assert signals.installed and signal.getsignal(signum) == signals._interrupt
        with pytest.raises(StartInterrupted):
            os.kill(os.getpid(), signum)
            time.sleep(5)  # interrupted long before this ends
        signals.starting = False  # built (started() would also hand the signals to rclpy)
        os.kill(os.getpid(), signum)
        time.sleep(0.05)  # the handler has run by now, and raised nothing
    finally:
        signals.restore()
    assert signal.getsignal(signum) == before

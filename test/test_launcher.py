"""rgbt-launch (rgbt_perception/launcher.py): the launch file's arguments to the node's command
line on the pip route, `ros2 launch` itself on a ROS install, and Ctrl-C passed on once. The
README's quick start starts the real node with it (test_readme_commands.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from rgbt_perception import launcher
from rgbt_perception.launch_plan import launch_arguments, plan_node
from rgbt_perception.testing.ros_harness import REPO_ROOT


def test_the_arguments_are_the_launch_files_with_their_defaults_and_unknown_ones_refused():
    share = launcher.share_directory()
    assert share == REPO_ROOT  # the pip route: the checkout it is installed from (editable)
    values = launcher.parse_values(["samsod_checkpoint:=w/s.pt", "namespace:=robot1"], share)
    assert values == {**{a.name: a.default for a in launch_arguments(share)},
                      "samsod_checkpoint": "w/s.pt", "namespace": "robot1"}
    assert values["params_file"] == str(REPO_ROOT / "config" / "rgbt.yaml")
    with pytest.raises(launcher.LaunchError, match="unknown launch argument 'samsod'"):
        launcher.parse_values(["samsod:=x"], share)
    with pytest.raises(launcher.LaunchError, match=r"'thermal_camer' \(did you mean 'thermal_camera'\?\)"):
        launcher.parse_values(["thermal_camer:=optris"], share)
    with pytest.raises(launcher.LaunchError, match="expected NAME:=VALUE"):
        launcher.parse_values(["samsod_checkpoint=x"], share)
    listed = launcher.show_arguments(share)
    assert all(f"'{a.name}':" in listed for a in launch_arguments(share))


def test_the_command_line_carries_the_plans_parameters_remappings_and_name(tmp_path):
    values = launcher.parse_values(["samsod_checkpoint:=w/s.pt", "namespace:=robot1", "threads:=2",
                                    "thermal_camera:=optris", "rgb_topic:=/cam/rgb", "lifecycle:=true",
                                    "autostart:=false"], REPO_ROOT)
    command = launcher.node_command(plan_node(values, cwd=tmp_path))
    assert command[0].endswith("/rgbt_perception_lifecycle_node") and command[1] == "--no-autostart"
    assert command[2:] == [
        "--ros-args", "-r", "__node:=rgbt_perception", "-r", "__ns:=/robot1",
        "--params-file", str(REPO_ROOT / "config" / "rgbt.yaml"),
        "-p", "use_sim_time:=false", "-p", f"samsod.checkpoint:={tmp_path / 'w' / 's.pt'}",
        "-p", "thermal.camera:=optris", "-p", "threads:=2",
        "-r", "rgb/image:=/cam/rgb", "-r", "thermal/image:=thermal/image"]


@pytest.mark.parametrize("value", ["optris", "true", "3", "1.5", "", "a: b", "x # y", "/abs/path.pt", 3, True])
def test_a_parameter_value_reads_back_as_itself(value):
    assert yaml.safe_load(launcher.ros_value(value)) == value


def test_on_a_ros_install_it_is_ros2_launch(tmp_path, monkeypatch, capsys):
    record = tmp_path / "argv"
    fake = tmp_path / "ros2"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {record}\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(launcher.importlib.util, "find_spec", lambda name: object() if name == "launch_ros" else None)
    assert launcher.main(["samsod_checkpoint:=s.pt"]) == 3
    assert record.read_text().split() == ["launch", "rgbt_perception", "rgbt.launch.py", "samsod_checkpoint:=s.pt"]
    assert "rgbt-launch: ros2 launch rgbt_perception rgbt.launch.py" in capsys.readouterr().out


CHILD = """
import signal, sys, time
signal.signal(signal.SIGINT, lambda *a: sys.exit(10))
print("ready", flush=True)
time.sleep(60)
"""


def test_ctrl_c_reaches_the_node_once_and_its_status_is_returned():
    """SIGINT to the launcher's process group (a terminal's Ctrl-C): the node, in a group of its
    own, gets it from the launcher alone; the launcher exits with the node's status."""
    script = ("import sys; from rgbt_perception.launcher import run_child; "
              f"sys.exit(run_child([sys.executable, '-c', {CHILD!r}], dict(__import__('os').environ)))")
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=30) == 10
    finally:
        if process.poll() is None:
            process.kill()


def test_the_launch_file_imports_nothing_the_robots_system_python_may_lack():
    """On a robot `ros2 launch` runs the launch file in the system Python, which sees the colcon
    install but not the venv with torch: the plan it imports loads no third-party module."""
    code = ("import sys; import rgbt_perception.launch_plan; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy', 'yaml', 'rclpy')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_a_node_ended_by_a_signal_is_reported_as_a_shell_would(sig):
    """128 + N, as bash reports a command signal N ended (not Popen's -N, which sys.exit turns
    into 256 - N)."""
    default = f"signal.signal({int(sig)}, signal.SIG_DFL); " if sig != signal.SIGKILL else ""  # Python's own
    command = [sys.executable, "-c", f"import os, signal; {default}os.kill(os.getpid(), {int(sig)})"]
    assert launcher.run_child(command, dict(os.environ)) == 128 + sig


def test_a_launch_argument_written_as_an_option_is_shown_its_form(capsys):
    with pytest.raises(SystemExit) as refused:
        launcher.main(["--samsod_checkpoint", "samsod.pt"])
    assert refused.value.code == 2
    assert "--samsod_checkpoint: launch arguments are written NAME:=VALUE, e.g. samsod_checkpoint:=" in (
        capsys.readouterr().err)

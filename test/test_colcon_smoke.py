"""The colcon smoke build (scripts/colcon_smoke.py: the three packages built as a ROS 2 workspace
would build them, and everything `ros2 launch` and `ros2 run` look for found in the install),
run as a test so that pytest's workers schedule it beside the others (`make colcon-smoke` runs
it alone)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rgbt_perception.testing.ros_harness import REPO_ROOT


@pytest.mark.slow
def test_the_packages_build_and_install_as_a_ros_workspace():
    pytest.importorskip("colcon_core", reason="colcon is a development tool (requirements/dev.txt)")
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "colcon_smoke.py")], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

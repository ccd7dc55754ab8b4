"""rgbt_models must import and work without any ROS package."""

from __future__ import annotations

import subprocess
import sys

CHECK = r"""
import importlib, importlib.abc, pkgutil, sys

ROS_PREFIXES = ("rclpy", "rosidl", "rcl_", "rmw", "std_msgs", "sensor_msgs", "builtin_interfaces",
                "rgbt_msgs", "rgbt_perception", "message_filters", "cv_bridge", "launch",
                "ament_index_python", "rosgraph_msgs", "diagnostic_msgs")

class BlockRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0].startswith(ROS_PREFIXES):
            raise ImportError(f"rgbt_models imported ROS module {name}")
        return None

sys.meta_path.insert(0, BlockRos())
import rgbt_models
names = [m.name for m in pkgutil.walk_packages(rgbt_models.__path__, "rgbt_models.")]
for name in names:
    importlib.import_module(name)
print("imported", len(names) + 1, "modules")
"""


def test_rgbt_models_imports_without_ros():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "imported" in result.stdout

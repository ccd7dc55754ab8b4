"""The launch file on a ROS install: `ros2 launch rgbt_perception rgbt.launch.py` starts the node.

launch / launch_ros are not on PyPI, so this runs only where they are importable and the
package is installed in an ament prefix (a colcon workspace); elsewhere it is skipped and the
static check in test_node.py covers the launch file.
"""

from __future__ import annotations

import threading
import time

import pytest
import yaml

from rgbt_perception.testing.node_fixtures import MODEL_CONFIGS

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_launch_file_starts_the_node(tmp_path, rclpy_context):
    pytest.importorskip("launch", reason="launch is not on PyPI: ROS installs only")
    pytest.importorskip("launch_ros", reason="launch_ros is not on PyPI: ROS installs only")
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        share = get_package_share_directory("rgbt_perception")
    except PackageNotFoundError:
        pytest.skip("rgbt_perception is not installed in an ament prefix (colcon workspace)")
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from rclpy.node import Node

    from launch import LaunchService

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"/**/rgbt_perception": {"ros__parameters": {
        "allow_untrained": True, "sartm.config": str(MODEL_CONFIGS / "sartm" / "test.yaml"),
        "samsod.config": str(MODEL_CONFIGS / "samsod" / "test.yaml"), "model_height": 128, "model_width": 160}}}))
    service = LaunchService()
    service.include_launch_description(IncludeLaunchDescription(
        PythonLaunchDescriptionSource(f"{share}/launch/rgbt.launch.py"),
        launch_arguments={"params_file": str(params), "namespace": "robot1", "device": "cpu"}.items()))
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    probe = Node("launch_probe", context=rclpy_context)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if ("rgbt_perception", "/robot1") in probe.get_node_names_and_namespaces():
                break
            time.sleep(0.2)
        else:
            pytest.fail("the launched node did not appear as /robot1/rgbt_perception")
        topics = dict(probe.get_topic_names_and_types())
        assert "/robot1/saliency/map" in topics
    finally:
        service.shutdown()
        thread.join(10)
        probe.destroy_node()

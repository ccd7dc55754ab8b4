"""Start the rgbt_perception node: ros2 launch rgbt_perception rgbt.launch.py [arg:=value ...]

Arguments (`ros2 launch rgbt_perception rgbt.launch.py --show-args`): params_file, namespace,
rgb_topic, thermal_topic, use_sim_time, lifecycle (true: the managed node, configured and
activated by itself unless autostart:=false, which leaves it to a lifecycle manager), and the
overrides samsod_checkpoint, sartm_checkpoint, thermal_camera, device, threads, runtime and
precision, which replace the params file's values only when given (a relative checkpoint path is
taken from the folder `ros2 launch` was started in). The Fast DDS profile for camera-sized
messages (config/fastdds_large_images.xml) is set for the node unless the user set one.

What the arguments start is rgbt_perception/launch_plan.py: rgbt-launch, the pip route's
equivalent of this file, starts the same node from the same arguments.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from rgbt_perception.launch_plan import (
    NODE_NAME,
    PACKAGE,
    launch_arguments,
    misspelt_arguments,
    plan_node,
    profile_environment,
)


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory(PACKAGE)
    arguments = [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description)
                 for a in launch_arguments(share)]
    profiles = [SetEnvironmentVariable(name, value) for name, value in profile_environment(share, os.environ).items()]
    return LaunchDescription([*arguments, *profiles, OpaqueFunction(function=node_action)])


def node_action(context) -> list[Node]:
    """The node of launch_plan.plan_node for the arguments' values; a misspelt argument (which
    ros2 launch itself would ignore) stops the launch with its likely meaning."""
    typos = misspelt_arguments(context.launch_configurations)
    if typos:
        raise ValueError(f"unknown launch argument {', '.join(typos)}; ros2 launch {PACKAGE} rgbt.launch.py "
                         "--show-args lists them")
    values = {a.name: LaunchConfiguration(a.name).perform(context) for a in launch_arguments("")}
    plan = plan_node(values)
    return [Node(package=PACKAGE, executable=plan.executable, name=NODE_NAME, namespace=plan.namespace,
                 output="screen", emulate_tty=True, arguments=plan.arguments,
                 parameters=[plan.params_file, plan.parameters], remappings=plan.remappings)]

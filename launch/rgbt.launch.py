"""Start the rgbt_perception node: ros2 launch rgbt_perception rgbt.launch.py [arg:=value ...]

Arguments: params_file, namespace, rgb_topic, thermal_topic, use_sim_time, lifecycle (true: the
managed node, configured and activated by itself unless autostart:=false, which leaves it to a
lifecycle manager), and the overrides samsod_checkpoint, sartm_checkpoint, thermal_camera,
device, threads, runtime and precision, which replace the params file's values only when given
(a relative checkpoint path is taken from the folder `ros2 launch` was started in). The Fast DDS
profile for camera-sized messages (config/fastdds_large_images.xml) is set for the node in both
FASTDDS_DEFAULT_PROFILES_FILE (Fast DDS 3) and FASTRTPS_DEFAULT_PROFILES_FILE (Fast DDS 2, Humble
and Jazzy) unless the user set either.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.conditions import UnlessCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "rgbt_perception"
EXECUTABLE = "rgbt_perception_node"
LIFECYCLE_EXECUTABLE = "rgbt_perception_lifecycle_node"
PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
# Launch arguments that override a parameter of the params file only when given:
# argument -> (parameter, description).
OVERRIDES = {
    "samsod_checkpoint": ("samsod.checkpoint", "SAMSOD checkpoint (rgbt-import, rgbt-train); SAMSOD runs when given"),
    "sartm_checkpoint": ("sartm.checkpoint", "SARTM checkpoint (rgbt-import, rgbt-train); SARTM runs when given"),
    "thermal_camera": ("thermal.camera", "optris | flir_tlinear | flir_planck | celsius_float | kelvin_float | agc"),
    "device": ("device", "auto | cuda | cpu"),
    "threads": ("threads", "CPU inference threads, 0 = auto"),
    "runtime": ("runtime", "torch | onnxruntime"),
    "precision": ("precision", "fp32 | fp16 | bf16 | int8"),
}
CHECKPOINTS = ("samsod_checkpoint", "sartm_checkpoint")


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory(PACKAGE)
    arguments = [
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "rgbt.yaml"),
                              description="node parameters (see config/rgbt.yaml)"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node and its topics"),
        DeclareLaunchArgument("rgb_topic", default_value="rgb/image", description="RGB sensor_msgs/Image topic"),
        DeclareLaunchArgument("thermal_topic", default_value="thermal/image",
                              description="thermal sensor_msgs/Image topic"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="true for bag replay (/clock)"),
        DeclareLaunchArgument("lifecycle", default_value="false",
                              description="true: start the managed (lifecycle) node instead of the plain one"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="lifecycle node: configure and activate itself (false: wait for a manager)"),
    ]
    arguments += [DeclareLaunchArgument(name, default_value="", description=f"{text} (default: the params file's)")
                  for name, (_, text) in OVERRIDES.items()]
    # Fast DDS 3 (Kilted) reads FASTDDS_..., Fast DDS 2 (Humble, Jazzy) FASTRTPS_...: set both,
    # unless the user set either (their profile wins).
    user_profile = any(name in os.environ for name in PROFILE_VARIABLES)
    profiles = [SetEnvironmentVariable(name, os.path.join(share, "config", "fastdds_large_images.xml"),
                                       condition=UnlessCondition(str(user_profile))) for name in PROFILE_VARIABLES]
    return LaunchDescription([*arguments, *profiles, OpaqueFunction(function=node_action)])


def node_action(context) -> list[Node]:
    """The node, with each override of OVERRIDES passed only when it was given on the command line;
    a relative checkpoint path made absolute from the folder ros2 launch was started in."""
    given = {name: LaunchConfiguration(name).perform(context) for name in OVERRIDES}
    overrides = {}
    for name, value in given.items():
        if value:
            if name in CHECKPOINTS:
                value = os.path.abspath(os.path.expanduser(value))
            overrides[OVERRIDES[name][0]] = int(value) if name == "threads" else value
    lifecycle = LaunchConfiguration("lifecycle").perform(context).lower() == "true"
    autostart = LaunchConfiguration("autostart").perform(context).lower() == "true"
    return [Node(
        package=PACKAGE, executable=LIFECYCLE_EXECUTABLE if lifecycle else EXECUTABLE, name="rgbt_perception",
        namespace=LaunchConfiguration("namespace"), output="screen", emulate_tty=True,
        arguments=[] if autostart or not lifecycle else ["--no-autostart"],
        parameters=[LaunchConfiguration("params_file"), {"use_sim_time": LaunchConfiguration("use_sim_time")},
                    overrides],
        remappings=[("rgb/image", LaunchConfiguration("rgb_topic")),
                    ("thermal/image", LaunchConfiguration("thermal_topic"))],
    )]

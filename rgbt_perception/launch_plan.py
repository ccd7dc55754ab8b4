"""What `ros2 launch rgbt_perception rgbt.launch.py ARG:=VALUE ...` starts, as plain data: the
launch arguments, and the node (executable, parameters, remappings, environment) a set of their
values gives.

The launch file (launch/rgbt.launch.py) turns the plan into launch_ros actions; rgbt-launch
(rgbt_perception/launcher.py) turns the same plan into a command line where ROS's launch packages
are not installed (the pip route). So both routes start the node alike from the same arguments.
Imports nothing from ROS or torch.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "rgbt_perception"
NODE_NAME = "rgbt_perception"
EXECUTABLE = "rgbt_perception_node"
LIFECYCLE_EXECUTABLE = "rgbt_perception_lifecycle_node"
PROFILE = ("config", "fastdds_large_images.xml")  # Fast DDS profile for camera-sized messages
# Fast DDS 3 (Kilted and later) reads the first, and warns that the second is deprecated when it
# is set; Fast DDS 2 (Humble, Jazzy) reads only the second.
PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
FAST_DDS_2_DISTROS = ("humble", "iron", "jazzy")
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
INTEGERS = ("threads",)


@dataclass(frozen=True)
class Argument:
    """One launch argument: its name, default (as launch keeps it: a string) and meaning."""

    name: str
    default: str
    description: str


def launch_arguments(share: str | Path) -> list[Argument]:
    """The launch file's arguments, in the order `ros2 launch --show-args` lists them; `share` is
    the package's share folder (where config/rgbt.yaml is installed)."""
    fixed = [
        Argument("params_file", os.path.join(share, "config", "rgbt.yaml"), "node parameters (see config/rgbt.yaml)"),
        Argument("namespace", "", "namespace of the node and its topics"),
        Argument("rgb_topic", "rgb/image", "RGB sensor_msgs/Image topic"),
        Argument("thermal_topic", "thermal/image", "thermal sensor_msgs/Image topic"),
        Argument("use_sim_time", "false", "true for bag replay (/clock)"),
        Argument("lifecycle", "false", "true: start the managed (lifecycle) node instead of the plain one"),
        Argument("autostart", "true", "lifecycle node: configure and activate itself (false: wait for a manager)"),
    ]
    return fixed + [Argument(name, "", f"{text} (default: the params file's)") for name, (_, text) in OVERRIDES.items()]


@dataclass
class NodePlan:
    """The node a launch starts: parameters apply in order, the params file's first, then
    `parameters` (use_sim_time and the overrides given)."""

    executable: str
    namespace: str
    params_file: str
    parameters: dict = field(default_factory=dict)
    remappings: list[tuple[str, str]] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)


def closest_argument(name: str) -> str | None:
    """The launch argument `name` is most likely a typo of, or None when it is close to none."""
    found = difflib.get_close_matches(name, [a.name for a in launch_arguments("")], n=1, cutoff=0.8)
    return found[0] if found else None


def misspelt_arguments(given) -> list[str]:
    """The names among `given` (a launch's configurations) that are no argument of this file but
    close to one: typos, which `ros2 launch` would pass over in silence. Names far from every
    argument are left alone: a parent launch file's own."""
    known = {a.name for a in launch_arguments("")}
    return [f"{name!r} (did you mean {guess!r}?)" for name in sorted(set(given) - known)
            if (guess := closest_argument(name))]


def plan_node(values: dict[str, str], cwd: str | Path | None = None) -> NodePlan:
    """The node for these argument values (every argument of launch_arguments, as strings). An
    override is passed only when given (non-empty); a relative checkpoint or params file path is
    made absolute from `cwd` (default: the current folder, the one `ros2 launch` was started in),
    and the params file must exist (ValueError naming it)."""
    base = Path(cwd) if cwd is not None else Path.cwd()
    parameters: dict = {"use_sim_time": truth(values["use_sim_time"])}
    for name, (parameter, _) in OVERRIDES.items():
        value = values.get(name, "")
        if not value:
            continue
        if name in CHECKPOINTS:
            value = os.path.normpath(os.path.join(base, os.path.expanduser(value)))
        if name in INTEGERS and not value.lstrip("-").isdigit():
            raise ValueError(f"launch argument {name}:={value!r}: expected an integer")
        parameters[parameter] = int(value) if name in INTEGERS else value
    params_file = os.path.normpath(os.path.join(base, os.path.expanduser(values["params_file"])))
    if not os.path.isfile(params_file):
        raise ValueError(f"launch argument params_file:={values['params_file']}: no such file ({params_file}; a "
                         "relative path is taken from the folder the launch started in)")
    lifecycle, autostart = truth(values["lifecycle"]), truth(values["autostart"])
    return NodePlan(
        executable=LIFECYCLE_EXECUTABLE if lifecycle else EXECUTABLE, namespace=values["namespace"],
        params_file=params_file, parameters=parameters,
        remappings=[("rgb/image", values["rgb_topic"]), ("thermal/image", values["thermal_topic"])],
        arguments=["--no-autostart"] if lifecycle and not autostart else [])


def profile_environment(share: str | Path, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The Fast DDS profile variable to set for the node: the one its ROS distribution's Fast DDS
    reads (ROS_DISTRO; none set, as on the pip route's Kilted wheels: Fast DDS 3's), unless the
    user set either (their profile wins)."""
    environ = os.environ if environ is None else environ
    if any(name in environ for name in PROFILE_VARIABLES):
        return {}
    fast_dds_2 = environ.get("ROS_DISTRO", "").lower() in FAST_DDS_2_DISTROS
    return {PROFILE_VARIABLES[1 if fast_dds_2 else 0]: os.path.join(share, *PROFILE)}


def truth(value: str) -> bool:
    """A launch argument's boolean ('true' / 'false', any case)."""
    return str(value).strip().lower() == "true"

"""The launch file's logic and the Humble import path, where ROS's launch packages are absent.

`launch` / `launch_ros` are not on PyPI, so the launch file is executed here against minimal
stand-ins that record the actions it creates (test_launch.py runs the real thing on a ROS
install). The Humble layout of rclpy (QoS event classes in rclpy.qos_event, no
rclpy.event_handler) is reproduced by shadowing the modules in a subprocess."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types

import pytest

from rgbt_perception.launch_plan import OVERRIDES
from rgbt_perception.testing.ros_harness import REPO_ROOT


class Recorded:
    def __init__(self, kind, *args, **kwargs):
        self.kind, self.args, self.kwargs = kind, args, kwargs


class LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context.launch_configurations[self.name]


class Context:
    """What launch's LaunchContext gives an OpaqueFunction: every NAME:=VALUE of the command line
    (declared or not) and the declared arguments' defaults."""

    def __init__(self, values):
        self.launch_configurations = values


def run_node_action(module, values):
    return module.node_action(Context(values))


def load_launch_file(monkeypatch, tmp_path):
    modules = {
        "ament_index_python": types.ModuleType("ament_index_python"),
        "ament_index_python.packages": types.SimpleNamespace(get_package_share_directory=lambda _: str(tmp_path)),
        "launch": types.SimpleNamespace(LaunchDescription=lambda actions: actions),
        "launch.actions": types.SimpleNamespace(
            DeclareLaunchArgument=lambda *a, **k: Recorded("argument", *a, **k),
            OpaqueFunction=lambda **k: Recorded("opaque", **k),
            SetEnvironmentVariable=lambda *a, **k: Recorded("env", *a, **k)),
        "launch.substitutions": types.SimpleNamespace(LaunchConfiguration=LaunchConfiguration),
        "launch_ros": types.ModuleType("launch_ros"),
        "launch_ros.actions": types.SimpleNamespace(Node=lambda **k: Recorded("node", **k)),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("rgbt_launch", REPO_ROOT / "launch" / "rgbt.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("distro", "user_variable", "expected"), [
    ("jazzy", None, "FASTRTPS_DEFAULT_PROFILES_FILE"), ("humble", None, "FASTRTPS_DEFAULT_PROFILES_FILE"),
    ("kilted", None, "FASTDDS_DEFAULT_PROFILES_FILE"), (None, None, "FASTDDS_DEFAULT_PROFILES_FILE"),
    ("jazzy", "FASTDDS_DEFAULT_PROFILES_FILE", None), ("kilted", "FASTRTPS_DEFAULT_PROFILES_FILE", None)])
def test_the_fast_dds_profile_variable_of_the_distro_unless_the_user_set_one(monkeypatch, tmp_path, distro,
                                                                            user_variable, expected):
    for name in ("FASTRTPS_DEFAULT_PROFILES_FILE", "FASTDDS_DEFAULT_PROFILES_FILE", "ROS_DISTRO"):
        monkeypatch.delenv(name, raising=False)
    if distro:
        monkeypatch.setenv("ROS_DISTRO", distro)
    if user_variable:
        monkeypatch.setenv(user_variable, "/my/profile.xml")
    actions = load_launch_file(monkeypatch, tmp_path).generate_launch_description()
    env = {a.args[0]: a.args[1] for a in actions if a.kind == "env"}
    assert env == ({expected: str(tmp_path / "config" / "fastdds_large_images.xml")} if expected else {})


def test_checkpoints_camera_and_runtime_arguments_override_the_params_file_only_when_given(monkeypatch, tmp_path):
    module = load_launch_file(monkeypatch, tmp_path)
    arguments = {a.args[0]: a.kwargs["default_value"] for a in module.generate_launch_description()
                 if a.kind == "argument"}
    assert all(arguments[name] == "" for name in OVERRIDES)
    assert arguments["params_file"] == str(tmp_path / "config" / "rgbt.yaml")
    assert {"samsod_checkpoint", "sartm_checkpoint", "thermal_camera"} <= set(OVERRIDES)
    unset = {name: "" for name in OVERRIDES}
    (node,) = run_node_action(module, {**BASE, **unset})
    assert node.kwargs["parameters"] == [BASE["params_file"], {"use_sim_time": False}]
    (node,) = run_node_action(module, {**BASE, **unset, "device": "cuda", "threads": "3", "runtime": "onnxruntime",
                                  "precision": "int8", "thermal_camera": "optris", "use_sim_time": "True"})
    assert node.kwargs["parameters"][-1] == {"use_sim_time": True, "device": "cuda", "threads": 3,
                                             "runtime": "onnxruntime", "precision": "int8", "thermal.camera": "optris"}
    assert node.kwargs["remappings"] == [("rgb/image", "a"), ("thermal/image", "b")]
    assert node.kwargs["name"] == "rgbt_perception" and node.kwargs["namespace"] == ""


def test_a_params_file_that_is_not_there_stops_the_launch_naming_it(monkeypatch, tmp_path):
    """A misspelt params_file:= would reach the node as an rcl error and a traceback."""
    module = load_launch_file(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "homography.yaml").write_text("/**/rgbt_perception:\n  ros__parameters: {}\n")
    unset = {name: "" for name in OVERRIDES}
    (node,) = run_node_action(module, {**BASE, **unset, "params_file": "homography.yaml"})
    assert node.kwargs["parameters"][0] == str(tmp_path / "homography.yaml")  # absolute, as logged
    with pytest.raises(ValueError, match=r"params_file:=homograpy.yaml: no such file \(.*homograpy.yaml; a relative"):
        run_node_action(module, {**BASE, **unset, "params_file": "homograpy.yaml"})


def test_a_relative_checkpoint_argument_is_taken_from_the_folder_launch_started_in(monkeypatch, tmp_path):
    module = load_launch_file(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    unset = {name: "" for name in OVERRIDES}
    (node,) = run_node_action(module, {**BASE, **unset, "samsod_checkpoint": "weights/samsod.pt",
                                  "sartm_checkpoint": "/abs/sartm.pt"})
    assert node.kwargs["parameters"][-1] == {"use_sim_time": False,
                                             "samsod.checkpoint": str(tmp_path / "weights" / "samsod.pt"),
                                             "sartm.checkpoint": "/abs/sartm.pt"}


BASE = {"namespace": "", "params_file": str(REPO_ROOT / "config" / "rgbt.yaml"), "use_sim_time": "false",
        "rgb_topic": "a", "thermal_topic": "b", "lifecycle": "false", "autostart": "true"}


def test_lifecycle_argument_selects_the_managed_node_and_autostart(monkeypatch, tmp_path):
    module = load_launch_file(monkeypatch, tmp_path)
    base = {**BASE, **{name: "" for name in OVERRIDES}}
    (plain,) = run_node_action(module, {**base, "lifecycle": "false", "autostart": "false"})
    assert plain.kwargs["executable"] == "rgbt_perception_node" and plain.kwargs["arguments"] == []
    (managed,) = run_node_action(module, {**base, "lifecycle": "true", "autostart": "true"})
    assert managed.kwargs["executable"] == "rgbt_perception_lifecycle_node" and managed.kwargs["arguments"] == []
    (waiting,) = run_node_action(module, {**base, "lifecycle": "true", "autostart": "false"})
    assert waiting.kwargs["arguments"] == ["--no-autostart"]
    installed = (REPO_ROOT / "setup.py").read_text()
    assert all(f'"{name} = ' in installed for name in ("rgbt_perception_node", "rgbt_perception_lifecycle_node"))


def test_a_misspelt_argument_stops_the_launch_and_a_parent_files_own_do_not(monkeypatch, tmp_path):
    """ros2 launch keeps every NAME:=VALUE as a launch configuration, declared or not, and says
    nothing of one that no file declares: a misspelt checkpoint would start a node that dies while
    the launch exits 0."""
    module = load_launch_file(monkeypatch, tmp_path)
    base = {**BASE, **{name: "" for name in OVERRIDES}}
    with pytest.raises(ValueError, match=r"unknown launch argument 'samsod_checkpont' \(did you mean "
                                         r"'samsod_checkpoint'\?\); ros2 launch rgbt_perception"):
        run_node_action(module, {**base, "samsod_checkpont": "samsod.pt"})
    # a parent launch file's arguments, far from any of ours, pass
    (node,) = run_node_action(module, {**base, "robot_name": "rover1", "map_file": "site.yaml", "use_rviz": "true"})
    assert node.kind == "node"


HUMBLE = """
import sys, types
sys.modules["rclpy.event_handler"] = None  # Humble has no such module
qos_event = types.ModuleType("rclpy.qos_event")
class SubscriptionEventCallbacks:  # Humble's home of the class
    pass
qos_event.SubscriptionEventCallbacks = SubscriptionEventCallbacks
sys.modules["rclpy.qos_event"] = qos_event
from rgbt_perception import ros_compat
assert ros_compat.SubscriptionEventCallbacks is SubscriptionEventCallbacks
print("humble layout ok")
"""


def test_the_node_imports_on_humbles_rclpy_layout_and_on_later_ones():
    result = subprocess.run([sys.executable, "-c", HUMBLE], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "humble layout ok" in result.stdout, result.stderr
    from rclpy.event_handler import SubscriptionEventCallbacks

    from rgbt_perception import ros_compat

    assert ros_compat.SubscriptionEventCallbacks is SubscriptionEventCallbacks


class SpinsIntoAWaitSet:
    """An executor whose spin() creates a wait set on `context`: what rclpy's spin loop does
    after its ok() check, so with a context shut down in between it raises the real RCLError."""

    def __init__(self, context):
        self.context = context

    def spin(self):
        import rclpy

        rclpy._rclpy_pybind11.WaitSet(0, 0, 0, 0, 0, 0, self.context.handle)


def test_a_signal_between_ok_and_the_wait_set_is_a_clean_shutdown_and_other_errors_are_not():
    import rclpy
    from rclpy.context import Context

    from rgbt_perception.ros_compat import spin_until_shutdown

    context = Context()
    rclpy.init(context=context)
    rclpy.shutdown(context=context)
    spin_until_shutdown(SpinsIntoAWaitSet(context), context=context)  # returns: it was a shutdown

    class Fails:
        def spin(self):
            raise rclpy._rclpy_pybind11.RCLError("publisher failed")

    live = Context()
    rclpy.init(context=live)
    try:
        with pytest.raises(rclpy._rclpy_pybind11.RCLError, match="publisher failed"):
            spin_until_shutdown(Fails(), context=live)
    finally:
        rclpy.shutdown(context=live)


def test_a_signal_before_the_spin_begins_is_a_clean_exit(monkeypatch):
    """The helper nodes log 'ready' before run_single_threaded adds them to the executor; a SIGINT
    there (rclpy raises KeyboardInterrupt until the spin has begun) exits 0 with rclpy shut down
    (seen once in CI: the talker exited -2 with a traceback)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from rgbt_perception.ros_compat import run_single_threaded

    def interrupted(self, node):
        raise KeyboardInterrupt

    rclpy.init()
    node = Node("signalled_before_spin")
    monkeypatch.setattr(SingleThreadedExecutor, "add_node", interrupted)
    assert run_single_threaded(node) == 0
    assert not rclpy.ok()


def test_topic_names_resolve_with_and_without_nodes_resolve_topic_name(rclpy_context):
    from rclpy.node import Node

    from rgbt_perception.ros_compat import resolve_topic_name

    node = Node("n", namespace="/robot", context=rclpy_context,
                cli_args=["--ros-args", "-r", "rgb/image:=/cam/color/image_raw"])
    try:
        assert resolve_topic_name(node, "rgb/image") == "/cam/color/image_raw"  # remapped
        older = type("OlderNode", (), {"get_name": node.get_name, "get_namespace": node.get_namespace})()
        assert resolve_topic_name(older, "rgb/image") == "/robot/rgb/image"  # expanded only
    finally:
        node.destroy_node()

"""Integration tests: the real node as a subprocess, talked to over real rclpy."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from rgbt_perception.testing.node_fixtures import OUTPUTS, TEST_NODE_ARGS, Probe, image_msg, refused_at_start
from rgbt_perception.testing.ros_harness import NodeProcess

pytestmark = [pytest.mark.ros, pytest.mark.slow]

@pytest.fixture
def running_node(rclpy_context):
    node = NodeProcess("rgbt_perception.node", ros_args=TEST_NODE_ARGS)
    probe = Probe(rclpy_context)
    try:
        node.wait_for_log("rgbt_perception ready", timeout=90)
        assert probe.wait_for_node(), node.log()
        yield node, probe
        node.stop(signal.SIGINT, timeout=20.0)  # exit 0 is checked; how fast is test_sigterm_ends_the_node...
    finally:
        node.kill()
        probe.close()


def test_outputs_have_the_right_types_sizes_stamps_and_frames(running_node):
    node, probe = running_node
    stamps = probe.publish_pairs(6)
    assert probe.wait(lambda: all(probe.received[t] for t in OUTPUTS), 30), (
        {t: len(v) for t, v in probe.received.items()}, node.log())
    sent = {(s, n) for s, n in stamps}
    for topic, messages in probe.received.items():
        for msg in messages:
            assert (msg.header.stamp.sec, msg.header.stamp.nanosec) in sent, topic
            assert msg.header.frame_id == "rgb_camera", topic
    for topic in ("semantic/mask", "saliency/map", "saliency/mask"):
        msg = probe.received[topic][-1]
        assert (msg.height, msg.width, msg.encoding) == (128, 160, "mono8"), topic
    color = probe.received["semantic/color"][-1]
    assert (color.height, color.width, color.encoding) == (128, 160, "rgb8")
    classes = probe.received["semantic/classes"][-1]
    assert abs(sum(classes.pixel_fractions) - 1.0) < 1e-3
    assert set(classes.class_names) <= {"background", "sky", "person", "vehicle"}
    assert set(bytes(probe.received["saliency/mask"][-1].data)) <= {0, 255}
    objects = probe.received["saliency/objects"][-1]
    assert (objects.height, objects.width) == (128, 160)
    assert probe.wait(lambda: probe.class_maps, 5)
    assert [c.name for c in probe.class_maps[0].classes] == ["background", "sky", "person", "vehicle"]
    assert probe.wait(lambda: probe.status_value("processed") not in (None, "0"), 5)


def test_bad_input_is_counted_and_the_node_keeps_serving(running_node):
    import numpy as np

    node, probe = running_node
    probe.publish_pairs(2)
    bad = [
        image_msg(np.zeros((8, 8, 3), np.uint8), "yuv422", 50, 0),           # unknown encoding
        image_msg(np.zeros((8, 8, 3), np.uint8), "rgb8", 50, 1),             # data too short (below)
        image_msg(np.zeros((8, 8, 3), np.uint8), "rgb8", 50, 2),             # step too small (below)
        image_msg(np.zeros((8, 8, 3), np.uint8), "rgb8", 50, 3),             # zero height (below)
    ]
    bad[1].data = bytes(10)
    bad[2].step = 8
    bad[3].height = 0
    for msg in bad:
        probe.rgb_pub.publish(msg)
    probe.thermal_pub.publish(image_msg(np.full((128, 160), np.nan, np.float32), "32FC1", 51, 0))
    probe.spin_for(0.5)
    before = len(probe.received["saliency/map"])
    probe.publish_pairs(4, start_sec=200)
    assert probe.wait(lambda: len(probe.received["saliency/map"]) > before, 20), node.log()
    assert probe.wait(lambda: int(probe.status_value("bad") or 0) >= 5, 5), node.log()
    assert node.running()


def test_degraded_mode_when_thermal_stops_and_recovery(running_node):
    node, probe = running_node
    probe.publish_pairs(3)
    assert probe.wait(lambda: probe.received["semantic/mask"], 20)
    semantic_before = len(probe.received["semantic/mask"])
    probe.publish_pairs(8, start_sec=300, thermal=False)  # 1.6 s without thermal (timeout 0.6 s)
    saliency_before = len(probe.received["saliency/map"])
    probe.publish_pairs(4, start_sec=310, thermal=False)
    assert probe.wait(lambda: len(probe.received["saliency/map"]) > saliency_before, 10), node.log()
    assert probe.wait(lambda: probe.last_status().message.startswith("DEGRADED"), 5)
    assert len(probe.received["semantic/mask"]) <= semantic_before + 3  # SARTM paused
    probe.publish_pairs(5, start_sec=400)
    semantic_now = len(probe.received["semantic/mask"])
    probe.publish_pairs(4, start_sec=410)
    assert probe.wait(lambda: len(probe.received["semantic/mask"]) > semantic_now, 10), node.log()
    assert probe.wait(lambda: not probe.last_status().message.startswith("DEGRADED"), 5)


def test_sigterm_ends_the_node_promptly(ros_env):
    """Exit 0 on SIGTERM; the bound is generous (the node's own deadline is 1.5 s, what a loaded
    machine adds to a process's exit is not the node's): a node that waited for a frame or a
    timeout would take far longer."""
    node = NodeProcess("rgbt_perception.node", ros_args=[*TEST_NODE_ARGS, "-p", "threads:=1"])
    try:
        node.wait_for_log("rgbt_perception ready", timeout=90)
        assert "threads: 1 intra-op, 1 inter-op, OMP_WAIT_POLICY=PASSIVE" in node.log()  # the thread policy
        assert node.stop(signal.SIGTERM, timeout=10.0) < 10.0
    finally:
        node.kill()


def maps_library(pid: int, name: str) -> bool:
    """Whether the process has loaded a shared library whose path contains `name` (/proc/PID/maps)."""
    with open(f"/proc/{pid}/maps") as maps:
        return any(name in line for line in maps)


@pytest.mark.parametrize("executable", ["rgbt_perception_node", "rgbt_perception_lifecycle_node"])
@pytest.mark.parametrize("moment", ["importing", "loading models"])
def test_a_signal_while_the_node_starts_ends_it_quietly(ros_env, tmp_path, executable, moment):
    """SIGINT (a terminal's Ctrl-C) while the node's modules import (a second or more), SIGTERM (a
    service manager's stop) while the checkpoints load, between the node's rcl calls: exit 0, no
    traceback, nothing logged into a shut-down context. Whatever the moment the signal lands in
    on a slow machine, the outcome must be the same."""
    import time
    from pathlib import Path

    log = tmp_path / "node.log"
    with log.open("w") as output:
        process = subprocess.Popen([str(Path(sys.executable).parent / executable), "--ros-args", *TEST_NODE_ARGS],
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        # torch's library is mapped while the node's imports run: past Python's own start-up, where
        # a Ctrl-C is Python's to report, and into the entry point's (rgbt_perception/entry.py)
        while process.poll() is None and not maps_library(process.pid, "libtorch") and time.monotonic() < deadline:
            time.sleep(0.005)
        if moment == "loading models":
            while "threads:" not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
        process.send_signal(signal.SIGINT if moment == "importing" else signal.SIGTERM)
        code = process.wait(timeout=60)
    finally:
        process.kill()
    printed = log.read_text()
    assert code == 0, printed
    assert "Traceback" not in printed and "KeyboardInterrupt" not in printed, printed
    assert "Failed to publish log message" not in printed, printed


def _start_fails(args: list[str], env) -> str:
    result = subprocess.run([sys.executable, "-m", "rgbt_perception.node", "--ros-args", *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr


def test_a_malformed_ros_argument_is_one_line(ros_env):
    stderr = _start_fails(["-p", "samsod.checkpoint"], ros_env)
    assert stderr.splitlines()[-1] == ("[rgbt_perception] cannot start: failed to initialize rcl: Couldn't parse "
                                       "parameter override rule: '-p samsod.checkpoint'"), stderr
    assert "Traceback" not in stderr, stderr


def test_refuses_to_start_only_when_no_model_is_given(ros_env):
    stderr = _start_fails(["--params-file", "config/rgbt.yaml"], ros_env)  # the executable, as a robot runs it
    assert "no model to run: give samsod.checkpoint and/or sartm.checkpoint" in stderr
    stderr = refused_at_start("--params-file", "config/rgbt.yaml", "-p", "sartm.enabled:=true", "-p",
                              "samsod.checkpoint:=s.pt")  # true without a checkpoint: refused as before
    assert "sartm is enabled but sartm.checkpoint is empty" in stderr


def test_bad_parameter_is_named_at_startup(ros_env, tmp_path):
    stderr = refused_at_start(*TEST_NODE_ARGS, "-p", "model_height:=100")
    assert "model_height" in stderr and "multiple of 32" in stderr
    stderr = refused_at_start(*TEST_NODE_ARGS, "-p", "sync.slop:=5.0")
    assert "sync.slop" in stderr
    stderr = refused_at_start(*TEST_NODE_ARGS, "--params-file", "homograpy.yaml")  # rcl's own error before
    assert "cannot start: --params-file homograpy.yaml: no such file" in stderr
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    stderr = _start_fails([*TEST_NODE_ARGS, "-p", f"samsod.checkpoint:={broken}"], ros_env)
    assert "broken.pt" in stderr and "not a readable PyTorch checkpoint" in stderr


def test_launch_file_names_what_the_package_installs():
    import ast

    from rgbt_perception import launch_plan
    from rgbt_perception.testing.ros_harness import REPO_ROOT

    launch = ast.parse((REPO_ROOT / "launch" / "rgbt.launch.py").read_text())
    (imported,) = [node for node in ast.walk(launch) if isinstance(node, ast.ImportFrom)
                   and node.module == "rgbt_perception.launch_plan"]
    assert all(hasattr(launch_plan, alias.name) for alias in imported.names)
    setup = (REPO_ROOT / "setup.py").read_text()
    assert f'"{launch_plan.EXECUTABLE} = rgbt_perception.entry:node"' in setup
    assert f'"{launch_plan.LIFECYCLE_EXECUTABLE} = rgbt_perception.entry:lifecycle_node"' in setup
    assert (REPO_ROOT.joinpath(*launch_plan.PROFILE)).is_file()
    assert (REPO_ROOT / "config" / "rgbt.yaml").is_file()


def test_incompatible_qos_is_reported_while_the_publisher_is_there(rclpy_context):
    """A best-effort camera and a node asking for reliable: the classic 'no output' mistake. Logged
    when the publisher appears, in /diagnostics while it is there, and no more once it is gone."""
    node = NodeProcess("rgbt_perception.node", ros_args=[*TEST_NODE_ARGS, "-p", "qos.reliability:=reliable"])
    probe = Probe(rclpy_context)  # its camera publishers are best effort (sensor data)

    def last_status() -> str:
        return probe.diagnostics[-1].status[0].message if probe.diagnostics else ""

    try:
        node.wait_for_log("rgbt_perception ready", timeout=90)
        node.wait_for_log("QoS is incompatible", timeout=20)
        assert "qos.reliability" in node.log()
        assert probe.wait(lambda: "incompatible QoS on an input" in last_status(), 20), last_status()
        probe.node.destroy_publisher(probe.rgb_pub)
        probe.node.destroy_publisher(probe.thermal_pub)
        probe.diagnostics.clear()
        assert probe.wait(lambda: probe.diagnostics and "incompatible" not in last_status(), 20), last_status()
        node.stop(signal.SIGINT, timeout=20.0)
    finally:
        node.kill()
        probe.close()


def test_the_shipped_parameter_file_applies_under_a_namespace(rclpy_context, tmp_path):
    """config/rgbt.yaml, its section key as shipped and only its values changed, given to a node
    started in a namespace (as `ros2 launch ... namespace:=robot1` does, without launch_ros): the
    node starts (only the file's allow_untrained and model configs let it) and reports the file's
    values over its parameter service, and a -p given beside the file over the file's."""
    import yaml
    from rcl_interfaces.srv import GetParameters
    from rclpy.node import Node

    from rgbt_perception.testing.node_fixtures import TEST_PARAMETERS
    from rgbt_perception.testing.ros_harness import REPO_ROOT, spin_until

    shipped = yaml.safe_load((REPO_ROOT / "config" / "rgbt.yaml").read_text())
    (section,) = shipped.values()
    section["ros__parameters"].update({**TEST_PARAMETERS, "qos.depth": 7})
    params = tmp_path / "robot1.yaml"
    params.write_text(yaml.safe_dump(shipped))
    # -p beside the file has the last word (a "/**" section would outrank it: config/rgbt.yaml)
    node = NodeProcess("rgbt_perception.node", ros_args=["--params-file", str(params), "-r", "__ns:=/robot1",
                                                         "-p", "qos.depth:=3"])
    from rclpy.executors import SingleThreadedExecutor

    probe = Node("namespace_probe", context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(probe)
    try:
        node.wait_for_log("rgbt_perception ready", timeout=90)
        client = probe.create_client(GetParameters, "/robot1/rgbt_perception/get_parameters")
        assert spin_until(probe, client.service_is_ready, 30, executor)
        future = client.call_async(GetParameters.Request(names=["qos.depth", "model_height", "allow_untrained"]))
        assert spin_until(probe, future.done, 30, executor)
        values = future.result().values
        assert (values[0].integer_value, values[1].integer_value, values[2].bool_value) == (3, 128, True)
        assert node.stop(timeout=20) < 20
    finally:
        node.kill()
        executor.shutdown()
        probe.destroy_node()

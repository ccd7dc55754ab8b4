"""rgbt-launch: `ros2 launch rgbt_perception rgbt.launch.py` where ROS's launch packages are not
installed (the pip route), with the same arguments:

    rgbt-launch samsod_checkpoint:=samsod.pt thermal_camera:=flir_tlinear rgb_topic:=/cam/rgb/image_raw
    rgbt-launch --show-args

On a ROS install (the `ros2` CLI and launch_ros present) it runs `ros2 launch` itself. Elsewhere
it starts the node that rgbt_perception/launch_plan.py gives for the arguments (the plan the
launch file uses too): the same executable, parameters, remappings and Fast DDS profile, as a
child process whose output it passes through. SIGINT / SIGTERM stop the node cleanly, as Ctrl-C
on `ros2 launch` does; the exit status is the node's (128 + N when signal N ended it, as a shell
says).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from rgbt_perception.launch_plan import (
    NODE_NAME,
    PACKAGE,
    NodePlan,
    closest_argument,
    launch_arguments,
    plan_node,
    profile_environment,
)

LAUNCH_FILE = "rgbt.launch.py"


class LaunchError(ValueError):
    """A launch argument or an installation problem, said in one line."""


def share_directory() -> Path:
    """Where config/rgbt.yaml is: the package's ament share folder on a ROS install, else the
    source checkout the pip route installs from (editable), else the prefix's share folder."""
    if os.environ.get("AMENT_PREFIX_PATH") and importlib.util.find_spec("ament_index_python"):
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            return Path(get_package_share_directory(PACKAGE))
        except PackageNotFoundError:
            pass
    for folder in (Path(__file__).resolve().parents[1], Path(sys.prefix) / "share" / PACKAGE):
        if (folder / "config" / "rgbt.yaml").is_file():
            return folder
    raise LaunchError(f"config/rgbt.yaml of {PACKAGE} not found (not in an ament prefix, the source checkout "
                      f"or {sys.prefix}/share)")


def parse_values(argv: list[str], share: Path) -> dict[str, str]:
    """Every launch argument's value: its default, replaced by NAME:=VALUE where given."""
    values = {a.name: a.default for a in launch_arguments(share)}
    for item in argv:
        name, sep, value = item.partition(":=")
        if not sep:
            raise LaunchError(f"{item!r}: expected NAME:=VALUE (the arguments of ros2 launch rgbt_perception "
                              "rgbt.launch.py)")
        if name not in values:
            guess = closest_argument(name)
            raise LaunchError(f"unknown launch argument {name!r}{f' (did you mean {guess!r}?)' if guess else ''}; "
                              "rgbt-launch --show-args lists them")
        values[name] = value
    return values


def show_arguments(share: Path) -> str:
    """The arguments as `ros2 launch --show-args` lists them."""
    lines = ["Arguments (pass arguments as '<name>:=<value>'):", ""]
    for a in launch_arguments(share):
        lines += [f"    '{a.name}':", f"        {a.description}", f"        (default: '{a.default}')", ""]
    return "\n".join(lines)


def ros_value(value) -> str:
    """A parameter value as `-p NAME:=VALUE` takes it (YAML): strings that YAML would read as
    another type are quoted."""
    if isinstance(value, str) and yaml.safe_load(value) == value:
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=1 << 16).removesuffix("\n...\n").strip()


def executable_path(name: str) -> str:
    """The node's executable: on PATH or beside this Python (the pip route's console scripts),
    else where colcon puts an ament_python package's executables (PREFIX/lib/rgbt_perception)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found:
        return found
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        candidate = Path(prefix) / "lib" / PACKAGE / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    raise LaunchError(f"{name} not found on PATH or in AMENT_PREFIX_PATH: is the package installed "
                      "(make setup, or source install/setup.bash)?")


def node_command(plan: NodePlan) -> list[str]:
    """The command line that starts the plan's node, as launch_ros's Node action builds it."""
    command = [executable_path(plan.executable), *plan.arguments, "--ros-args", "-r", f"__node:={NODE_NAME}"]
    if plan.namespace:
        command += ["-r", f"__ns:=/{plan.namespace.strip('/')}"]
    command += ["--params-file", plan.params_file]
    for name, value in plan.parameters.items():
        command += ["-p", f"{name}:={ros_value(value)}"]
    for source, target in plan.remappings:
        command += ["-r", f"{source}:={target}"]
    return command


def stop_with_parent() -> None:
    """In the child, before exec: be sent SIGTERM if the launcher dies without forwarding (Linux)."""
    with contextlib.suppress(AttributeError, OSError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run_child(command: list[str], env: dict[str, str]) -> int:
    """Run `command` in its own process group, passing SIGINT / SIGTERM on to it once (so a
    Ctrl-C reaches the node once, not once from the terminal and again from here); its exit
    status, or 128 + N when signal N ended it (Popen's -N would leave this process as 256 - N)."""
    process = subprocess.Popen(command, env=env, process_group=0, preexec_fn=stop_with_parent)

    def forward(signum, _frame):
        if process.poll() is None:
            process.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = process.wait()
        return 128 - status if status < 0 else status
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def ros2_launch_available() -> bool:
    """A ROS install's `ros2 launch`: the ros2 CLI and launch_ros."""
    return shutil.which("ros2") is not None and importlib.util.find_spec("launch_ros") is not None


def main(argv: list[str] | None = None) -> int:
    """rgbt-launch: the node's exit status, or 2 with one line naming the problem."""
    parser = argparse.ArgumentParser(prog="rgbt-launch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("arguments", nargs="*", metavar="NAME:=VALUE", help="launch arguments (--show-args)")
    parser.add_argument("-s", "--show-args", action="store_true", help="list the launch arguments and exit")
    given = sys.argv[1:] if argv is None else argv
    for item in given:  # --samsod_checkpoint x: an option spelling of a launch argument
        guess = closest_argument(item.lstrip("-").split("=")[0]) if item.startswith("--") else None
        if guess and item not in ("--show-args", "--help"):
            parser.error(f"{item}: launch arguments are written NAME:=VALUE, e.g. {guess}:=...")
    args = parser.parse_args(given)
    if ros2_launch_available():
        command = ["ros2", "launch", PACKAGE, LAUNCH_FILE, *(["--show-args"] if args.show_args else []),
                   *args.arguments]
        print(f"rgbt-launch: {shlex.join(command)}", flush=True)
        return run_child(command, dict(os.environ))
    try:
        share = share_directory()
        if args.show_args:
            print(show_arguments(share))
            return 0
        plan = plan_node(parse_values(args.arguments, share))
        command = node_command(plan)
    except ValueError as error:  # LaunchError, or a launch argument of the wrong type (threads:=abc)
        parser.error(str(error))
    print(f"rgbt-launch: {shlex.join(command)}", flush=True)
    return run_child(command, {**os.environ, **profile_environment(share)})


if __name__ == "__main__":
    sys.exit(main())

"""The README's robot route, as far as it can run without an apt ROS: the rosdep command and the
colcon command find all three packages (catkin_pkg's discovery, what rosdep and colcon use,
offline), and every dependency of one package on another is one of them."""

from __future__ import annotations

import re
import shlex

from rgbt_perception.launch_plan import launch_arguments
from rgbt_perception.testing.documents import documents
from rgbt_perception.testing.ros_harness import REPO_ROOT

PACKAGES = {"rgbt_perception", "rgbt_models", "rgbt_msgs"}
CHECKOUT = "src/rgbt-perception"  # where the README clones the repository


def readme_command(start: str) -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    (line,) = [line for line in text.splitlines() if line.strip().startswith(start)]
    return shlex.split(line.split("#")[0])


def paths_after(words: list[str], option: str) -> list[str]:
    index = words.index(option) + 1
    paths = []
    while index < len(words) and not words[index].startswith("-"):
        paths.append(words[index])
        index += 1
    return paths


def discovered(paths: list[str]) -> dict:
    from catkin_pkg.packages import find_packages

    found = {}
    for path in paths:
        assert path.startswith(CHECKOUT), path
        local = REPO_ROOT / path.removeprefix(CHECKOUT).lstrip("/")
        found.update({package.name: package for package in find_packages(str(local)).values()})
    return found


def test_the_rosdep_command_finds_all_three_packages_and_their_keys():
    words = readme_command("rosdep install")
    assert "--ignore-src" in words  # our own packages are sources, not rosdep keys
    packages = discovered(paths_after(words, "--from-paths"))
    assert set(packages) == PACKAGES
    for package in packages.values():
        keys = {d.name for d in package.build_depends + package.buildtool_depends + package.exec_depends
                + package.test_depends + package.build_export_depends}
        internal = keys & {"rgbt_perception", "rgbt_models", "rgbt_msgs"}
        assert internal <= set(packages)
        assert all(re.fullmatch(r"[a-z0-9_\-]+", key) for key in keys), keys


def test_the_colcon_command_builds_the_same_three_packages():
    packages = discovered(paths_after(readme_command("python -m colcon build"), "--base-paths"))
    assert set(packages) == PACKAGES


def test_the_whole_source_folder_alone_would_find_only_the_root_package():
    """Why the commands name the nested packages: discovery stops at the first package.xml."""
    assert set(discovered([CHECKOUT])) == {"rgbt_perception"}


def test_the_pip_run_and_launch_lines_name_what_exists():
    """The pip lines' files and pins are the set-up's; the launch line's arguments are the launch
    file's; every `ros2 run PACKAGE TOOL` is a console script of that package."""
    from importlib.metadata import distribution

    setup = (REPO_ROOT / "scripts" / "setup.sh").read_text()
    torch_pin = readme_command("pip install torch")[2]
    assert f"TORCH_SPEC:-{torch_pin}" in setup.replace("${", "")
    sam2 = readme_command("pip install setuptools wheel")
    assert f"SAM2_SPEC:-{sam2[-1]}" in setup.replace("${", "") and "--no-deps" in sam2
    requirements = readme_command("pip install -r src/rgbt-perception/requirements/runtime.txt")
    for word in requirements:
        if word.startswith(CHECKOUT):
            assert (REPO_ROOT / word.removeprefix(CHECKOUT).lstrip("/")).is_file(), word
    declared = {argument.name for argument in launch_arguments(REPO_ROOT)}  # what the launch file declares
    text = "\n".join(path.read_text() for path in documents()).replace("\\\n", " ")  # continuation lines joined
    launches = [shlex.split(line.split("#")[0]) for line in text.splitlines()
                if line.strip().startswith("ros2 launch rgbt_perception rgbt.launch.py")]
    assert len(launches) >= 2
    for launch in launches:
        given = {word.split(":=")[0] for word in launch[4:] if ":=" in word}
        assert given <= declared, (given - declared, launch)
    runs = set(re.findall(r"ros2 run (rgbt_\w+) ([\w-]+)", text))
    assert {package for package, _ in runs} == {"rgbt_models", "rgbt_perception"}
    for package, tool in runs:
        scripts = {ep.name for ep in distribution(package.replace("_", "-")).entry_points
                   if ep.group == "console_scripts"}
        assert tool in scripts, (package, tool, scripts)

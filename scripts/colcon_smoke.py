"""colcon smoke build: build all three packages as a ROS 2 workspace would and check the install.

Runs `colcon build --base-paths <repo> <repo>/rgbt_models <repo>/rgbt_msgs` into a temporary
workspace (the repository root is itself a package, so colcon would not descend into it
without explicit base paths), then checks that everything `ros2 launch` and `ros2 run` look
for is where they look: package.xml and the ament index entry of each package, every launch
and config file under share/rgbt_perception/, every console script under lib/<package>/, and
the generated rgbt_msgs Python module importable from the install space.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib.metadata import distribution
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("rgbt_perception", "rgbt_models", "rgbt_msgs")


def console_scripts(dist_name: str) -> list[str]:
    return [ep.name for ep in distribution(dist_name).entry_points if ep.group == "console_scripts"]


def expected_files(install: Path) -> list[Path]:
    files = []
    for package in PACKAGES:
        files.append(install / package / "share" / package / "package.xml")
        files.append(install / package / "share/ament_index/resource_index/packages" / package)
    share = install / "rgbt_perception/share/rgbt_perception"
    files += [share / "launch" / f.name for f in sorted((REPO / "launch").glob("*.launch.py"))]
    files += [share / "config" / f.name for f in sorted((REPO / "config").iterdir())
              if f.suffix in (".yaml", ".xml")]
    for package in ("rgbt_perception", "rgbt_models"):
        files += [install / package / "lib" / package / name for name in console_scripts(package)]
    return files


def main() -> int:
    venv = Path(sys.prefix)
    env = dict(os.environ)
    for var in ("AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH"):
        env[var] = os.pathsep.join(p for p in (str(venv), env.get(var, "")) if p)
    with tempfile.TemporaryDirectory(prefix="rgbt_colcon_") as workspace:
        ws = Path(workspace)
        command = [str(venv / "bin/colcon"), "--log-base", str(ws / "log"), "build",
                   "--base-paths", str(REPO), str(REPO / "rgbt_models"), str(REPO / "rgbt_msgs"),
                   "--build-base", str(ws / "build"), "--install-base", str(ws / "install"),
                   "--cmake-args", f"-DPython3_EXECUTABLE={sys.executable}", "-DBUILD_TESTING=OFF",
                   "--event-handlers", "console_direct-", "summary+"]
        print("$", " ".join(command), flush=True)
        start = time.monotonic()
        result = subprocess.run(command, env=env, cwd=ws, capture_output=True, text=True)
        print(result.stdout[-3000:])
        if result.returncode != 0:
            print(result.stderr[-5000:], file=sys.stderr)
            for log in sorted((ws / "log").rglob("stderr.log")):
                print(f"--- {log}\n{log.read_text()[-3000:]}", file=sys.stderr)
            return 1
        print(f"colcon build: {time.monotonic() - start:.0f} s")

        install = ws / "install"
        missing = [str(p.relative_to(install)) for p in expected_files(install) if not p.exists()]
        not_executable = [str(p.relative_to(install)) for p in expected_files(install)
                          if p.parent.name in ("rgbt_perception", "rgbt_models")
                          and p.parent.parent.name == "lib" and p.exists() and not os.access(p, os.X_OK)]
        if missing or not_executable:
            print("colcon smoke: missing from the install space:", *missing, sep="\n  ", file=sys.stderr)
            print("not executable:", *not_executable, sep="\n  ", file=sys.stderr)
            return 1

        site = sysconfig.get_path("purelib", vars={"base": str(install / "rgbt_msgs")})
        probe = subprocess.run(
            [sys.executable, "-c", "import rgbt_msgs.msg as m; print(m.__file__); m.SemanticClasses()"],
            env={**env, "PYTHONPATH": site}, capture_output=True, text=True)
        if probe.returncode != 0 or not probe.stdout.startswith(str(install)):
            print("colcon smoke: rgbt_msgs from the install space did not import:",
                  probe.stdout, probe.stderr, file=sys.stderr)
            return 1
        print(f"colcon smoke: OK ({len(expected_files(install))} installed files checked, "
              f"rgbt_msgs imports from {Path(probe.stdout.strip()).parent})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every console script answers --help without loading torch or the models (so at once), and
a usage error is one line with exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

ENTRY_POINTS = {"rgbt-replay": "rgbt_perception.replay.cli", "rgbt-train": "rgbt_models.cli.train",
                "rgbt-eval": "rgbt_models.cli.evaluate", "rgbt-export": "rgbt_models.cli.export",
                "rgbt-adapt": "rgbt_models.cli.adapt", "rgbt-calibrate": "rgbt_models.cli.calibrate",
                "rgbt-import": "rgbt_models.cli.import_weights", "rgbt-labels": "rgbt_models.cli.labels",
                "rgbt-launch": "rgbt_perception.launcher"}
PROBE = """
import sys
from {module} import main
try:
    main([{argument!r}])
except SystemExit as exit:
    print("exit", exit.code)
heavy = sorted(m for m in ("torch", "cv2", "sam2", "rosbags", "py_sod_metrics") if m in sys.modules)
print("heavy", ",".join(heavy) or "-")
"""


def test_every_rgbt_command_is_checked_here():
    from importlib.metadata import distribution

    installed = {ep.name: ep.value.split(":")[0] for name in ("rgbt_models", "rgbt_perception")
                 for ep in distribution(name).entry_points
                 if ep.group == "console_scripts" and ep.name.startswith("rgbt-")}
    assert installed == ENTRY_POINTS


@pytest.mark.parametrize("command", sorted(ENTRY_POINTS))
def test_help_loads_no_heavy_module(command):
    result = subprocess.run([sys.executable, "-c", PROBE.format(module=ENTRY_POINTS[command], argument="--help")],
                            capture_output=True, text=True, timeout=60)
    assert "usage:" in result.stdout and "exit 0" in result.stdout, result.stderr
    assert "heavy -" in result.stdout, f"{command} --help loads {result.stdout.split('heavy ')[-1].strip()}"


@pytest.mark.parametrize("command", sorted(ENTRY_POINTS))
def test_a_usage_error_is_one_line_and_exit_2(command):
    result = subprocess.run([sys.executable, "-c", PROBE.format(module=ENTRY_POINTS[command], argument="--bogus")],
                            capture_output=True, text=True, timeout=60)
    assert "exit 2" in result.stdout and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"{command}: error:"), result.stderr


@pytest.mark.parametrize("module", ["rgbt_perception.node", "rgbt_perception.lifecycle_node"])
def test_the_node_answers_help_without_starting(module):
    result = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage: "), result.stdout + result.stderr
    assert "samsod.checkpoint:=" in result.stdout and "cannot start" not in result.stderr

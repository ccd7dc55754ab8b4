"""A console script whose stdout reader has gone (`rgbt-replay ... | head`) stops quietly."""

import subprocess
import sys

from rgbt_models.cli.pipes import SIGPIPE_EXIT

SCRIPT = """
import sys
from rgbt_models.cli.pipes import quiet_on_closed_pipe

@quiet_on_closed_pipe
def main(lines):
    for index in range(lines):
        print(f"report line {index}")
    return 0

sys.exit(main(int(sys.argv[1])))
"""


def run_with_closed_reader(lines: int) -> subprocess.CompletedProcess:
    """Run SCRIPT with its stdout's read end closed before it writes: what `| head -1` ends in."""
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(lines)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, "", stderr)


def test_a_closed_pipe_ends_the_script_without_a_traceback():
    result = run_with_closed_reader(100_000)  # more than a pipe's buffer: print itself fails
    assert result.returncode == SIGPIPE_EXIT
    assert result.stderr == ""


def test_a_short_output_to_a_closed_pipe_ends_the_same_way():
    result = run_with_closed_reader(3)  # still in stdout's buffer when main returns
    assert result.returncode == SIGPIPE_EXIT
    assert result.stderr == ""


def test_an_open_pipe_gets_everything_and_the_script_status():
    result = subprocess.run([sys.executable, "-c", SCRIPT, "5"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.splitlines() == [f"report line {index}" for index in range(5)]

"""Test harness for real ROS 2: an isolated DDS domain per test session and node subprocesses.

Every integration test talks to real nodes over real rclpy. To keep parallel test runs on one
machine (two CI jobs, a developer's shell) from seeing each other, each pytest session claims a
free ROS_DOMAIN_ID with a lock file, and discovery stays on the loopback interface.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]  # the source checkout the tests run in
FASTDDS_PROFILE = REPO_ROOT / "config" / "fastdds_large_images.xml"
# Domain ids that map to valid UDP ports on Linux with the default port formula.
_DOMAIN_IDS = range(1, 101)


class DomainLease:
    """An exclusive claim on one ROS_DOMAIN_ID, held through an flock'ed file until released."""

    def __init__(self) -> None:
        lock_dir = Path(tempfile.gettempdir()) / "rgbt_ros_domains"
        lock_dir.mkdir(exist_ok=True)
        start = os.getpid() % len(_DOMAIN_IDS)
        for offset in range(len(_DOMAIN_IDS)):
            domain_id = _DOMAIN_IDS[(start + offset) % len(_DOMAIN_IDS)]
            handle = open(lock_dir / f"{domain_id}.lock", "w")  # noqa: SIM115 - held until release()
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self.domain_id = domain_id
            self._handle = handle
            return
        raise RuntimeError("no free ROS_DOMAIN_ID in 1..100: too many test sessions at once")

    def release(self) -> None:
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def ros_environment(domain_id: int) -> dict[str, str]:
    """Environment variables every ROS process of a test session shares."""
    return {
        "ROS_DOMAIN_ID": str(domain_id),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp",
        "FASTDDS_DEFAULT_PROFILES_FILE": str(FASTDDS_PROFILE),
        "RCUTILS_COLORIZED_OUTPUT": "0",
        "PYTHONUNBUFFERED": "1",
    }


class NodeProcess:
    """A ROS node started as `python -m MODULE --ros-args ...` in its own process.

    Output goes to a log file so that a failing test can show it; `stop()` sends SIGINT (or
    another signal) and fails when the node does not exit cleanly in time. Without a `log_dir`
    the log lives in a temporary folder that is removed once the process has ended; `log()`
    still returns its text afterwards.
    """

    def __init__(self, module: str, ros_args: Sequence[str] = (), args: Sequence[str] = (),
                 env: dict[str, str] | None = None, log_dir: Path | None = None, cwd: Path | None = None) -> None:
        self.module = module
        self._own_log_dir = None if log_dir else Path(tempfile.mkdtemp(prefix="rgbt_node_"))
        log_dir = log_dir or self._own_log_dir
        self._final_log: str | None = None
        self.log_path = log_dir / f"{module.rsplit('.', 1)[-1]}.log"
        full_env = dict(os.environ)
        full_env.update(env or {})
        command = [sys.executable, "-m", module, *args]
        if ros_args:
            command += ["--ros-args", *ros_args]
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        env=full_env, cwd=cwd or REPO_ROOT)

    def log(self) -> str:
        if self._final_log is not None:
            return self._final_log
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def _close_log(self) -> None:
        """Close the log file; a temporary log folder of our own is read into memory and removed."""
        if not self._log.closed:
            self._log.close()
        if self._own_log_dir is not None and self._final_log is None:
            self._final_log = self.log_path.read_text(errors="replace")
            shutil.rmtree(self._own_log_dir, ignore_errors=True)

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_for_log(self, text: str, timeout: float = 30.0) -> None:
        """Block until `text` appears in the node's output; fail if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if not self.running():
                raise AssertionError(f"{self.module} exited ({self.process.returncode}) before "
                                     f"logging {text!r}:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"{self.module} did not log {text!r} in {timeout} s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 5.0) -> float:
        """Send `sig`, wait for a clean exit (code 0) and return how long it took."""
        if not self.running():
            self._close_log()
            output = self.log()
            raise AssertionError(f"{self.module} had already exited with {self.process.returncode}:"
                                 f"\n{output}")
        start = time.monotonic()
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self._close_log()
            raise AssertionError(f"{self.module} ignored {signal.Signals(sig).name} for {timeout} s:"
                                 f"\n{self.log()}") from None
        elapsed = time.monotonic() - start
        self._close_log()
        if code != 0:
            raise AssertionError(f"{self.module} exited with {code} after {signal.Signals(sig).name}:"
                                 f"\n{self.log()}")
        return elapsed

    def kill(self) -> None:
        if self.running():
            self.process.kill()
            self.process.wait()
        self._close_log()


@contextmanager
def started_node(module: str, **kwargs) -> Iterator[NodeProcess]:
    """Start a node for the duration of a `with` block; it must stop cleanly on SIGINT."""
    node = NodeProcess(module, **kwargs)
    try:
        yield node
        node.stop()
    finally:
        node.kill()


def spin_until(node, condition: Callable[[], bool], timeout: float, executor=None) -> bool:
    """Spin `node` (in its own context) until `condition()` holds or `timeout` seconds pass."""
    import rclpy

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if executor is not None:
            executor.spin_once(timeout_sec=0.02)
        else:
            rclpy.spin_once(node, timeout_sec=0.02)
    return condition()

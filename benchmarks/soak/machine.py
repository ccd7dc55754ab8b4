"""The machine the soak runs on, accounted for: CPU shares from /proc (the node, the probe, the rest
of the machine, steal), a fixed computation's time (the machine's speed) and the node's models
timed in a fresh process beside it (soak_reference.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BENCHMARKS = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


class CpuShares:
    """CPU used per interval, in cores, from /proc: the node's process, this process (the probe),
    the rest of the machine, and steal (time the hypervisor gave to other guests). A latency
    that moves with 'other' or 'steal' is the machine, not the node."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.last = self._read()

    def _read(self) -> tuple[float, ...]:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (
            int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
        process = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        own = os.times()
        return (time.monotonic(), user + nice + system + irq + softirq, steal,
                int(process[11]) + int(process[12]), (own.user + own.system) * TICKS)

    def interval(self) -> dict[str, float]:
        """Cores used since the last call: node, probe, other, steal."""
        now, then = self._read(), self.last
        self.last = now
        busy, steal, node, probe = ((a - b) / TICKS / max(now[0] - then[0], 1e-6) for a, b in zip(now[1:], then[1:]))
        return {"node": node, "probe": probe, "other": max(busy - node - probe, 0.0), "steal": steal}


REFERENCE = np.random.default_rng(0).random(300_000)


def reference_ms() -> float:
    """The machine's speed, as the time of one fixed single-threaded computation in the probe."""
    start = time.perf_counter()
    np.sort(REFERENCE, kind="quicksort")
    return 1000 * (time.perf_counter() - start)


class MachineReference:
    """The node's models timed in a fresh process (benchmarks/soak_reference.py), started in the
    background while the soak runs; `poll()` collects each result into the minute it started in."""

    def __init__(self, size: str) -> None:
        self.size = size
        self.process: subprocess.Popen | None = None
        self.minute = -1
        self.results: dict[int, float] = {}  # minute -> fresh models' median (ms)
        self.failures: list[str] = []

    def start(self, minute: int) -> None:
        if self.process is not None:  # the last one is still running: skip this minute
            return
        self.minute = minute
        self.process = subprocess.Popen([sys.executable, "soak_reference.py", "--size", self.size],
                                        cwd=BENCHMARKS, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)

    def poll(self) -> None:
        if self.process is None or self.process.poll() is None:
            return
        out, err = self.process.communicate()
        try:
            self.results[self.minute] = float(json.loads(out.strip().splitlines()[-1])["models_ms"])
        except (ValueError, IndexError, KeyError):
            self.failures.append(f"minute {self.minute + 1}: exit {self.process.returncode}: {err.strip()[-300:]}")
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.communicate()
            self.process = None


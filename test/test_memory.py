"""The node's resident memory and the heap trimmer (rgbt_perception/diagnostics/memory.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rgbt_perception.diagnostics.memory import resident_bytes


def test_resident_bytes_is_this_processs_resident_set():
    vm_rss = next(int(line.split()[1]) * 1024 for line in Path("/proc/self/status").read_text().splitlines()
                  if line.startswith("VmRSS:"))
    assert abs(resident_bytes() - vm_rss) < 0.1 * vm_rss


HEAP_BURST = """
from rgbt_perception.diagnostics.memory import HeapTrimmer, resident_bytes

trimmer = HeapTrimmer(slack_mb=20, min_interval=0.0)
assert trimmer.maybe_trim() is False  # the first call sets the baseline
# 75 MB of heap in 64 KB chunks (below the mmap threshold), each followed by a block that stays
# alive (1 KB: from glibc, not pymalloc): the freed chunks are holes glibc keeps, as after a
# burst of large frames.
burst, keep = [], []
for _ in range(1200):
    burst.append(bytearray(b"x" * (64 * 1024)))
    keep.append(bytearray(b"k" * 1024))
del burst
before = resident_bytes()
assert trimmer.maybe_trim() is True and trimmer.trims == 1
assert before - resident_bytes() > 30 * 2**20, (before, resident_bytes())  # back to the OS
assert trimmer.maybe_trim() is False  # steady state: nothing to do, no cost
spaced = HeapTrimmer(slack_mb=0, min_interval=3600.0)
spaced.maybe_trim()
spaced.last_trim = __import__("time").monotonic()  # just trimmed: the next one waits an hour
burst = [bytearray(b"x" * (64 * 1024)) for _ in range(200)]
assert spaced.maybe_trim() is False
print("ok", len(keep))
"""


def test_heap_is_trimmed_after_a_burst_and_not_in_steady_state():
    """In a fresh process: this one's heap already has free holes from earlier tests."""
    result = subprocess.run([sys.executable, "-c", HEAP_BURST], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "ok 1200" in result.stdout, result.stderr

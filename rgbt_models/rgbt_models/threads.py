"""The CPU thread policy of every process of the project (node, replay, train, eval, export,
benchmarks, tests).

Why: PyTorch's CPU kernels run in OpenMP parallel regions that end in a barrier. With the
default policy (one thread per core, threads spinning at the barrier) a region on a shared CPU
waits for a thread the kernel has pre-empted in favour of another process, while its partner
burns its own time slice spinning; every one of the thousands of regions in a forward pass then
costs a scheduler time slice. Measured on a 2-core machine with two busy processes beside it:
SAMSOD-demo 5.7 s per frame instead of 47 ms (see benchmarks/bench_load.py and the README).

The policy:
- OMP_WAIT_POLICY=PASSIVE: a thread that waits sleeps at once instead of spinning. libgomp reads
  it once, when the library loads (at `import torch`), so `prepare_environment` must run before
  torch is imported: every entry point calls it first (console scripts parse their arguments
  before importing torch; the node and the test suites call it at the top of their modules).
- intra-op threads = `threads`; "auto" = half the CPUs this process may run on (at least 1):
  the other half is left to the drivers, SLAM and planners that share a robot's CPU. On 2 cores
  that is 1 thread, which never waits at a barrier at all.
- inter-op threads = 1: the models run one operator after another; a second pool only competes.

A variable the user already set is never overridden.
"""

from __future__ import annotations

import os
import sys

WAIT_POLICY = "PASSIVE"
THREADS_HELP = "intra-op CPU threads: a number, or auto (half the CPUs this process may use, at least 1)"


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_threads(threads: int | str | None) -> int:
    """'auto'/None/0 -> half the available CPUs (at least 1); a number -> itself (at least 1)."""
    if threads in (None, "", "auto", 0, "0"):
        return max(1, available_cpus() // 2)
    try:
        value = int(threads)
    except (TypeError, ValueError) as error:
        raise ValueError(f"threads must be a positive number or 'auto', got {threads!r}") from error
    if value < 1:
        raise ValueError(f"threads must be a positive number or 'auto', got {threads!r}")
    return value


def prepare_environment(threads: int | str | None = None) -> None:
    """Set the OpenMP environment before torch is imported (a user's own settings win)."""
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)
    count = str(resolve_threads(threads if threads is not None else os.environ.get("RGBT_THREADS")))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, count)


def apply(threads: int | str | None = None) -> dict:
    """Apply the policy to torch (importing it) and return what is in force, for the start-up log.
    `threads` None keeps what the environment says (OMP_NUM_THREADS, else auto)."""
    late = "torch" in sys.modules and "OMP_WAIT_POLICY" not in os.environ
    prepare_environment(threads)
    import torch

    count = resolve_threads(threads if threads is not None else os.environ.get("OMP_NUM_THREADS"))
    torch.set_num_threads(count)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or inter-op work has started: keep what is there
        pass
    return {"intra_op_threads": torch.get_num_threads(), "inter_op_threads": torch.get_num_interop_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "") + (" (too late: torch was imported first)"
                                                                         if late else ""),
            "cpus": available_cpus()}


def describe(policy: dict) -> str:
    return (f"threads: {policy['intra_op_threads']} intra-op, {policy['inter_op_threads']} inter-op, "
            f"OMP_WAIT_POLICY={policy['omp_wait_policy']}, {policy['cpus']} CPUs available")

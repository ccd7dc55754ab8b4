"""The CPU thread policy of every process of the project (node, replay, train, eval, export,
benchmarks, tests).

Why: PyTorch's CPU kernels run in OpenMP parallel regions that end in a barrier. With the
default policy (one thread per core, threads spinning at the barrier) a region on a shared CPU
waits for a thread the kernel has pre-empted in favour of another process, while its partner
burns its own time slice spinning; every one of the thousands of regions in a forward pass then
costs a scheduler time slice (docs/performance.md, "Inference beside other processes", has the
figures; benchmarks/bench_load.py measures them).

The policy:
- OMP_WAIT_POLICY=PASSIVE: a thread that waits sleeps at once instead of spinning. libgomp reads
  it once, when the library loads (at `import torch`), so it must be in the environment before
  torch is imported: importing `rgbt_models` (or `rgbt_perception`) sets it, and every entry
  point imports one of them before torch.
- intra-op threads = `threads` (node parameter, --threads on every command line), applied with
  torch.set_num_threads at start-up; "auto" = half the CPUs this process may run on (at least 1):
  the other half is left to the drivers, SLAM and planners that share a robot's CPU. On 2 cores
  that is 1 thread, which never waits at a barrier at all.
- inter-op threads = 1: the models run one operator after another; a second pool only competes.

A variable the user already set is never overridden.
"""

from __future__ import annotations

import argparse
import contextlib
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


_POLICY_BEFORE_TORCH: bool | None = None  # whether the wait policy was in the environment before torch loaded


def argument(value: str) -> int:
    """argparse type of --threads."""
    try:
        return resolve_threads(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def prepare_environment() -> None:
    """OMP_WAIT_POLICY=PASSIVE (unless the user set one), to be called before torch is imported.
    `import rgbt_models` and `import rgbt_perception` call it, so every entry point of the project
    is covered (console scripts, python -m, torchrun, the node, benchmarks, tests)."""
    global _POLICY_BEFORE_TORCH
    if _POLICY_BEFORE_TORCH is None:
        _POLICY_BEFORE_TORCH = "torch" not in sys.modules or "OMP_WAIT_POLICY" in os.environ
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)


def apply(threads: int | str | None = None) -> dict:
    """Apply the thread counts to torch and return what is in force, for the start-up log.
    `threads`: a number, or auto/None/0 (half the available CPUs, at least 1)."""
    prepare_environment()
    import torch

    torch.set_num_threads(resolve_threads(threads))
    with contextlib.suppress(RuntimeError):  # already set, or inter-op work has started: keep it
        torch.set_num_interop_threads(1)
    wait = os.environ["OMP_WAIT_POLICY"] + ("" if _POLICY_BEFORE_TORCH else " (not in force: torch was imported first)")
    return {"intra_op_threads": torch.get_num_threads(), "inter_op_threads": torch.get_num_interop_threads(),
            "omp_wait_policy": wait, "cpus": available_cpus()}


def describe(policy: dict) -> str:
    return (f"threads: {policy['intra_op_threads']} intra-op, {policy['inter_op_threads']} inter-op, "
            f"OMP_WAIT_POLICY={policy['omp_wait_policy']}, {policy['cpus']} CPUs available")

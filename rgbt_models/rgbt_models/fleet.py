"""Ray, for work that outgrows one machine: connecting to (or starting) a cluster, and running
work items on long-lived actors that survive a worker's death. Ray is optional
(requirements/fleet.txt) and imported only here, only when asked for.

A private local cluster (no --address) has Ray's usage statistics off and its authentication
token in the processes' memory (nothing is written to ~/.ray); Ray writes only its session logs
under the temp dir. A worker process that dies is restarted and its item run again, up to
RETRIES times (Ray's actor restarts and task retries); each item's result is taken once.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass

ENGINES = ("serial", "ray")
RAY_MISSING = ("--engine ray needs Ray, which is not installed: pip install -r requirements/fleet.txt "
               "(or pip install 'ray>=2.40'); --engine serial needs nothing more")
RETRIES = 3  # restarts of a dead worker, and re-runs of its item


class FleetError(RuntimeError):
    """The engine cannot run (Ray missing, a cluster that cannot be reached)."""


@dataclass(frozen=True)
class EngineOptions:
    engine: str = "serial"
    address: str | None = None  # Ray: None starts a local cluster; "auto", "ray://head:10001", ...
    workers: int = 2
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    progress: bool = True


def add_engine_arguments(parser, what: str) -> None:
    """--engine, --address, --workers, --cpus-per-worker, --gpus-per-worker (docs/fleet.md)."""
    group = parser.add_argument_group("on many machines (docs/fleet.md)")
    group.add_argument("--engine", choices=ENGINES, default="serial",
                       help="serial: this process (the reference); ray: Ray workers, a local cluster unless --address")
    group.add_argument("--address", help="--engine ray: the cluster to join (auto, ray://head:10001, host:6379)")
    group.add_argument("--workers", type=int, default=2, help=f"--engine ray: workers (each loads {what} once)")
    group.add_argument("--cpus-per-worker", type=float, default=1.0,
                       help="--engine ray: CPUs per worker (also its intra-op threads)")
    group.add_argument("--gpus-per-worker", type=float, default=0.0, help="--engine ray: GPUs per worker")


def engine_options(args) -> EngineOptions:
    return EngineOptions(args.engine, args.address, args.workers, args.cpus_per_worker, args.gpus_per_worker,
                         not getattr(args, "no_progress", False))


def connect(options: EngineOptions) -> bool:
    """Connect to (or start) the Ray cluster; True when this call started it (and must shut it down)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    private = not options.address and not any(k in os.environ for k in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH",
                                                                         "RAY_AUTH_MODE"))
    if private:  # set before Ray is imported: it reads them once
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)  # in memory: the cluster's processes inherit it
    imported_before = "ray" in sys.modules
    try:
        import ray
    except ImportError:
        raise FleetError(RAY_MISSING) from None
    if ray.is_initialized():
        return False
    if private and imported_before:  # Ray read its auth mode at import: refresh it, as Ray's own set-up does
        from ray._raylet import Config

        Config.initialize("")
    if options.address:
        try:
            ray.init(address=options.address, log_to_driver=False)
        except Exception as error:  # ConnectionError, a refused token, ...
            raise FleetError(f"cannot reach the Ray cluster at {options.address}: {error}") from error
        return True
    ray.init(num_cpus=max(1, round(options.workers * options.cpus_per_worker)),
             num_gpus=round(options.workers * options.gpus_per_worker), include_dashboard=False,
             log_to_driver=False)
    return True


def run_on_ray(items: list, worker_class: type, worker_args: tuple, options: EngineOptions,
               on_done: Callable[[object, object], None], on_failure: Callable[[object, str], None]) -> None:
    """Every item through `worker_class(*worker_args).run(item)` on up to `options.workers` actors;
    `on_done(item, result)` once per item as it finishes, `on_failure(item, reason)` for an item
    whose worker died more often than it may restart (the run goes on with a new worker)."""
    import ray

    started = connect(options)
    try:
        actor = ray.remote(worker_class).options(num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker,
                                                  max_restarts=RETRIES, max_task_retries=RETRIES)
        waiting = list(items)
        running = {}
        for _ in range(min(options.workers, len(items))):
            worker = actor.remote(*worker_args)
            item = waiting.pop(0)
            running[worker.run.remote(item)] = (worker, item)
        while running:
            (done,), _ = ray.wait(list(running), num_returns=1)
            worker, item = running.pop(done)
            try:
                result = ray.get(done)
            except ray.exceptions.RayError as error:
                on_failure(item, f"its worker failed {RETRIES + 1} times: {type(error).__name__}: "
                                 f"{str(error).strip().splitlines()[0][:200]}")
                worker = actor.remote(*worker_args)
            else:
                on_done(item, result)
            if waiting:
                item = waiting.pop(0)
                running[worker.run.remote(item)] = (worker, item)
    finally:
        if started:
            ray.shutdown()

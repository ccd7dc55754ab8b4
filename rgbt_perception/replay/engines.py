"""What runs the shards: this process (serial, the reference and the robot's path) or Ray.

Both hand every shard to `run_shard` on a pipeline built once per worker, and report each
finished shard to `on_done` (which writes its part to the output folder, so that --resume can
skip it after the driver itself was killed). With Ray, each worker is a long-lived actor that
loads the models once and opens the bags itself: paths go in, rows and metric state come out,
no image crosses the object store. A worker process that dies is restarted and its shard run
again (Ray's actor restarts and task retries); its result is taken once, so nothing is counted
twice. Ray starts a private local cluster unless --address names one; its usage statistics are
off, and a local cluster's authentication token is held in memory (nothing is written to ~/.ray).
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass

from tqdm import tqdm

from rgbt_perception.replay.shard import ReplaySettings, Shard, ShardResult, run_shard

ENGINES = ("serial", "ray")
RAY_MISSING = ("--engine ray needs Ray, which is not installed: pip install -r requirements/fleet.txt "
               "(or pip install 'ray>=2.40'); --engine serial needs nothing more")
RETRIES = 3  # restarts of a dead worker, and re-runs of its shard


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


class ReplayWorker:
    """Loads the models once (the node's pipeline factory) and runs shards on them."""

    def __init__(self, params: dict, settings: ReplaySettings, threads: int | None) -> None:
        from rgbt_perception.model_loading import build_pipeline

        self.settings = settings
        self.pipeline = build_pipeline(params, lambda text: print(f"rgbt-replay worker: {text}", flush=True),
                                       threads=threads)

    def run(self, shard: Shard) -> ShardResult:
        return run_shard(self.pipeline, shard, self.settings)


def run_shards(shards: list[Shard], params: dict, settings: ReplaySettings, options: EngineOptions,
               on_done: Callable[[ShardResult], None], threads: int | None = None, sinks=None,
               worker_class: type = ReplayWorker) -> None:
    """Every shard through the chosen engine; `on_done` gets each result once, as it finishes."""
    bar = tqdm(total=len(shards), desc="rgbt-replay", unit="shard", disable=None if options.progress else True)
    try:
        if options.engine == "serial":
            worker = worker_class(params, settings, threads)
            for shard in shards:
                on_done(run_shard(worker.pipeline, shard, settings, sinks))
                bar.update()
        else:
            run_on_ray(shards, params, settings, options, lambda result: (on_done(result), bar.update()),
                       worker_class)
    finally:
        bar.close()


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


def run_on_ray(shards: list[Shard], params: dict, settings: ReplaySettings, options: EngineOptions,
               on_done: Callable[[ShardResult], None], worker_class: type) -> None:
    import ray

    started = connect(options)
    try:
        actor = ray.remote(worker_class).options(num_cpus=options.cpus_per_worker, num_gpus=options.gpus_per_worker,
                                                  max_restarts=RETRIES, max_task_retries=RETRIES)
        threads = max(1, int(options.cpus_per_worker))
        waiting = list(shards)
        running = {}
        for _ in range(min(options.workers, len(shards))):
            worker = actor.remote(params, settings, threads)
            shard = waiting.pop(0)
            running[worker.run.remote(shard)] = (worker, shard)
        while running:
            (done,), _ = ray.wait(list(running), num_returns=1)
            worker, shard = running.pop(done)
            try:
                on_done(ray.get(done))
            except ray.exceptions.RayError as error:  # the worker died more often than it may restart
                on_done(ShardResult(shard, error=f"its worker failed {RETRIES + 1} times: {type(error).__name__}: "
                                                 f"{str(error).strip().splitlines()[0][:200]}"))
                worker = actor.remote(params, settings, threads)
            if waiting:
                shard = waiting.pop(0)
                running[worker.run.remote(shard)] = (worker, shard)
    finally:
        if started:
            ray.shutdown()

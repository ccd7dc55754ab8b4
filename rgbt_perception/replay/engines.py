"""What runs rgbt-replay's shards: this process (serial, the reference and the robot's path) or
Ray (rgbt_models/fleet.py: the cluster, the actors, retries).

Both hand every shard to `run_shard` on a pipeline built once per worker, and report each
finished shard to `on_done` (which writes its part to the output folder, so that --resume can
skip it after the driver itself was killed). On Ray each worker is a long-lived actor that loads
the models once and opens the bags itself: paths go in, rows and metric state come out, no image
crosses the object store.
"""

from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm

from rgbt_models.fleet import EngineOptions, run_on_ray
from rgbt_perception.replay.shard import ReplaySettings, Shard, ShardResult, run_shard


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
            def done(_, result: ShardResult) -> None:
                on_done(result)
                bar.update()

            def failed(shard: Shard, reason: str) -> None:
                on_done(ShardResult(shard, error=reason))
                bar.update()

            worker_args = (params, settings, max(1, int(options.cpus_per_worker)))
            run_on_ray(shards, worker_class, worker_args, options, done, failed)
    finally:
        bar.close()

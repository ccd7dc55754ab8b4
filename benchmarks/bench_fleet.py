"""rgbt-replay over 8 bags: one process (--engine serial, 2 intra-op threads, and 1) against Ray
with 2 workers of 1 CPU each (a private local cluster started by the run), and what Ray's start
costs.

Interleaved rounds (serial, serial with 1 thread, Ray, again ...), medians. The bags are synthetic drives
(rgbt_models.data.drive) with test-size models at 192x256 with random weights: the figures say
how the engines compare on this machine, not what a real model costs. Ray's start-up is measured
alone: ray.init of a local cluster, two actors that each load the models, their first answer.
Ray's summary must equal the serial run's at the same threads per process (1) once timings are
left out; the 2-thread run may differ in a few pixels (the thread count changes the order of
floating-point sums).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import apply_threads, bench_arguments, print_table

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def write_bags(folder: Path, count: int, seconds: float) -> list[str]:
    from rgbt_models.data.drive import DriveConfig, write_drive_bag

    bags = []
    for index in range(count):
        bag = folder / f"drive_{index}"
        write_drive_bag(bag, DriveConfig(seconds=seconds, fps=10, height=192, width=256, dropout=None, seed=index),
                        "mcap" if index % 2 == 0 else "sqlite3")
        bags.append(str(bag))
    return bags


def startup_seconds(params_args: list[str]) -> float:
    """A local cluster, two model-loading actors, their first answer (then shut down)."""
    import ray

    from rgbt_models.fleet import EngineOptions, connect
    from rgbt_perception.parameters import load_parameter_file
    from rgbt_perception.replay.cli import parse_args, parse_overrides
    from rgbt_perception.replay.engines import ReplayWorker
    from rgbt_perception.replay.shard import ReplaySettings

    args = parse_args(["unused", *params_args])
    params = load_parameter_file(args.config or "config/rgbt.yaml", parse_overrides(args.param))
    settings = ReplaySettings.from_arguments(args, params, None)
    start = time.perf_counter()
    connect(EngineOptions("ray", workers=2))
    actor = ray.remote(ReplayWorker).options(num_cpus=1)
    workers = [actor.remote(params, settings, 1) for _ in range(2)]
    ray.get([w.__ray_ready__.remote() for w in workers])
    seconds = time.perf_counter() - start
    ray.shutdown()
    return seconds


def run(engine: str, bags: list[str], common: list[str], out: Path) -> float:
    from rgbt_perception.replay import main as replay

    extra = {"ray": ["--engine", "ray", "--workers", "2", "--cpus-per-worker", "1"], "serial": ["--threads", "2"],
             "serial1": ["--threads", "1"]}[engine]
    start = time.perf_counter()
    code = replay([*bags, *common, *extra, "--output", str(out)])
    if code != 0:
        raise SystemExit(f"rgbt-replay --engine {engine} failed (exit {code})")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bags", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each bag")
    parser.add_argument("--rounds", type=int, default=2)
    bench_arguments(parser)
    args = parser.parse_args(argv)
    apply_threads(args.threads)
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        print("bench_fleet: Ray is not installed (pip install -r requirements/fleet.txt): nothing to compare")
        return 0
    from rgbt_perception.replay.aggregate import without_timings
    from rgbt_perception.testing.node_fixtures import write_test_checkpoints

    folder = Path(tempfile.mkdtemp(prefix="bench_fleet_"))
    bags = write_bags(folder, args.bags, args.seconds)
    common = [*write_test_checkpoints(folder / "ckpt"), "-p", "model_height:=192", "-p", "model_width:=256",
              "--label-topic", "/ground_truth/semantic", "--mask-topic", "/ground_truth/saliency", "--no-video",
              "--overlay-every", "0", "--no-progress"]
    times: dict[str, list[float]] = {"serial": [], "serial1": [], "ray": []}
    for round_index in range(args.rounds):
        for engine in times:
            times[engine].append(run(engine, bags, common, folder / f"{engine}_{round_index}"))
    same = [without_timings(json.loads((folder / f"{e}_0" / "summary.json").read_text())) for e in ("serial1", "ray")]
    for summary in same:
        summary.pop("engine")
    startup = startup_seconds(common)
    frames = json.loads((folder / "serial_0" / "summary.json").read_text())["frames_processed"]
    serial, on_ray = statistics.median(times["serial"]), statistics.median(times["ray"])
    print(f"{args.bags} bags of {args.seconds:g} s (192x256, 10 Hz; {frames} frames), {args.rounds} interleaved "
          f"rounds, {os.cpu_count()} CPUs")
    print_table(["measure", "value"], [
        ["serial, 1 process x 2 threads (s, median)", f"{serial:.1f}"],
        ["serial, 1 process x 1 thread (s, median)", f"{statistics.median(times['serial1']):.1f}"],
        ["Ray, 2 workers x 1 CPU, local cluster started by the run (s, median)", f"{on_ray:.1f}"],
        ["speed-up of Ray over serial", f"x{serial / on_ray:.2f}"],
        ["Ray start-up: cluster + 2 actors loading the models (s)", f"{startup:.1f}"],
        ["Ray without its start-up (s)", f"{on_ray - startup:.1f}"],
        ["Ray's summary equals serial's at 1 thread (timings left out)", "yes" if same[0] == same[1] else "NO"],
    ])
    return 0 if same[0] == same[1] else 1


if __name__ == "__main__":
    sys.exit(main())

"""Frame time on a shared CPU: SAMSOD + SARTM at 640x512, quiet and beside 1 and 2 busy processes,
on PyTorch and on ONNX Runtime (runtime: onnxruntime).

Each thread policy runs in its own process (the OpenMP wait policy only takes effect before
torch is imported). The benchmark starts the competing load itself (`python -c 'while True:
pass'`, as a driver or SLAM node would keep a core busy) and interleaves everything round by
round: for each round, for each load level, one frame per policy; so a change of machine load
between phases cannot bias one variant. Prints median frame time per policy and load, and
loaded/quiet ratios. Target for the project's default policy: <= 1.5x quiet with one busy
process, <= 3x with two. A frame that takes longer than --cap seconds ends that policy's
measurement (a collapse), reported as "> cap".

Usage: python benchmarks/bench_load.py [--size tiny] [--rounds 3] [--cap 60]
       (--size test: the micro backbone, seconds instead of minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
# name: (environment, threads argument). "torch" = PyTorch's own defaults untouched (one thread
# per CPU; libgomp spins 300k rounds at a barrier before it sleeps), "cpus" = one per CPU.
# The last two run the models as ONNX Runtime int8 sessions (runtime: onnxruntime, precision: int8):
# with the project's policy applied to the sessions, and with onnxruntime's own defaults (one
# thread per physical core, spinning at its barriers).
POLICIES = {
    "project default": ({}, "auto"),
    "PyTorch default (no policy)": ({}, "torch"),
    "1 per CPU, passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, "cpus"),
    # libgomp: GOMP_SPINCOUNT, when given, sets the spin before sleeping (about 100k per ms)
    "1 per CPU, short spin (GOMP_SPINCOUNT=10000)": ({"GOMP_SPINCOUNT": "10000"}, "cpus"),
    "1 thread, passive": ({"OMP_WAIT_POLICY": "PASSIVE"}, "1"),
    "ONNX Runtime int8, project default": ({}, "auto-onnxruntime"),
    "ONNX Runtime int8, onnxruntime's defaults": ({}, "ortdefault-onnxruntime"),
}
TARGETED = ("project default", "ONNX Runtime int8, project default")
CACHE = HERE.parents[1] / "build" / "onnx-cache"
LOADS = (0, 1, 2)


def onnxruntime_frame(samsod, sartm, rgb, thermal, height: int, width: int, threads: str):
    """One frame of both models as onnxruntime int8 sessions: with the project's session options
    (threads 'auto'), or with onnxruntime's defaults ('ortdefault')."""
    import onnxruntime as ort

    from rgbt_models.runtime.onnx_runtime import CPU, OnnxRuntimeModel

    models = [OnnxRuntimeModel.build(m, height, width, "int8", [CPU], "cpu", CACHE, log=lambda line: None)
              for m in (samsod, sartm)]
    if threads == "ortdefault":
        quiet = ort.SessionOptions()
        quiet.log_severity_level = 3  # only the threads and spinning are left at onnxruntime's defaults
        for model in models:
            model.sessions = {name: ort.InferenceSession(str(path), quiet, providers=[CPU])
                              for name, path in model.graph_paths.items()}
    return lambda: [model.predict(rgb, thermal) for model in models]


def child(size: str, threads: str, height: int, width: int) -> None:
    """Builds the models, says 'ready', then times one frame per line read from stdin."""
    threads, _, runtime = threads.partition("-")
    if threads == "ortdefault":
        policy = {"intra_op_threads": "onnxruntime's own"}
    elif threads == "torch":  # torch before rgbt_models, so that no policy reaches libgomp
        import torch

        policy = {"intra_op_threads": torch.get_num_threads()}
    else:
        from rgbt_models.runtime import threads as thread_policy

        if threads == "cpus":
            threads = str(thread_policy.available_cpus())
        policy = thread_policy.apply(threads)
    import torch

    from rgbt_models.backbone import BackboneConfig
    from rgbt_models.runtime.loading import untrained_model
    from rgbt_models.samsod import SAMSODConfig
    from rgbt_models.sartm import SARTMConfig

    torch.manual_seed(0)
    backbone = BackboneConfig(name=size, image_size=max(height, width) if size != "test" else 128)
    samsod = untrained_model(SAMSODConfig(backbone=backbone))
    sartm = untrained_model(SARTMConfig(backbone=backbone, classes="mfnet", lora_rank=4))
    rgb, thermal = torch.rand(1, 3, height, width), torch.rand(1, 1, height, width)

    onnx = onnxruntime_frame(samsod, sartm, rgb, thermal, height, width, threads) if runtime else None

    def frame() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            if onnx is not None:
                onnx()
            else:
                samsod.predict(rgb, thermal)
                sartm.predict(rgb, thermal)
        return time.perf_counter() - start

    frame()  # warm-up
    print(json.dumps({"ready": True, "threads": policy["intra_op_threads"]}), flush=True)
    for _ in sys.stdin:
        print(json.dumps({"seconds": frame()}), flush=True)


class Worker:
    def __init__(self, name: str, env: dict, threads: str, args) -> None:
        self.name = name
        command = [sys.executable, str(HERE), "--child", "--threads", threads, "--size", args.size,
                   "--height", str(args.height), "--width", str(args.width)]
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")}
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env={**environment, **env})
        self.info = self.read(timeout=600)
        self.samples: dict[int, list[float]] = {load: [] for load in LOADS}
        self.collapsed_at: int | None = None

    def read(self, timeout: float) -> dict | None:
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return None
        line = self.process.stdout.readline()
        return json.loads(line) if line else None

    def measure(self, load: int, cap: float) -> None:
        if self.collapsed_at is not None:
            return
        self.process.stdin.write("frame\n")
        self.process.stdin.flush()
        answer = self.read(cap)
        if answer is None:
            self.collapsed_at = load
            self.process.kill()
            return
        self.samples[load].append(answer["seconds"])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)


def busy(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny", help="backbone size (tiny, small, ..., or test)")
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cap", type=float, default=60.0, help="seconds after which a frame counts as a collapse")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.size, args.threads, args.height, args.width)
        return 0
    from common import print_table

    workers = [Worker(name, env, threads, args) for name, (env, threads) in POLICIES.items()]
    started = time.perf_counter()
    try:
        for _ in range(args.rounds):
            for load in LOADS:
                hogs = busy(load)
                time.sleep(0.5)
                try:
                    for worker in workers:
                        worker.measure(load, args.cap)
                finally:
                    for hog in hogs:
                        hog.kill()
                        hog.wait()
    finally:
        for worker in workers:
            worker.close()
    print(f"SAMSOD + SARTM ({args.size}) at {args.width}x{args.height}, {os.cpu_count()} CPUs, median of "
          f"{args.rounds} rounds (interleaved), {time.perf_counter() - started:.0f} s in all")
    rows, missed = [], []
    for worker in workers:
        medians = {load: statistics.median(s) if s else None for load, s in worker.samples.items()}
        cells = []
        for load in LOADS:
            if medians[load] is None:
                cells.append(f"> {args.cap:.0f} s (collapse)" if worker.collapsed_at is not None else "-")
            else:
                cells.append(f"{1000 * medians[load]:.0f} ms")
        ratios = [f"{medians[load] / medians[0]:.2f}" if medians[load] and medians[0] else "-" for load in (1, 2)]
        rows.append([worker.name, worker.info["threads"] if worker.info else "?", *cells, *ratios])
        if worker.name in TARGETED:
            ok = (medians[1] and medians[2] and medians[0] and medians[1] / medians[0] <= 1.5
                  and medians[2] / medians[0] <= 3.0)
            if not ok:
                missed.append(f"{worker.name}: loaded/quiet above target (1.5x with 1, 3x with 2)")
    print_table(["policy", "threads", "quiet", "1 busy process", "2 busy processes", "ratio 1 busy",
                 "ratio 2 busy"], rows)
    print(f"targets ({' and '.join(TARGETED)}): ratio 1 busy <= 1.5, ratio 2 busy <= 3.0: "
          + (f"MISSED: {'; '.join(missed)}" if missed else "met"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The node's frame time on each runtime: the pipeline (SARTM + SAMSOD, pre- and post-processing)
with PyTorch fp32, PyTorch int8 (`precision: int8`), ONNX Runtime fp32 and ONNX Runtime int8
(`runtime: onnxruntime`), at tiny 512x512 (random weights) and on the demo checkpoints.

The variants run interleaved frame by frame, round by round, with the same thread count, on one
640x512 RGB + 16-bit thermal pair. Prints the median frame time, the speed-up over PyTorch fp32
(median of the per-round ratios, with their range) and the largest saliency-map difference
from PyTorch fp32 (0..255). Target: ONNX Runtime int8 >= 1.8x PyTorch fp32 at tiny.
The graphs are cached in build/onnx-cache (the first run exports them: about a minute at tiny).
Usage: python benchmarks/bench_runtimes.py [--rounds 5] [--skip-tiny] [--skip-demo]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from common import apply_threads, bench_arguments, interleaved_seconds, print_table  # first: thread policy

# isort: split
import numpy as np
import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.runtime import load_model
from rgbt_models.runtime.loading import untrained_model
from rgbt_models.runtime.onnx_runtime import CPU, OnnxRuntimeModel
from rgbt_models.runtime.placement import Runtime
from rgbt_models.samsod import SAMSODConfig
from rgbt_models.sartm import SARTMConfig
from rgbt_perception.pipeline import Pipeline, PipelineConfig

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "build" / "onnx-cache"
TARGET = 1.8
VARIANTS = ("PyTorch fp32", "PyTorch int8", "ONNX Runtime fp32", "ONNX Runtime int8")


def tiny_models() -> tuple:
    torch.manual_seed(0)
    backbone = BackboneConfig(name="tiny", image_size=512)
    return (untrained_model(SARTMConfig(backbone=backbone, classes="mfnet")),
            untrained_model(SAMSODConfig(backbone=backbone)))


def demo_models() -> tuple:
    folder = REPO / "demo" / "checkpoints"
    return load_model(None, folder / "sartm_demo.pt"), load_model(None, folder / "samsod_demo.pt")


def pipelines(make_models, height: int, width: int) -> dict[str, Pipeline]:
    """The four variants, each with its own copy of the models (int8 quantises in place)."""
    config, size = PipelineConfig(), (height, width)
    sartm, samsod = make_models()
    onnx = {precision: [OnnxRuntimeModel.build(m, height, width, precision, [CPU], "cpu", CACHE,
                                               log=lambda line: print(f"  {line}", flush=True))
                        for m in (sartm, samsod)] for precision in ("fp32", "int8")}
    int8 = Runtime(device="cpu", precision="int8").choose()
    return {"PyTorch fp32": Pipeline(config, sartm, samsod, model_size=size),
            "PyTorch int8": Pipeline(config, *(int8.place(m, size) for m in make_models()), model_size=size),
            "ONNX Runtime fp32": Pipeline(config, *onnx["fp32"], model_size=size),
            "ONNX Runtime int8": Pipeline(config, *onnx["int8"], model_size=size)}


def measure(label: str, variants: dict[str, Pipeline], rounds: int) -> tuple[list[list[str]], float]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (512, 640, 3), np.uint8)
    thermal = rng.integers(29000, 31000, (512, 640), np.uint16)
    maps = {name: pipeline.run(rgb, thermal).saliency_map.astype(int) for name, pipeline in variants.items()}
    samples = interleaved_seconds({name: lambda p=pipeline: p.run(rgb, thermal)
                                   for name, pipeline in variants.items()}, rounds)
    base, rows, onnx_int8 = samples["PyTorch fp32"], [], 0.0
    for name, seconds in samples.items():
        ratios = [b / s for b, s in zip(base, seconds)]
        rows.append([label, name, f"{1000 * statistics.median(seconds):.0f}",
                     f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
                     f"{np.abs(maps[name] - maps['PyTorch fp32']).max()}"])
        if name == "ONNX Runtime int8":
            onnx_int8 = statistics.median(ratios)
    return rows, onnx_int8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-tiny", action="store_true")
    parser.add_argument("--skip-demo", action="store_true")
    bench_arguments(parser)
    args = parser.parse_args()
    apply_threads(args.threads)
    rows, reached = [], None
    with torch.inference_mode():
        if not args.skip_tiny:
            print("tiny (random weights) at 512x512: building", flush=True)
            tiny_rows, reached = measure("tiny 512x512", pipelines(tiny_models, 512, 512), args.rounds)
            rows += tiny_rows
        if not args.skip_demo:
            height, width = demo_models()[1].input_size
            print(f"demo checkpoints at {width}x{height} (W x H): building", flush=True)
            rows += measure(f"demo {width}x{height}", pipelines(demo_models, height, width), args.rounds)[0]
    print(f"pipeline frame time (SARTM + SAMSOD, 640x512 RGB + 16-bit thermal in), {torch.get_num_threads()} "
          f"intra-op thread(s), {args.rounds} interleaved rounds, CPU execution provider")
    print_table(["models", "runtime", "frame (ms, median)", "speed-up over PyTorch fp32 (range)",
                 "max |saliency map - PyTorch fp32| (0-255)"], rows)
    if reached is None:
        return 0
    met = reached >= TARGET
    print(f"target ONNX Runtime int8 >= {TARGET}x PyTorch fp32 at tiny: {'met' if met else 'MISSED'} ({reached:.2f}x)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""The CPU int8 path against fp32 eager: SAMSOD and SARTM (tiny, random weights) at 512x512.

Variants, timed interleaved round by round with the same thread count: PyTorch fp32 eager,
PyTorch int8 (dynamic quantisation of every Linear: `precision: int8`), and ONNX Runtime fp32
and int8 (rgbt-export --precision int8). Prints the median time, the speed-up over fp32 eager
(median of per-round ratios) and the largest output difference from fp32. Target: int8 >= 1.6x
faster than fp32 eager (accuracy on trained models: see the demo report).
Usage: python benchmarks/bench_int8.py [--size tiny] [--resolution 512] [--rounds 5] [--no-onnx]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import apply_threads, bench_arguments, interleaved_seconds, print_table  # first: thread policy

# isort: split
import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.quantization import quantize_int8
from rgbt_models.registry import untrained_model
from rgbt_models.samsod import SAMSODConfig
from rgbt_models.sartm import SARTMConfig

TARGET = 1.6


def onnx_variants(model, rgb, thermal, folder: Path) -> dict:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from rgbt_models.export import export_onnx

    fp32 = folder / f"{model.kind}.onnx"
    export_onnx(model, fp32, rgb.shape[2], rgb.shape[3])
    int8 = folder / f"{model.kind}.int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul", "Gemm"])  # the Linear layers, as in PyTorch
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    feeds = {"rgb": rgb.numpy(), "thermal": thermal.numpy()}
    variants = {}
    for name, path in (("ONNX Runtime fp32", fp32), ("ONNX Runtime int8", int8)):
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        variants[name] = lambda s=session: torch.from_numpy(s.run(None, feeds)[0])
    return variants


def outputs_of(model):
    if model.kind == "samsod":
        return model.predict
    return lambda rgb, thermal: model.probabilities(model(rgb, thermal))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-onnx", action="store_true", help="PyTorch variants only")
    bench_arguments(parser)
    args = parser.parse_args()
    apply_threads(args.threads)
    torch.manual_seed(0)
    backbone = BackboneConfig(name=args.size, image_size=args.resolution)
    models = {"SAMSOD": untrained_model(SAMSODConfig(backbone=backbone)),
              "SARTM (MFNet)": untrained_model(SARTMConfig(backbone=backbone, classes="mfnet"))}
    size = args.resolution
    rgb, thermal = torch.rand(1, 3, size, size), torch.rand(1, 1, size, size)
    rows, reached = [], []
    with tempfile.TemporaryDirectory() as folder, torch.inference_mode():
        for label, model in models.items():
            fp32 = outputs_of(model)
            int8 = outputs_of(quantize_int8(model))
            variants = {"PyTorch fp32 eager": lambda f=fp32: f(rgb, thermal),
                        "PyTorch int8 (precision: int8)": lambda f=int8: f(rgb, thermal)}
            if not args.no_onnx:
                variants |= onnx_variants(model, rgb, thermal, Path(folder))
            reference = fp32(rgb, thermal)
            differences = {name: float((fn() - reference).abs().max()) for name, fn in variants.items()}
            samples = interleaved_seconds(variants, args.rounds)
            base = samples["PyTorch fp32 eager"]
            for name, seconds in samples.items():
                ratios = [b / s for b, s in zip(base, seconds)]
                rows.append([label, name, f"{1000 * statistics.median(seconds):.0f}",
                             f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})",
                             f"{differences[name]:.1e}"])
                if name.startswith("PyTorch int8"):
                    reached.append(statistics.median(ratios))
    print(f"int8 against fp32 eager: {args.size} at {args.resolution}x{args.resolution}, random weights, "
          f"{torch.get_num_threads()} threads, {args.rounds} interleaved rounds")
    print_table(["model", "variant", "median (ms)", "speed-up over fp32 eager (range)", "max |output - fp32|"], rows)
    met = all(r >= TARGET for r in reached)
    print(f"target PyTorch int8 >= {TARGET}x fp32 eager: {'met' if met else 'MISSED'} "
          f"({', '.join(f'{r:.2f}x' for r in reached)})")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""rgbt-export --checkpoint FILE --format onnx: export a model's inference graph and check it.

The graph takes rgb (1,3,H,W) and thermal (1,1,H,W) float in [0, 1] and returns SAMSOD's
saliency (1,1,H,W) or SARTM's class probabilities (1,C,H,W). The export is run in
onnxruntime and fails (exit 1) if its outputs differ from PyTorch beyond --tolerance;
median timings of both are printed.

rgbt-export --checkpoint FILE --format onnxruntime [--precision int8] [--height H --width W]
[--cache-dir DIR] [--providers P1,P2]: build the graphs the node runs with runtime: onnxruntime
into its cache ahead of the first start (on the robot, or on a machine with the same onnxruntime
and torch versions: the cache is keyed by them), so that the node's first start builds nothing.

rgbt-export --checkpoint FILE --format checkpoint [--output FILE]: rewrite a checkpoint as a
self-contained one (every weight in the file; what rgbt-train and rgbt-adapt write), e.g.
a version-1 checkpoint that still needs the SAM 2 file it was trained from. Run it where that
file is; the output is what goes to the robot.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rgbt_models.cli.pipes import quiet_on_closed_pipe
from rgbt_models.runtime import threads as thread_policy

# torch and the model code load after the arguments are parsed: --help answers at once.


@quiet_on_closed_pipe
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rgbt-export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--format", default="onnx", choices=("onnx", "onnxruntime", "checkpoint"),
                        help="onnx: an ONNX graph checked in onnxruntime; onnxruntime: the node's graph cache "
                             "(runtime: onnxruntime); checkpoint: a self-contained copy")
    parser.add_argument("--output", help="default: the checkpoint's name with .onnx (onnx) or "
                                         ".deploy.pt (checkpoint)")
    parser.add_argument("--height", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--tolerance", type=float, help="max |onnxruntime - torch| (default 1e-3; int8: 0.05)")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "int8"),
                        help="int8: also write <name>.int8.onnx, quantised dynamically by onnxruntime; with "
                             "--format onnxruntime: the node's precision parameter (fp16: CUDA)")
    parser.add_argument("--cache-dir", help="--format onnxruntime: the node's onnxruntime.cache_dir "
                                            "(default $RGBT_ONNX_CACHE, else ~/.cache/rgbt_perception/onnxruntime)")
    parser.add_argument("--providers", default="CUDAExecutionProvider,CPUExecutionProvider",
                        help="--format onnxruntime: the node's onnxruntime.providers, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default="auto", type=thread_policy.argument, help=thread_policy.THREADS_HELP)
    args = parser.parse_args(argv)
    print(f"rgbt-export: {thread_policy.describe(thread_policy.apply(args.threads))}", file=sys.stderr, flush=True)
    from rgbt_models.checkpoint import CheckpointError
    from rgbt_models.runtime import load_model
    from rgbt_models.runtime.export import check_parity, export_onnx, quantize_onnx_int8

    try:
        model = load_model(None, args.checkpoint)
    except CheckpointError as error:
        print(f"rgbt-export: {error}", file=sys.stderr)
        return 2
    if args.format == "checkpoint":
        return write_self_contained(model, Path(args.checkpoint), args.output)
    size = model.input_size or (model.config.backbone.image_size,) * 2
    height, width = args.height or size[0], args.width or size[1]
    if args.format == "onnxruntime":
        return build_cache(model, height, width, args)
    if args.precision == "fp16":
        print("rgbt-export: --precision fp16 is for --format onnxruntime (onnxruntime's CUDA graph)", file=sys.stderr)
        return 2
    output = Path(args.output or Path(args.checkpoint).with_suffix(".onnx"))
    export_onnx(model, output, height, width, args.opset)
    tolerance = args.tolerance if args.tolerance is not None else (0.05 if args.precision == "int8" else 1e-3)
    if args.precision == "int8":
        fp32_report = check_parity(model, output, height, width, 1e-3, args.repeats)
        int8_output = output.with_suffix(".int8.onnx")
        quantize_onnx_int8(output, int8_output)
        print(f"onnxruntime fp32 {1000 * fp32_report['onnxruntime_s']:.1f} ms; quantised to {int8_output}")
        output = int8_output
    report = check_parity(model, output, height, width, tolerance, args.repeats)
    print(f"exported {model.kind} to {output} ({output.stat().st_size / 1e6:.1f} MB), input {height}x{width} (H x W)")
    print(f"max |onnxruntime - torch| = {report['max_abs_diff']:.2e} (tolerance {tolerance:g})")
    print(f"median time: torch {1000 * report['torch_s']:.1f} ms, onnxruntime {1000 * report['onnxruntime_s']:.1f} ms")
    if not report["ok"]:
        print("rgbt-export: outputs differ beyond tolerance", file=sys.stderr)
        return 1
    return 0


def build_cache(model, height: int, width: int, args) -> int:
    """The node's onnxruntime graphs for this checkpoint, size, precision and providers, cached."""
    import torch

    from rgbt_models.runtime.onnx_runtime import OnnxRuntimeModel, RuntimeUnavailable

    providers = [name.strip() for name in args.providers.split(",") if name.strip()]
    try:
        OnnxRuntimeModel.build(model, height, width, args.precision, providers, "auto", args.cache_dir,
                               torch.get_num_threads(), log=print)
    except (RuntimeUnavailable, ValueError) as error:
        print(f"rgbt-export: {error}", file=sys.stderr)
        return 2
    return 0


def write_self_contained(model, source: Path, output: str | None) -> int:
    """Save `model` (loaded from `source`) as a self-contained checkpoint, its record kept."""
    target = Path(output or source.with_suffix(".deploy.pt"))
    extra = dict(getattr(model, "checkpoint_extra", {}))  # the record the checkpoint carried
    model.save(target, extra={**extra, "converted_from": str(source)})
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB): a self-contained {model.kind} checkpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""rgbt-eval --checkpoint FILE --dataset NAME[:ROOT[:SPLIT]] ...: the papers' tables and plots.

Examples:
  rgbt-eval --checkpoint best.pt --dataset vt821:data/VT821 --dataset vt5000:data/VT5000:Test
  rgbt-eval --checkpoint sartm.pt --dataset mfnet:data/mfnet:test --dataset mfnet:data/mfnet:test_night
  rgbt-eval --checkpoint sartm.pt --dataset synthetic     (the built-in synthetic scenes)
  rgbt-eval --checkpoint mfnet_model.pt --dataset pst900:data/PST900:test --class-mapping pst_to_mfnet.yaml
  rgbt-eval --checkpoint samsod.pt --dataset bag:drive --rgb-topic /cam/rgb/image_raw \
      --thermal-topic /cam/thermal/image_raw --mask-topic /ground_truth/saliency --homography homography.yaml
Writes results.md, results.json and PNG plots (PR and F curves, or confusion matrices) to --output.

Predictions are scored upsampled to each label's native size; the model input size is the one
the checkpoint was trained at (or --height/--width). A SARTM checkpoint whose class list differs
from the data set's is refused unless --class-mapping maps one onto the other. --engine ray
splits each data set into --chunk frames per task over Ray workers (docs/fleet.md): the same
numbers as one process.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rgbt_models.cli.pipes import quiet_on_closed_pipe
from rgbt_models.config import ConfigError
from rgbt_models.data.thermal import POLARITIES, THERMAL_NORMALIZATIONS
from rgbt_models.fleet import add_engine_arguments
from rgbt_models.runtime import threads as thread_policy
from rgbt_models.runtime.devices import DEVICES, PRECISIONS, RUNTIMES

# torch, the data sets and the metrics load after the arguments are parsed: --help answers at once.


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rgbt-eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--dataset", action="append", required=True, help="NAME[:ROOT[:SPLIT]], repeatable")
    parser.add_argument("--output", default="eval_out")
    parser.add_argument("--height", type=int, help="model input height (default: the size the checkpoint was "
                        "trained at, else the data's aspect ratio with the backbone's image_size as long side)")
    parser.add_argument("--width", type=int)
    parser.add_argument("--class-mapping", help="YAML 'mapping: {data-set class: model class | ignore}' (SARTM)")
    parser.add_argument("--thermal-normalization", choices=THERMAL_NORMALIZATIONS,
                        help="default: what the checkpoint was trained with (minmax where it records none)")
    parser.add_argument("--thermal-range", type=float, nargs=2, metavar=("LOW", "HIGH"), help="fixed normalisation")
    parser.add_argument("--thermal-percentiles", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="percentile and stable normalisation")
    parser.add_argument("--thermal-polarity", choices=POLARITIES,
                        help="default: the checkpoint's; black_hot: a camera showing warm objects dark")
    parser.add_argument("--homography", metavar="PARAMS_FILE",
                        help="register the thermal camera as the node does: a params file with thermal.homography "
                             "(rgbt-calibrate's output)")
    bag = parser.add_argument_group("bag data sets (--dataset bag:BAG or bag:FOLDER:BAG_NAME)")
    bag.add_argument("--rgb-topic")
    bag.add_argument("--thermal-topic")
    bag.add_argument("--label-topic", help="SARTM: the ground-truth class-id images")
    bag.add_argument("--mask-topic", help="SAMSOD: the ground-truth saliency masks")
    bag.add_argument("--label-classes", help="the label topic's class list (a classes YAML or a data set's "
                                             "name; default: the model's)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--synthetic-count", type=int, default=32)
    parser.add_argument("--device", default="auto", choices=DEVICES, help="auto: CUDA when available")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS,
                        help="as the node's precision parameter: int8: dynamically quantised Linear layers "
                             "(CPU); fp16/bf16: CUDA (autocast; onnxruntime: its CUDA or TensorRT provider)")
    parser.add_argument("--runtime", default="torch", choices=RUNTIMES,
                        help="onnxruntime: the graphs the node runs with runtime: onnxruntime (built and cached "
                             "as there)")
    parser.add_argument("--providers", default="CUDAExecutionProvider,CPUExecutionProvider",
                        help="--runtime onnxruntime: execution providers in order, comma-separated")
    parser.add_argument("--cache-dir", help="--runtime onnxruntime: folder of the exported graphs "
                                            "(default $RGBT_ONNX_CACHE, else ~/.cache/rgbt_perception/onnxruntime)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (never one off a terminal)")
    parser.add_argument("--threads", default="auto", type=thread_policy.argument, help=thread_policy.THREADS_HELP)
    add_engine_arguments(parser, "the model and the data sets")
    parser.add_argument("--chunk", type=int, help="--engine ray: frames per task (default: each data set in "
                        "about 4 tasks per worker)")
    return parser.parse_args(argv)


@quiet_on_closed_pipe
def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    print(f"rgbt-eval: {thread_policy.describe(thread_policy.apply(args.threads))}", file=sys.stderr, flush=True)
    from rgbt_models.data.datasets import DatasetError
    from rgbt_models.evaluation.core import evaluate
    from rgbt_models.evaluation.inputs import prepare
    from rgbt_models.fleet import FleetError
    from rgbt_models.runtime.loading import ModelLoadError

    try:
        job = prepare(args, runners=args.engine == "serial")
    except (ModelLoadError, ConfigError, DatasetError, ValueError) as error:
        print(f"rgbt-eval: {error}", file=sys.stderr)
        return 2
    model = job.model
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    label = ""
    try:
        if args.engine == "ray":
            from rgbt_models.evaluation.on_ray import evaluate_on_ray

            results = evaluate_on_ray(args, job)
        else:
            results = {}
            for label, dataset, runner in job.sets:
                results[label] = evaluate(runner, dataset, job.placement.device, args.batch_size,
                                          progress=False if args.no_progress else None, description=label,
                                          dtype=job.placement.dtype)
    except (DatasetError, ValueError, FleetError) as error:
        print(f"rgbt-eval: {label + ': ' if label else ''}{error}", file=sys.stderr)
        return 2
    write_outputs(args, model, results)
    return 0


def write_outputs(args, model, results: dict) -> None:
    """results.md (printed too), results.json and the plots in --output."""
    import numpy as np

    from rgbt_models.evaluation.core import markdown_table
    from rgbt_models.metrics.plots import plot_confusion, plot_saliency_curves

    output = Path(args.output)
    table = markdown_table(results, model.kind)
    print(table)
    (output / "results.md").write_text(f"# {Path(args.checkpoint).name}\n\n{table}\n")
    (output / "results.json").write_text(json.dumps(results, indent=1))
    if model.kind == "samsod":
        plots = plot_saliency_curves(results, output)
    else:
        plots = [plot_confusion(np.array(res["confusion_matrix"]), model.classes.names,
                                output / f"confusion_{i}.png", title=label)
                 for i, (label, res) in enumerate(results.items())]
    print(f"wrote {output / 'results.md'}, {output / 'results.json'}, " + ", ".join(str(p) for p in plots))


if __name__ == "__main__":
    sys.exit(main())

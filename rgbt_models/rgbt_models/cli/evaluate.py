"""rgbt-eval --checkpoint FILE --dataset NAME[:ROOT[:SPLIT]] ...: the papers' tables and plots.

Examples:
  rgbt-eval --checkpoint best.pt --dataset vt821:data/VT821 --dataset vt5000:data/VT5000:Test
  rgbt-eval --checkpoint sartm.pt --dataset mfnet:data/MFNet:test --dataset mfnet:data/MFNet:test_night
  rgbt-eval --checkpoint sartm.pt --dataset synthetic     (the built-in synthetic scenes)
Writes results.md, results.json and PNG plots (PR and F curves, or confusion matrices) to --output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from rgbt_models.backbone import CheckpointError
from rgbt_models.data.datasets import DatasetError, open_dataset
from rgbt_models.data.transforms import TransformConfig, TransformedDataset
from rgbt_models.evaluation import evaluate, markdown_table
from rgbt_models.metrics.plots import plot_confusion, plot_saliency_curves
from rgbt_models.registry import load_trained_model


def parse_dataset(spec: str, synthetic_count: int):
    name, _, rest = spec.partition(":")
    root, _, split = rest.partition(":")
    if name == "synthetic":
        return f"synthetic[{synthetic_count}]", open_dataset("synthetic", count=synthetic_count, first_seed=2_000_000)
    label = f"{name}" + (f" ({split})" if split else "")
    return label, open_dataset(name, root or None, split or None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rgbt-eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--dataset", action="append", required=True, help="NAME[:ROOT[:SPLIT]], repeatable")
    parser.add_argument("--output", default="eval_out")
    parser.add_argument("--height", type=int, help="model input height (default: the backbone's image_size)")
    parser.add_argument("--width", type=int)
    parser.add_argument("--thermal-normalization", default="minmax", choices=("fixed", "minmax", "percentile"))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--synthetic-count", type=int, default=32)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    try:
        model = load_trained_model(args.checkpoint, args.device)
        size = model.config.backbone.image_size
        transform = TransformConfig(height=args.height or size, width=args.width or size, train=False,
                                    thermal_normalization=args.thermal_normalization)
        sets = [parse_dataset(spec, args.synthetic_count) for spec in args.dataset]
    except (CheckpointError, DatasetError, ValueError) as error:
        print(f"rgbt-eval: {error}", file=sys.stderr)
        return 2
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    results = {}
    for label, dataset in sets:
        results[label] = evaluate(model, TransformedDataset(dataset, transform), args.device, args.batch_size)
    table = markdown_table(results, model.kind)
    print(table)
    (output / "results.md").write_text(f"# {Path(args.checkpoint).name}\n\n{table}\n")
    (output / "results.json").write_text(json.dumps(results, indent=1))
    if model.kind == "samsod":
        plots = plot_saliency_curves(results, output)
    else:
        plots = [plot_confusion(np.array(res["confusion_matrix"]), model.classes.names,
                                output / f"confusion_{i}.png") for i, res in enumerate(results.values())]
    print(f"wrote {output / 'results.md'}, {output / 'results.json'}, " + ", ".join(str(p) for p in plots))
    return 0


if __name__ == "__main__":
    sys.exit(main())

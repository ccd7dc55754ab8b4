"""What rgbt-eval evaluates: the model and the data sets its arguments name, with the thermal
set-up and the runtime they ask for; built the same way in rgbt-eval's process and in each of
its Ray workers (evaluation_on_ray.py)."""

from __future__ import annotations

import sys


def parse_dataset(spec: str, synthetic_count: int):
    from rgbt_models.data.datasets import open_dataset

    name, _, rest = spec.partition(":")
    root, _, split = rest.partition(":")
    if name == "synthetic":
        return f"synthetic[{synthetic_count}]", open_dataset("synthetic", count=synthetic_count, first_seed=2_000_000)
    label = f"{name}" + (f" ({split})" if split else "")
    return label, open_dataset(name, root or None, split or None)


def prepare(args, runners: bool = True):
    """(the model, [(label, TransformedDataset, runner)]) as --checkpoint, --dataset and the
    options ask; runner None unless `runners` (a Ray driver needs only the model's kind and the
    data sets' sizes: its workers build their own). Raises what a bad argument or file raises."""
    from rgbt_models.data.transforms import TransformConfig, TransformedDataset
    from rgbt_models.devices import resolve_device
    from rgbt_models.evaluation import check_dataset, input_size_for
    from rgbt_models.quantization import quantize_int8
    from rgbt_models.registry import load_trained_model

    args.requested_device = getattr(args, "requested_device", args.device)  # onnxruntime: its own providers
    args.device, reason = resolve_device(args.device)
    if args.requested_device == "cuda" and args.device == "cpu":
        print(f"rgbt-eval: {reason}", file=sys.stderr, flush=True)
    model = load_trained_model(args.checkpoint, args.device if args.runtime == "torch" else "cpu")
    if args.precision == "int8" and args.runtime == "torch":
        if args.device != "cpu":
            raise ValueError("--precision int8 is a CPU path: use --device cpu")
        model = quantize_int8(model, inplace=True)
    thermal = thermal_setup_of(model, args)  # one set-up for every data set
    sets = []
    for spec in args.dataset:
        label, dataset = parse_dataset(spec, args.synthetic_count)
        lookup = check_dataset(model.kind, getattr(model, "classes", None), dataset, label, args.class_mapping)
        height, width = input_size_for(model, dataset, args.height, args.width)
        transform = TransformConfig(height=height, width=width, train=False,
                                    geometry=getattr(model, "input_geometry", None),
                                    **TransformConfig.thermal_fields(thermal))
        print(f"rgbt-eval: {label}: {len(dataset)} frames, model input {width}x{height}, scored at native size",
              flush=True)
        runner = None
        if runners:
            runner = model if args.runtime == "torch" else onnxruntime_runner(model, height, width, args)
        sets.append((label, TransformedDataset(dataset, transform, label_lookup=lookup), runner))
    return model, sets


def thermal_setup_of(model, args):
    """The checkpoint's thermal set-up with the options given on top; a line when they differ."""
    from rgbt_models.data.thermal import ThermalSetup

    trained = getattr(model, "thermal_setup", None)
    setup = (trained or ThermalSetup()).overridden(
        normalization=args.thermal_normalization, range=args.thermal_range, percentiles=args.thermal_percentiles,
        polarity=args.thermal_polarity)
    note = ("as the checkpoint was trained" if setup == trained else "the checkpoint records none" if trained is None
            else f"the checkpoint was trained with {trained.describe()}")
    print(f"rgbt-eval: thermal set-up {setup.describe()} ({note})", file=sys.stderr, flush=True)
    return setup


def onnxruntime_runner(model, height: int, width: int, args):
    """The model as onnxruntime sessions at this input size (cached as the node caches them)."""
    from rgbt_models.onnx_runtime import OnnxRuntimeModel

    providers = [name.strip() for name in args.providers.split(",") if name.strip()]
    return OnnxRuntimeModel.build(model, height, width, args.precision, providers, args.requested_device,
                                  args.cache_dir,
                                  log=lambda text: print(f"rgbt-eval: {text}", file=sys.stderr, flush=True))

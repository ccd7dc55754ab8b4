"""What rgbt-eval evaluates: the model and the data sets its arguments name, with the thermal
set-up and the runtime they ask for; built the same way in rgbt-eval's process and in each of
its Ray workers (evaluation/on_ray.py), and placed by the node's factory (rgbt_models.runtime.placement)."""

from __future__ import annotations

import sys
from dataclasses import dataclass


def say(text: str) -> None:
    print(f"rgbt-eval: {text}", file=sys.stderr, flush=True)


@dataclass
class Evaluation:
    """The loaded model, where its tensors go, and [(label, TransformedDataset, runner)] per data set
    (runner None where not asked for: a Ray driver needs only the model's kind and the sizes)."""

    model: object
    placement: object  # rgbt_models.runtime.placement.Placement
    sets: list


def runtime_of(args):
    """What rgbt-eval's options ask to run the model with (the node's parameters of the same names)."""
    from rgbt_models.runtime.placement import Runtime

    providers = tuple(name.strip() for name in args.providers.split(",") if name.strip())
    return Runtime(args.runtime, args.device, args.precision, providers, args.cache_dir)


def prepare(args, runners: bool = True) -> Evaluation:
    """The model, its placement and the data sets as --checkpoint, --dataset and the options ask.
    Raises what a bad argument or file raises."""
    from rgbt_models.data.datasets import open_spec
    from rgbt_models.data.geometry import model_input_size
    from rgbt_models.data.registration import missing_registration, read_homography
    from rgbt_models.data.transforms import TransformConfig, TransformedDataset
    from rgbt_models.evaluation.core import check_dataset
    from rgbt_models.runtime import load_model

    placement = runtime_of(args).choose()
    say(f"inference device: {placement.device} ({placement.reason})")
    model = load_model(None, args.checkpoint)
    thermal = thermal_setup_of(model, args)  # one set-up for every data set
    homography = read_homography(args.homography) if args.homography else None
    missing = missing_registration(model.kind, getattr(model, "trained_homography", None), homography)
    if missing:
        say(f"{missing}: rgbt-eval's --homography")
    sets, placed = [], {}
    for spec in args.dataset:
        label, dataset = open_spec(spec, synthetic_count=args.synthetic_count, bag_options=bag_options(args))
        lookup = check_dataset(model.kind, getattr(model, "classes", None), dataset, label, args.class_mapping)
        size = model_input_size(model, args.height, args.width, lambda data=dataset: data[0].rgb.shape,
                                source="model input size (--height/--width)")
        transform = TransformConfig(height=size[0], width=size[1], train=False,
                                    geometry=getattr(model, "input_geometry", None), homography=homography,
                                    **TransformConfig.thermal_fields(thermal))
        print(f"rgbt-eval: {label}: {len(dataset)} frames, model input {size[0]}x{size[1]} (H x W), scored at "
              "native size", flush=True)
        key = size if placement.per_size else None
        if runners and key not in placed:
            placed[key] = placement.place(model, size, say)
        sets.append((label, TransformedDataset(dataset, transform, label_lookup=lookup), placed.get(key)))
    return Evaluation(model, placement, sets)


def bag_options(args) -> dict:
    """The topics a `bag:` data set is read with (--rgb-topic ...), those given."""
    given = {"rgb_topic": args.rgb_topic, "thermal_topic": args.thermal_topic, "label_topic": args.label_topic,
             "mask_topic": args.mask_topic, "classes": args.label_classes}
    return {key: value for key, value in given.items() if value}


def thermal_setup_of(model, args):
    """The checkpoint's thermal set-up with the options given on top, and its line."""
    from rgbt_models.data.thermal import setup_line, trained_setup_with

    trained = getattr(model, "thermal_setup", None)
    setup = trained_setup_with(trained, normalization=args.thermal_normalization, range=args.thermal_range,
                               percentiles=args.thermal_percentiles, polarity=args.thermal_polarity)
    say(setup_line(setup, trained))
    return setup

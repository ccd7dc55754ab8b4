"""SAMSOD and SARTM cost over the frozen SAM 2 encoder: tiny at 512x512 on this machine's CPU.

For each model, median seconds of (a) the frozen image encoder on the RGB+thermal pair (one
batch of 2) and (b) the model's full forward (SAMSOD: adapters, fusion, neck, decoder on three
heads; SARTM: LoRA encoder, fusion, both decoding paths), their ratio (targets: SAMSOD <= 1.25,
SARTM <= 1.3), and parameter counts (next to the paper's 32.7 M for SAMSOD-tiny).
Usage: python benchmarks/bench_model_cost.py [--models samsod sartm] [--size tiny] [--resolution 512]
"""

from __future__ import annotations

import argparse
import sys

from common import apply_threads, bench_arguments, model_over_encoder  # first: sets the OpenMP wait policy

# isort: split
import torch

from rgbt_models.backbone import BackboneConfig, SAM2Backbone
from rgbt_models.runtime.loading import untrained_model
from rgbt_models.samsod import SAMSODConfig
from rgbt_models.sartm import SARTMConfig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["samsod", "sartm"], choices=("samsod", "sartm"))
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--classes", default="mfnet", help="SARTM's class list")
    parser.add_argument("--repeats", type=int, default=5)
    bench_arguments(parser)
    args = parser.parse_args()
    apply_threads(args.threads)
    torch.manual_seed(0)
    config = BackboneConfig(name=args.size, image_size=args.resolution)
    frozen = SAM2Backbone(config).eval()
    met = []
    if "samsod" in args.models:
        model = untrained_model(SAMSODConfig(backbone=config))
        met.append(model_over_encoder(f"SAMSOD-{args.size}", frozen, model, args.resolution, args.repeats,
                                      "SAMSOD forward, 3 heads", 1.25, " (paper, tiny: 32.7)"))
    if "sartm" in args.models:
        model = untrained_model(SARTMConfig(backbone=config, classes=args.classes))
        met.append(model_over_encoder(f"SARTM-{args.size}, {args.classes} ({model.classes.num_classes} classes)",
                                      frozen, model, args.resolution, args.repeats, "SARTM forward, both paths", 1.3))
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())

"""SARTM cost over the frozen SAM 2 encoder: tiny at 512x512 on this machine's CPU.

Prints median seconds of (a) the frozen image encoder on the RGB+thermal pair (one batch of
2) and (b) the full SARTM forward (LoRA, fusion of three levels, class decoder and auxiliary
head), their ratio (target <= 1.3) and parameter counts.
Usage: python benchmarks/bench_sartm.py [--size tiny] [--resolution 512] [--classes mfnet] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys

from common import apply_threads, bench_arguments, model_over_encoder  # first: sets the OpenMP wait policy

# isort: split
import torch

from rgbt_models.backbone import BackboneConfig, SAM2Backbone
from rgbt_models.classes import class_list
from rgbt_models.sartm import SARTM, SARTMConfig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--classes", default="mfnet")
    parser.add_argument("--repeats", type=int, default=5)
    bench_arguments(parser)
    args = parser.parse_args()
    apply_threads(args.threads)
    torch.manual_seed(0)
    config = BackboneConfig(name=args.size, image_size=args.resolution)
    frozen = SAM2Backbone(config).eval()
    model = SARTM(SARTMConfig(backbone=config, classes=args.classes),
                  text_embeddings=torch.zeros(class_list(args.classes).num_classes, 1)).eval()
    met = model_over_encoder(f"SARTM-{args.size}, {args.classes} ({model.classes.num_classes} classes)", frozen,
                             model, args.resolution, args.repeats, "SARTM forward, both paths", 1.3)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

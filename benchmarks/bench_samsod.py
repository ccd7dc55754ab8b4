"""SAMSOD cost over the frozen SAM 2 encoder: tiny at 512x512 on this machine's CPU.

Prints median seconds of (a) the frozen image encoder on the RGB+thermal pair (one batch of
2) and (b) the full SAMSOD forward (adapters, fusion, neck, decoder on three heads), their
ratio (target <= 1.25), and parameter counts next to the paper's 32.7 M for SAMSOD-tiny.
Usage: python benchmarks/bench_samsod.py [--size tiny] [--resolution 512] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys

from common import apply_threads, bench_arguments, model_over_encoder  # first: sets the OpenMP wait policy

# isort: split
import torch

from rgbt_models.backbone import BackboneConfig, SAM2Backbone
from rgbt_models.samsod import SAMSOD, SAMSODConfig


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    bench_arguments(parser)
    args = parser.parse_args()
    apply_threads(args.threads)
    torch.manual_seed(0)
    config = BackboneConfig(name=args.size, image_size=args.resolution)
    frozen = SAM2Backbone(config).eval()
    model = SAMSOD(SAMSODConfig(backbone=config)).eval()
    met = model_over_encoder(f"SAMSOD-{args.size}", frozen, model, args.resolution, args.repeats,
                             "SAMSOD forward, 3 heads", 1.25, " (paper, tiny: 32.7)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

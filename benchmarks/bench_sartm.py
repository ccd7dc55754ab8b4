"""SARTM cost over the frozen SAM 2 encoder: tiny at 512x512 on this machine's CPU.

Prints median seconds of (a) the frozen image encoder on the RGB+thermal pair (one batch of
2) and (b) the full SARTM forward (LoRA, fusion of three levels, class decoder and auxiliary
head), their ratio (target <= 1.3) and parameter counts.
Usage: python benchmarks/bench_sartm.py [--size tiny] [--resolution 512] [--classes mfnet] [--repeats 5]
"""

from __future__ import annotations

import argparse

import torch
from common import median_seconds, print_table

from rgbt_models.backbone import BackboneConfig, SAM2Backbone
from rgbt_models.sartm import SARTM, SARTMConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--resolution", type=int, default=512)
    parser.add_argument("--classes", default="mfnet")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = BackboneConfig(name=args.size, image_size=args.resolution)
    frozen = SAM2Backbone(config).eval()
    model = SARTM(SARTMConfig(backbone=config, classes=args.classes),
                  text_embeddings=torch.zeros(9 if args.classes == "mfnet" else 1, 1)).eval()
    rgb = torch.rand(1, 3, args.resolution, args.resolution)
    thermal = torch.rand(1, 1, args.resolution, args.resolution)
    with torch.inference_mode():
        encoder_s = median_seconds(lambda: frozen.image_encoder(torch.cat([rgb, thermal.expand(-1, 3, -1, -1)])),
                                   args.repeats)
        model_s = median_seconds(lambda: model.predict(rgb, thermal), args.repeats)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"SARTM-{args.size}, {args.classes} ({model.classes.num_classes} classes), "
          f"{args.resolution}x{args.resolution}, CPU threads {torch.get_num_threads()}, median of {args.repeats}")
    print_table(["measure", "value"], [
        ["frozen encoder, RGB+T pair (s)", f"{encoder_s:.3f}"],
        ["SARTM forward, both paths (s)", f"{model_s:.3f}"],
        ["ratio (target <= 1.3)", f"{model_s / encoder_s:.2f}"],
        ["parameters total (M)", f"{total / 1e6:.1f}"],
        ["parameters trainable (M)", f"{trainable / 1e6:.2f}"],
    ])


if __name__ == "__main__":
    main()

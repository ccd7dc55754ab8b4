"""Ablations behind the paper-fidelity choices (docs/models.md, deviations from the papers), on
synthetic RGB-T scenes with the test-size models trained end to end on this CPU:

- SAMSOD: the learnable gate on (straight-through counts) against off (the paper's floor(),
  which gives the gate no gradient): S-measure and MAE on held-out scenes, and how far the
  gates moved;
- SARTM: the loss presets (ours, the authors' code, the paper's Table VII weights) and, for
  each trained model, the three inference paths (class decoder, auxiliary head, average):
  mIoU on held-out scenes.

Several seeds per variant; medians and the spread are printed. Prints tables, no target: the
defaults in the code are whichever variant wins here (see the README)."""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from common import apply_threads, bench_arguments, print_table  # first: sets the OpenMP wait policy

# isort: split
import numpy as np
import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.data.synthetic import make_batch
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig
from rgbt_models.sartm.model import LOSS_PRESETS

HEIGHT, WIDTH = 96, 128


def s_measure_and_mae(model: SAMSOD, rgb, thermal, target) -> tuple[float, float]:
    from py_sod_metrics import MAE, Smeasure

    mae, sm = MAE(), Smeasure()
    for pred, gt in zip(model.predict(rgb, thermal), target):
        pred_u8, gt_u8 = (pred[0].numpy() * 255).astype(np.uint8), (gt[0].numpy() * 255).astype(np.uint8)
        mae.step(pred_u8, gt_u8)
        sm.step(pred_u8, gt_u8)
    return float(sm.get_results()["sm"]), float(mae.get_results()["mae"])


def train(model, steps: int, lr: float, targets: str) -> None:
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for step in range(steps):
        rgb, thermal, labels, masks = make_batch(range(step * 4, step * 4 + 4), HEIGHT, WIDTH)
        optimizer.zero_grad(set_to_none=True)
        model.backward(model.losses(model(rgb, thermal), masks if targets == "masks" else labels))
        optimizer.step()
    model.eval()


def samsod_gate(seeds: list[int], steps: int) -> list[list[object]]:
    rgb, thermal, _, masks = make_batch(range(1000, 1024), HEIGHT, WIDTH)
    rows = []
    for gate_learning in (True, False):
        scores, maes, moved = [], [], []
        for seed in seeds:
            torch.manual_seed(seed)
            config = SAMSODConfig(backbone=BackboneConfig(name="test", image_size=128), train_encoder=True)
            config.adapter.gate_learning = gate_learning
            model = SAMSOD(config)
            before = [b.adapter.streams[0].gate.weight.detach().clone() for b in model.backbone.blocks]
            train(model, steps, 2e-3, "masks")
            s, mae = s_measure_and_mae(model, rgb, thermal, masks)
            scores.append(s)
            maes.append(mae)
            moved.append(float(np.mean([(b.adapter.streams[0].gate.weight - w).abs().mean().item()
                                        for b, w in zip(model.backbone.blocks, before)])))
        rows.append([f"gate learning {'on' if gate_learning else 'off (paper floor)'}",
                     f"{statistics.median(scores):.3f} ({min(scores):.3f}-{max(scores):.3f})",
                     f"{statistics.median(maes):.3f}", f"{statistics.median(moved):.2e}"])
    return rows


def miou(ids: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    ious = []
    for c in range(num_classes):
        union = ((ids == c) | (labels == c)).sum().item()
        if union:
            ious.append(((ids == c) & (labels == c)).sum().item() / union)
    return 100 * float(np.mean(ious))


def sartm_presets(seeds: list[int], steps: int) -> list[list[object]]:
    rgb, thermal, labels, _ = make_batch(range(5000, 5024), HEIGHT, WIDTH)
    rows = []
    for preset in sorted(LOSS_PRESETS):
        results: dict[str, list[float]] = {"decoder": [], "aux": [], "average": []}
        for seed in seeds:
            torch.manual_seed(seed)
            config = SARTMConfig.from_dict({"backbone": {"name": "test", "image_size": 128}, "classes": "synthetic",
                                            "lora_rank": 4, "train_encoder": True, "loss": preset})
            model = SARTM(config)
            train(model, steps, 3e-3, "labels")
            with torch.no_grad():
                outputs = model(rgb, thermal)
            for path in results:
                model.config.inference_path = path
                results[path].append(miou(model.probabilities(outputs).argmax(1), labels, model.classes.num_classes))
        rows.append([preset] + [f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})" for v in results.values()])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--samsod-steps", type=int, default=100)
    parser.add_argument("--sartm-steps", type=int, default=140)
    bench_arguments(parser)
    args = parser.parse_args(argv)
    apply_threads(args.threads)
    seeds = list(range(args.seeds))
    start = time.perf_counter()
    print(f"\n## SAMSOD gate (test-size model, {HEIGHT}x{WIDTH}, {args.samsod_steps} steps, seeds {seeds})\n")
    print_table(["variant", "S median (range)", "MAE median", "mean |gate change|"],
                samsod_gate(seeds, args.samsod_steps))
    print(f"\n## SARTM loss presets x inference paths (mIoU %, {args.sartm_steps} steps, seeds {seeds})\n")
    print_table(["loss preset", "decoder path", "auxiliary path", "average"], sartm_presets(seeds, args.sartm_steps))
    print(f"\nbench_fidelity: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

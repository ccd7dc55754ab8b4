"""UUSOD on synthetic RGB-T scenes whose ground truth is never used for training (CPU-sized).

(a) Pseudo-label quality (S, maxF, MAE against the hidden truth) after stage 1 for the
    modality-agnostic and the modality-informed SCE, the informed one with the paper's PCL-SD
    alone and with the authors' three terms (annealed exponent, texture matching, two-view
    consistency), and after each stage-2 epoch without SPR and with each SPR variant (soft
    labels from epoch 2; the authors': maxima, threshold 0.5 and IoU loss from epoch 3): the
    paper's Table 7 ablation. 4 epochs a stage by default, so that the curriculum masks pixels
    in the first epoch (p(1) = 0.05).
(b) Domain transfer: the demo SAMSOD (trained with labels on day and night scenes) adapter-tuned
    without labels on foggy scenes (veiled RGB, a thermal camera with another gain, offset,
    blur and noise) and on black-hot scenes (the thermal camera's polarity inverted); S and MAE
    on held-out target scenes and on the source domain, before and after; first pseudo-labels
    from the model's prediction (heads: sum) or its heads weighted by the boundary prior.
(d) The label-free chain from no pre-trained weights: pretrain (masked image modelling) -> sce
    on the pretrained encoder -> detector (no label anywhere, no supervised checkpoint), its
    stage-1 cues against those on the random encoder, and the detector against the supervised
    demo SAMSOD on the same held-out scenes (target S >= 0.85: reported).
(c) Cost: seconds per epoch of every stage, the refiner's peak memory at a robot's size (batch 8,
    RGB + thermal guidance, 512x640), peak memory of the run, adapter parameters.
Targets: a target domain the source model fails (S < 0.8) gains >= 0.05 S with MAE down; no
target domain loses more than 0.005 S; the source domain loses at most 0.02 S; the recipe
(adapters on every level, source-domain scenes mixed in) ends within 0.05 S of its first
pseudo-labels on black-hot.
Usage: python benchmarks/bench_uusod.py [--samples 48] [--epochs 4]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

from common import apply_threads, bench_arguments, print_table  # first: the thread policy

# isort: split
import torch

from rgbt_models.data.transforms import TransformConfig, TransformedDataset
from rgbt_models.evaluation.core import evaluate
from rgbt_models.runtime.loading import load_model
from rgbt_models.samsod import SAMSOD
from rgbt_models.samsod.domain_adapter import attach_domain_adapter
from rgbt_models.training.config import OptimConfig
from rgbt_models.uusod.config import AdaptConfig, UnlabeledDataConfig
from rgbt_models.uusod.data import open_labelled
from rgbt_models.uusod.runner import run

ROOT = Path(__file__).resolve().parents[1]
DEMO_SAMSOD = ROOT / "demo" / "checkpoints" / "samsod_demo.pt"
BACKBONE = {"name": "demo", "version": "2.1", "checkpoint": None, "image_size": 128}
SOURCE_MARGIN = 0.02  # S the source domain may lose
FAILING_S, GAIN = 0.8, 0.05  # a target domain the source model fails must gain this much S
TOLERANCE = 0.005  # S a target domain the source model already handles may lose (seed noise)
CHAIN_TARGET = 0.85  # S of the label-free chain on held-out scenes (reported, not a pass/fail target here)
LABEL_MARGIN = 0.05  # the recipe (adapters on every level + source scenes) vs its first pseudo-labels


def target_verdict(before: dict, after: dict) -> list[str]:
    """What missed, for one adapted domain (empty: every target met)."""
    missed = []
    if before["target"]["S"] < FAILING_S and not (after["target"]["S"] - before["target"]["S"] >= GAIN
                                                  and after["target"]["MAE"] < before["target"]["MAE"]):
        missed.append(f"target S {before['target']['S']:.3f} -> {after['target']['S']:.3f} (gain < {GAIN})")
    if before["target"]["S"] - after["target"]["S"] > TOLERANCE:
        missed.append(f"target S {before['target']['S']:.3f} -> {after['target']['S']:.3f}")
    if before["source"]["S"] - after["source"]["S"] > SOURCE_MARGIN:
        missed.append(f"source S {before['source']['S']:.3f} -> {after['source']['S']:.3f}")
    return missed


def stage(stage_name: str, output: Path, samples: int, epochs: int, domain: str = "mixed",
          extra_sources: tuple[str, ...] = (), **fields) -> dict:
    config = AdaptConfig(stage=stage_name, output_dir=str(output),
                         data=UnlabeledDataConfig(sources=[f"synthetic:{samples}:0:{domain}", *extra_sources],
                                                  height=128, width=160),
                         train=OptimConfig(epochs=epochs, batch_size=8, lr=fields.pop("lr", 1e-3),
                                           scheduler="constant", seed=0), **fields)
    return run(config, progress=False)


def seconds_per_epoch(summary: dict) -> str:
    return f"{sum(r['seconds'] for r in summary['history']) / len(summary['history']):.1f}"


def refiner_cost() -> str:
    """The refiner (10 iterations) on a robot-sized batch, in its own process (peak RSS above its start)."""
    import subprocess

    script = """
import resource, time, torch
from rgbt_models.uusod.refiner import PixelAffinityRefiner
torch.set_num_threads(1)
guidance, saliency = torch.rand(8, 4, 512, 640), torch.rand(8, 1, 512, 640)
before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
PixelAffinityRefiner()(guidance, saliency)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, time.perf_counter() - start)
"""
    memory, seconds = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                     check=True).stdout.split()
    return f"{float(memory):.0f} / {float(seconds):.1f}"


def quality(record: dict, key: str = "pseudo_labels") -> str:
    q = record.get(key)
    return f"{q['S']:.3f} / {q['maxF']:.3f} / {q['MAE']:.3f}" if q else "-"


def scores(model, spec: str) -> dict:
    dataset = TransformedDataset(open_labelled(spec), TransformConfig(height=128, width=160, train=False))
    results = evaluate(model, dataset, "cpu", 8)
    return {"S": results["S"], "MAE": results["MAE"]}


def stage_one_and_two(out: Path, args) -> tuple[list, list, str]:
    """(a): stage 1 in both SCE modes (the authors' terms), the informed one with PCL-SD alone too;
    stage 2 from the informed SCE with SPR off, soft and the authors' variant. (rows, cost rows,
    the informed SCE's cue quality on the random encoder)."""
    rows, cost, random_cues = [], [], "-"
    paper_only = {"exponent_annealing": False, "texture_weight": 0.0, "consistency_weight": 0.0}
    for name, mode, terms in (("agnostic", "agnostic", {}), ("informed", "informed", {}),
                              ("informed_pcl", "informed", paper_only)):
        summary = stage("sce", out / f"sce_{name}", args.samples, args.epochs,
                        model={"backbone": BACKBONE, "mode": mode}, stage1=terms)
        label = "PCL-SD only (the paper)" if terms else "the authors' three terms"
        rows.append([f"stage 1 SCE, modality-{mode}, {label}", quality(summary["history"][-1]), "-"])
        if name == "informed":
            random_cues = quality(summary["history"][-1])
        cost.append([f"stage 1 SCE ({mode}, {label}), s/epoch", seconds_per_epoch(summary)])
    for spr_name, spr in (("off", {"enabled": False}), ("soft", {"variant": "soft", "start_epoch": 2}),
                          ("authors", {"variant": "authors", "start_epoch": 3})):
        summary = stage("detector", out / f"det_{spr_name}", args.samples, args.epochs,
                        model={"backbone": BACKBONE, "train_encoder": True},
                        cue_checkpoint=str(out / "sce_informed" / "sce.pt"), spr=spr)
        for record in summary["history"]:
            rows.append([f"stage 2 epoch {record['epoch'] + 1}, SPR {spr_name}", quality(record),
                         quality(record, "predictions")])
        cost.append([f"stage 2 (SAMSOD demo size, SPR {spr_name}), s/epoch", seconds_per_epoch(summary)])
    return rows, cost, random_cues


def recipe_verdict(before: dict, after: dict, first_labels: dict) -> list[str]:
    """The black-hot recipe: within LABEL_MARGIN S of its own first labels, the source kept."""
    first = first_labels["S"]
    failures = [] if after["target"]["S"] >= first - LABEL_MARGIN else [
        f"black-hot recipe S {after['target']['S']:.3f} < first labels {first:.3f} - {LABEL_MARGIN}"]
    return failures + ([] if before["source"]["S"] - after["source"]["S"] <= SOURCE_MARGIN else [
        f"black-hot recipe source S {before['source']['S']:.3f} -> {after['source']['S']:.3f}"])


def domain_transfer(out: Path, args, source: SAMSOD) -> tuple[list, list, list[list[str]]]:
    """(b): the demo SAMSOD adapted without labels to a mild and a severe shift; the first
    pseudo-labels from the model's own prediction (sum of its heads) or its heads weighted by the
    boundary prior; the last variant mixes half as many unlabeled source scenes in, labelled by
    the model itself (what keeps adapters on every level from forgetting the source domain)."""
    rows, cost, verdicts = [], [], []
    for domain in ("fog", "blackhot"):
        before = {"target": scores(source, f"synthetic:32:900000:{domain}"),
                  "source": scores(source, "synthetic:32:900000:mixed")}
        source_scenes = (f"synthetic:{args.samples // 2}:500000:mixed",)
        for heads, levels, extra in (("sum", "deepest", ()), ("boundary", "deepest", ()), ("boundary", "all", ()),
                                     ("boundary", "all", source_scenes)):
            folder = out / f"adapt_{domain}_{heads}_{levels}_{len(extra)}"
            summary = stage("adapter", folder, args.samples, args.epochs, domain=domain, extra_sources=extra,
                            source_checkpoint=str(DEMO_SAMSOD), adapter_hidden=32, lr=1e-2,
                            heads={"mode": heads}, adapter_levels=levels)
            heads += "" if levels == "deepest" else ", adapters on all levels"
            heads += " + source scenes" if extra else ""
            adapted = load_model("samsod", folder / "samsod.pt")
            after = {"target": scores(adapted, f"synthetic:32:900000:{domain}"),
                     "source": scores(adapted, "synthetic:32:900000:mixed")}
            first_labels = quality(summary, "first_labels")
            for name in ("target", "source"):
                scored = f"target ({domain})" if name == "target" else "source (day/night)"
                rows.append([f"{domain}, heads {heads}: {scored}", first_labels if name == "target" else "-",
                             f"{before[name]['S']:.3f}", f"{after[name]['S']:.3f}",
                             f"{before[name]['MAE']:.3f}", f"{after[name]['MAE']:.3f}"])
            if heads == "boundary":  # the default (adapter on the deepest level)
                verdicts.append(target_verdict(before, after))
            if extra and domain == "blackhot":
                verdicts.append(recipe_verdict(before, after, summary["first_labels"]))
            cost.append([f"adapter tuning ({domain}, heads {heads}), s/epoch", seconds_per_epoch(summary)])
    return rows, cost, verdicts


def label_free_chain(out: Path, args, source: SAMSOD, random_cues: str) -> tuple[list, list]:
    """(d): pretrain -> sce -> detector from a random encoder, against the supervised demo SAMSOD."""
    rows, cost = [], []
    summary = stage("pretrain", out / "pretrain", args.samples, args.pretrain_epochs,
                    model={"backbone": BACKBONE, "mask_ratio": 0.6, "patch": 16})
    cost.append(["stage 0 pretrain (masked image modelling), s/epoch", seconds_per_epoch(summary)])
    pretrained = {**BACKBONE, "checkpoint": str(out / "pretrain" / "sam2_pretrained.pt")}
    losses = [r["loss"] for r in summary["history"]]
    summary = stage("sce", out / "sce_pretrained", args.samples, args.epochs,
                    model={"backbone": pretrained, "mode": "informed"})
    rows.append(["stage 1 cues, random encoder (from (a))", random_cues, "-"])
    rows.append([f"stage 1 cues, pretrained encoder (MIM loss {losses[0]:.3f} -> {losses[-1]:.3f})",
                 quality(summary["history"][-1]), "-"])
    stage("detector", out / "det_chain", args.samples, args.epochs,
          model={"backbone": pretrained, "train_encoder": True},
          cue_checkpoint=str(out / "sce_pretrained" / "sce.pt"), spr={"enabled": False})
    chain = scores(load_model("samsod", out / "det_chain" / "samsod.pt"), "synthetic:32:900000:mixed")
    supervised = scores(source, "synthetic:32:900000:mixed")
    rows.append(["label-free chain: the detector on held-out scenes", f"S {chain['S']:.3f}, MAE "
                 f"{chain['MAE']:.3f}", f"{'met' if chain['S'] >= CHAIN_TARGET else 'missed'} "
                 f"(target >= {CHAIN_TARGET})"])
    rows.append(["supervised demo SAMSOD (labels) on the same scenes", f"S {supervised['S']:.3f}, MAE "
                 f"{supervised['MAE']:.3f}", "-"])
    return rows, cost


def adapter_sizes(source: SAMSOD) -> list[list[str]]:
    rows = []
    for levels in ("deepest", "all"):
        model, trainable = attach_domain_adapter(source, 32, levels == "all")
        rows.append([f"adapter parameters, {levels} level(s) (trainable / model)",
                     f"{sum(p.numel() for p in trainable)} / {sum(p.numel() for p in model.parameters())}"])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    bench_arguments(parser)
    args = parser.parse_args()
    apply_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        rows_a, cost_a, random_cues = stage_one_and_two(out, args)
        source = load_model("samsod", DEMO_SAMSOD)
        rows_b, cost_b, verdicts = domain_transfer(out, args, source)
        rows_d, cost_d = label_free_chain(out, args, source, random_cues)
        rows_c = cost_a + cost_b + cost_d + adapter_sizes(source)
    rows_c.append(["peak memory of the run (MB)", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"])
    rows_c.append(["refiner at batch 8, 4 channels, 512x640: peak memory above start (MB) / seconds",
                   refiner_cost()])
    print(f"UUSOD on synthetic RGB-T scenes: {args.samples} unlabeled scenes, {args.epochs} epochs a stage, "
          f"demo-size encoder, {torch.get_num_threads()} threads")
    print("\n(a) pseudo-label quality against the hidden truth (S / maxF / MAE)")
    print_table(["after", "pseudo-labels S / maxF / MAE", "detector's predictions S / maxF / MAE"], rows_a)
    print("\n(b) domain transfer: the demo SAMSOD adapter-tuned on unlabeled target scenes (scored on held-out,"
          " labelled scenes)")
    print_table(["adaptation: scored on", "first pseudo-labels S / maxF / MAE", "S before", "S after",
                 "MAE before", "MAE after"], rows_b)
    print("\n(d) the label-free chain from no pre-trained weights (pretrain -> sce -> detector, SPR off)")
    print_table(["step", "result", "target"], rows_d)
    print("\n(c) cost on this machine")
    print_table(["measure", "value"], rows_c)
    failures = [reason for verdict in verdicts for reason in verdict]
    print("targets (default heads: boundary): a domain the source model fails (S < "
          f"{FAILING_S}) gains >= {GAIN} S with MAE down; no target domain loses more than {TOLERANCE} S; "
          f"the source domain loses <= {SOURCE_MARGIN} S; the recipe on black-hot within {LABEL_MARGIN} S of "
          "its first pseudo-labels: "
          + ("met" if not failures else "MISSED: " + "; ".join(failures)))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())

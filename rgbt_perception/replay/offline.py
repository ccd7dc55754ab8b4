"""rgbt-replay offline: bags through the node's codec, synchronizer and pipeline (metrics, latency,
overlays, --record), in this process or on Ray; the arguments are in cli.py.

The bags are planned into shards (plan.py), run by an engine (engines.py: each shard through
shard.py's loop), every finished shard saved to the output folder's parts/ (so that --resume
continues a killed run), and the shards combined into one report (aggregate.py) written by
report.py: frames.csv, summary.json, report.md, plots, and for one bag in one process the video
and the outputs bag.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from rgbt_models.data.datasets import DatasetError
from rgbt_models.fleet import engine_options
from rgbt_models.metrics.plots import plot_confusion, plot_saliency_curves
from rgbt_perception.replay.aggregate import combine, metric_results, per_bag, section, worst_bags
from rgbt_perception.replay.engines import run_shards
from rgbt_perception.replay.mining import select, write_mined
from rgbt_perception.replay.plan import expand_bags, plan
from rgbt_perception.replay.report import VideoSink, render_markdown, write_csv, write_summary
from rgbt_perception.replay.shard import ReplaySettings, Shard, ShardResult


def slug(text: str) -> str:
    """A file-name form of a result label ('thermal blanked' -> 'thermal_blanked')."""
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


class Parts:
    """Finished shards in <output>/parts/: one file each, written atomically, with the plan they
    belong to; --resume loads those of the same plan and runs only the rest. The files are this
    tool's own pickles: resume only from an output folder rgbt-replay wrote."""

    def __init__(self, folder: Path, shards: list[Shard], resume: bool) -> None:
        self.folder = folder
        self.plan = [asdict(s) for s in shards]
        folder.mkdir(parents=True, exist_ok=True)
        plan_file = folder / "plan.json"
        self.done: dict[str, ShardResult] = {}
        if resume and plan_file.is_file():
            if json.loads(plan_file.read_text()) != json.loads(json.dumps(self.plan)):
                raise ValueError(f"--resume: {plan_file} is another run's plan (other bags, topics or --window); "
                                 "use another --output, or run without --resume to start over")
            for shard in shards:
                part = folder / f"{shard.key}.pkl"
                if part.is_file():
                    with part.open("rb") as handle:
                        self.done[shard.key] = pickle.load(handle)  # our own part files
        else:
            for old in folder.glob("*.pkl"):
                old.unlink()
        plan_file.write_text(json.dumps(self.plan, indent=1))

    def save(self, result: ShardResult) -> None:
        self.done[result.shard.key] = result
        temporary = self.folder / f".{result.shard.key}.pkl.tmp"
        with temporary.open("wb") as handle:
            pickle.dump(result, handle)
        os.replace(temporary, self.folder / f"{result.shard.key}.pkl")


def replay_offline(args, params: dict) -> dict:
    bags = expand_bags(args.bag)
    one_pass = len(bags) == 1 and not args.window and args.engine == "serial"
    if not one_pass and args.record:
        raise ValueError("--record writes one bag's outputs: give one bag, without --window, with --engine serial")
    if args.window and args.truth_key == "index":
        raise ValueError("--truth-key index numbers frames from a bag's start, which a --window shard does not "
                         "see: name truth files by stamp")
    output = Path(args.output)
    overlays = output / "overlays"
    overlays.mkdir(parents=True, exist_ok=True)
    settings = ReplaySettings.from_arguments(args, params, str(overlays))
    shards = plan(bags, args.window, settings, params)
    parts = Parts(output / "parts", shards, args.resume)
    sinks = one_bag_sinks(args, output) if one_pass else None
    started = time.perf_counter()
    try:
        todo = [s for s in shards if s.key not in parts.done]
        run_shards(todo, params, settings, engine_options(args), parts.save, args.threads, sinks)
    finally:
        if sinks is not None and sinks.recorder is not None:
            sinks.recorder.close()
    results = [parts.done[s.key] for s in shards]
    return write_report(output, results, bags, params, args, time.perf_counter() - started, sinks, settings)


def one_bag_sinks(args, output: Path) -> SimpleNamespace:
    """The video and the outputs bag of a one-bag, one-process run."""
    recorder = None
    if args.record:
        from rgbt_perception.replay.recording import OutputRecorder

        recorder = OutputRecorder(args.record, args.overwrite)
    return SimpleNamespace(video=None if args.no_video else VideoSink(output / "replay.mp4", 10.0), recorder=recorder)


def write_report(output: Path, results: list[ShardResult], bags: list[str], params: dict, args, wall: float,
                 sinks, settings: ReplaySettings) -> dict:
    """frames.csv, summary.json, report.md and the plots of all shards together; with --mine, the
    frames most worth labelling in mined/."""
    failed = [r for r in results if r.error]
    if len(bags) == 1 and failed:
        raise DatasetError(failed[0].error)
    good = [r for r in results if not r.error]
    combined = combine(good)
    if not combined.rows and not combined.bad_frames and not failed:
        raise DatasetError(f"{bags[0] if len(bags) == 1 else 'the bags'}: no frame could be paired on "
                           f"{args.rgb_topic} and {args.thermal_topic}")
    saliency, semantic = metric_results(combined)
    class_names = next((r.class_names for r in good if r.class_names), None)
    plots = plot_saliency_curves(saliency, output) if saliency else []
    for label, res in semantic.items():  # e.g. confusion_with_thermal.png, confusion_thermal_blanked.png
        plots.append(plot_confusion(np.array(res["confusion_matrix"]), class_names,
                                    output / f"confusion_{slug(label)}.png", title=f"SARTM, {label}"))
    write_csv(output / "frames.csv", combined.rows)
    warn = params["uncertainty.warn"]
    sections, failed_bags = per_bag(results, warn)
    video = sinks.video.close() if sinks is not None and sinks.video is not None else None
    summary = {"bag": bags[0] if len(bags) == 1 else f"{len(bags)} bags",
               **section(combined, wall, warn), "runtime": next((r.runtime for r in good), ""),
               "precision": params["precision"], "sync_policy": params["sync.policy"],
               "thermal_camera": params["thermal.camera"], "video": str(video) if video else None,
               "record": str(sinks.recorder.path) if sinks is not None and sinks.recorder is not None else None,
               "plots": [str(p) for p in plots], "engine": args.engine, "shards": len(results),
               "per_bag": sections, "failed_bags": failed_bags, "worst_bags": worst_bags(sections)}
    if getattr(args, "mine", 0):
        chosen = select(combined.rows, args.mine, args.mine_gap)
        folder = write_mined(output / "mined", chosen, settings, class_names)
        summary["mined"] = {"folder": str(folder), "frames": len(chosen), "gap_s": args.mine_gap,
                            "uncertainty": [row["uncertainty"] for row in chosen]}
    sartm = SimpleNamespace(classes=SimpleNamespace(names=class_names, num_classes=len(class_names or ())))
    markdown = render_markdown(summary, combined.stages, sartm)
    write_summary(output, summary, markdown)
    return summary | {"markdown": markdown}

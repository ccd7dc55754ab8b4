"""rgbt-replay offline: the bag through the node's codec, synchronizer and pipeline (metrics,
latency, overlays, --record); the arguments are in cli.py, the files written in report.py."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from rgbt_models.classes import check_label_ids, class_list, label_lookup
from rgbt_models.data.datasets import DatasetError
from rgbt_models.data.image_codec import BadImage, image_to_array
from rgbt_models.data.rosbag import decode_pair, read_pairs
from rgbt_models.metrics import ConfusionMatrix, SaliencyMetrics
from rgbt_models.metrics.plots import plot_confusion, plot_saliency_curves
from rgbt_perception.model_loading import build_pipeline
from rgbt_perception.overlay import overlay
from rgbt_perception.pipeline import FrameRejected
from rgbt_perception.replay.report import VideoSink, render_markdown, write_csv, write_summary


class TruthFolder:
    """Ground-truth PNGs keyed by stamp (ns) or frame index: <dir>/labels/<key>.png, <dir>/masks/<key>.png."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder, self.key = folder, key

    def get(self, kind: str, stamp_ns: int, index: int) -> np.ndarray | None:
        path = self.folder / kind / f"{stamp_ns if self.key == 'stamp' else index}.png"
        if not path.is_file():
            return None
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise DatasetError(f"{path}: cannot be read")
        return image


def slug(text: str) -> str:
    """A file-name form of a result label ('thermal blanked' -> 'thermal_blanked')."""
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def replay_offline(args, params: dict) -> dict:
    pipeline = build_pipeline(params, lambda text: print(f"rgbt-replay: {text}", flush=True), threads=args.threads)
    output = Path(args.output)
    (output / "overlays").mkdir(parents=True, exist_ok=True)
    truth_dir = TruthFolder(Path(args.truth_dir), args.truth_key) if args.truth_dir else None
    truth_topics = tuple(t for t in (args.label_topic, args.mask_topic) if t)
    sartm = pipeline.sartm
    lookup = None
    if sartm is not None and (args.label_topic or truth_dir is not None):
        lookup = label_lookup(sartm.classes, class_list(args.label_classes) if args.label_classes else None,
                              args.class_mapping, what="ground truth")
    semantic = {"with thermal": ConfusionMatrix(sartm.classes.num_classes, sartm.classes.ignore_index,
                                                sartm.classes.names)} if sartm is not None else {}
    saliency = {"with thermal": SaliencyMetrics()} if pipeline.samsod is not None else {}
    if args.compare_without_thermal:
        if sartm is not None:
            semantic["thermal blanked"] = ConfusionMatrix(sartm.classes.num_classes, sartm.classes.ignore_index,
                                                          sartm.classes.names)
        if pipeline.samsod is not None:
            saliency["RGB-only head"] = SaliencyMetrics()
    saliency["degraded frames (thermal missing or frozen)"] = SaliencyMetrics()
    stages: dict[str, list[float]] = defaultdict(list)
    rows: list[dict] = []
    counters: dict = {}
    video = None if args.no_video else VideoSink(output / "replay.mp4", 10.0)
    recorder = open_recorder(args.record, args.overwrite) if args.record else None
    bad_frames: list[dict] = []
    pair_ages: list[float] = []  # ms, |RGB stamp - thermal stamp| of every pair with thermal
    started = time.perf_counter()
    try:
        pairs = read_pairs(args.bag, args.rgb_topic, args.thermal_topic, params["sync.slop"], params["sync.queue_size"],
                           truth_topics, counters, thermal_timeout=params["thermal.timeout"],
                           policy=params["sync.policy"], max_age=params["sync.max_age"])
        # A progress bar on a terminal (tqdm: off when stderr is not a TTY, or with --no-progress).
        bar = tqdm(pairs, desc="rgbt-replay", unit="pair", disable=True if args.no_progress else None)
        for index, pair in enumerate(bar):
            if args.max_frames and index >= args.max_frames:
                break
            if pair.age_ns is not None:
                pair_ages.append(abs(pair.age_ns) / 1e6)
            t0 = time.perf_counter()
            try:  # a bad frame is skipped and reported, as the node would skip it
                rgb, thermal = decode_pair(pair)
                stages["decode"].append(time.perf_counter() - t0)
                thermal_stamp = None if pair.thermal is None else (pair.stamp_ns - pair.age_ns) / 1e9
                result = pipeline.run(rgb, thermal, thermal_stamp=thermal_stamp)
            except (BadImage, FrameRejected, ValueError) as error:
                bad_frames.append({"frame": index, "stamp_ns": pair.stamp_ns, "reason": str(error)})
                continue
            for stage, seconds in result.timings.items():
                stages[stage].append(seconds)
            counters["thermal_frozen"] = counters.get("thermal_frozen", 0) + int(result.thermal_frozen)
            row = {"frame": index, "stamp_ns": pair.stamp_ns, "degraded": int(result.degraded),
                   "thermal_frozen": int(result.thermal_frozen),
                   **{f"{k}_ms": round(1000 * v, 2) for k, v in result.timings.items()},
                   "classes": " ".join(s.name for s in result.class_stats), "salient_objects": len(result.objects)}
            label = truth(pair, args.label_topic, truth_dir, "labels", index)
            mask = truth(pair, args.mask_topic, truth_dir, "masks", index)
            if label is not None and sartm is not None:
                label = lookup[label] if lookup is not None else label
                check_label_ids(label, sartm.classes, f"ground truth of frame {index} (stamp {pair.stamp_ns})")
                check_scoring_size(label, rgb)
            if mask is not None:
                check_scoring_size(mask, rgb)
            if label is not None and result.semantic_mask is not None:
                semantic["with thermal"].step(result.semantic_mask, label)
            if mask is not None and result.saliency_map is not None:
                key = "with thermal" if not result.degraded else "degraded frames (thermal missing or frozen)"
                saliency[key].step(result.saliency_map, mask)
                row["saliency_mae"] = round(float(np.abs(result.saliency_map / 255.0 - (mask > 128)).mean()), 4)
            if args.compare_without_thermal and thermal is not None:
                if mask is not None and pipeline.samsod is not None:
                    saliency["RGB-only head"].step(pipeline.run(rgb, None).saliency_map, mask)
                if label is not None and sartm is not None:
                    blank = pipeline.run(rgb, np.zeros_like(thermal))
                    semantic["thermal blanked"].step(blank.semantic_mask, label)
            rows.append(row)
            if (args.overlay_every and index % args.overlay_every == 0) or video is not None:
                panel = overlay(rgb, thermal, result, pipeline.config.thermal,
                                sartm.classes if sartm is not None else None)
                if args.overlay_every and index % args.overlay_every == 0:
                    cv2.imwrite(str(output / "overlays" / f"{index:05d}.png"), cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
                if video is not None:
                    video.add(panel)
            if recorder is not None:
                recorder.write(pair, result)
    finally:
        if recorder is not None:
            recorder.close()
    wall = time.perf_counter() - started
    video_path = video.close() if video is not None else None
    if not rows and not bad_frames:
        raise DatasetError(f"{args.bag}: no frame could be paired on {args.rgb_topic} and {args.thermal_topic}")
    semantic_results = {k: m.results() | {"confusion_matrix": m.matrix.tolist()}
                        for k, m in semantic.items() if m.matrix.any()}
    saliency_results = {k: m.results() for k, m in saliency.items() if m.count}
    plots = []
    if saliency_results:
        plots += plot_saliency_curves(saliency_results, output)
    for label, res in semantic_results.items():  # e.g. confusion_with_thermal.png, confusion_thermal_blanked.png
        plots.append(plot_confusion(np.array(res["confusion_matrix"]), sartm.classes.names,
                                    output / f"confusion_{slug(label)}.png", title=f"SARTM, {label}"))
    write_csv(output / "frames.csv", rows)
    summary = {"bag": str(args.bag), "frames_processed": len(rows), "counts": counters, "wall_seconds": wall,
               "runtime": pipeline.runtime, "precision": params["precision"], "sync_policy": params["sync.policy"],
               "pair_age_ms": ({"median": float(np.median(pair_ages)), "p95": float(np.percentile(pair_ages, 95)),
                                "max": float(np.max(pair_ages)), "pairs": len(pair_ages)} if pair_ages else None),
               "latency_ms": {s: {"median": 1000 * float(np.median(v)), "p95": 1000 * float(np.percentile(v, 95))}
                              for s, v in stages.items() if v},
               "saliency": {k: {m: v for m, v in r.items() if m != "curves"} for k, r in saliency_results.items()},
               "semantic": semantic_results,
               "bad_frames": len(bad_frames), "bad_frame_details": bad_frames,
               "video": str(video_path) if video_path else None,
               "record": str(recorder.path) if recorder is not None else None,
               "plots": [str(p) for p in plots]}
    markdown = render_markdown(summary, stages, sartm)
    write_summary(output, summary, markdown)
    return summary | {"markdown": markdown}


def check_scoring_size(truth_map: np.ndarray, rgb: np.ndarray) -> None:
    """Outputs are scored at the ground truth's native size, which must be the RGB image's."""
    if truth_map.shape[:2] != rgb.shape[:2]:
        raise DatasetError(f"ground truth is {truth_map.shape[1]}x{truth_map.shape[0]} but the RGB image "
                           f"{rgb.shape[1]}x{rgb.shape[0]}: outputs are scored at the RGB image's size")


def truth(pair, topic, truth_dir, kind, index):
    if topic and topic in pair.truth:
        return image_to_array(pair.truth[topic], ("mono8",))
    if truth_dir is not None:
        return truth_dir.get(kind, pair.stamp_ns, index)
    return None


def open_recorder(path: str, overwrite: bool = False):
    from rgbt_perception.replay.recording import OutputRecorder

    return OutputRecorder(path, overwrite)

"""rgbt-replay: run the perception stack over a recorded bag and report accuracy and latency.

Offline (default): frames are read with `rosbags`, paired by the node's synchronizer (and, as
the node does, RGB frames without thermal for thermal.timeout go through the degraded path),
then run through the node's own pipeline. With ground truth (label / saliency-mask topics in
the bag, or --truth-dir) the model library's metrics are reported, optionally also without
thermal (--compare-without-thermal). Always: per-stage latency, counts, overlays (+ MP4), a
per-frame CSV, summary.json and report.md. --record OUT.mcap writes the outputs to a bag.
--live plays the bag into a running node instead (see replay_live.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from rgbt_models import threads as thread_policy
from rgbt_models.classes import check_label_ids, class_list, label_lookup
from rgbt_models.data.datasets import DatasetError
from rgbt_models.data.image_codec import BadImage, image_to_array
from rgbt_models.data.rosbag import decode_pair, read_pairs
from rgbt_models.metrics import ConfusionMatrix, SaliencyMetrics
from rgbt_models.metrics.plots import plot_confusion, plot_saliency_curves
from rgbt_perception.devices import select_device, uses_int8
from rgbt_perception.model_loading import ModelLoadError, load_model
from rgbt_perception.parameters import load_parameter_file, pipeline_config
from rgbt_perception.pipeline import FrameRejected, Pipeline
from rgbt_perception.report import VideoSink, latency_table, overlay, write_csv, write_summary

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "rgbt.yaml"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="rgbt-replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bag", help="rosbag2 folder or file (mcap or sqlite3)")
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="node parameter YAML (config/rgbt.yaml)")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME:=VALUE",
                        help="override a node parameter, as ros2 run -p does")
    parser.add_argument("--rgb-topic", default="/camera/rgb/image")
    parser.add_argument("--thermal-topic", default="/camera/thermal/image")
    parser.add_argument("--label-topic", help="semantic ground truth (mono8 class ids, RGB stamps)")
    parser.add_argument("--mask-topic", help="saliency ground truth (mono8 0/255, RGB stamps)")
    parser.add_argument("--label-classes", help="class list of the semantic ground truth (preset name or YAML); "
                        "compared with the SARTM checkpoint's (default: taken to be the checkpoint's, ids checked)")
    parser.add_argument("--class-mapping", help="YAML 'mapping: {label class: model class | ignore}' for labels "
                        "with another class list (needs --label-classes)")
    parser.add_argument("--truth-dir", help="folder of ground-truth PNGs instead of topics: labels/ and/or masks/")
    parser.add_argument("--truth-key", choices=("stamp", "index"), default="stamp",
                        help="truth file names: the RGB stamp in ns, or the frame index")
    parser.add_argument("--output", default="replay_out")
    parser.add_argument("--overlay-every", type=int, default=10, help="write every Nth overlay PNG (0: none)")
    parser.add_argument("--no-video", action="store_true")
    parser.add_argument("--compare-without-thermal", action="store_true",
                        help="also evaluate saliency from the RGB-only head and SARTM with thermal blanked")
    parser.add_argument("--record", help="write the outputs to this bag (.mcap: mcap, else sqlite3)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --record bag")
    parser.add_argument("--max-frames", type=int)
    parser.add_argument("--threads", type=thread_policy.argument, help=thread_policy.THREADS_HELP +
                        " (default: the threads parameter of --config)")
    parser.add_argument("--live", action="store_true", help="play into a running node over rclpy")
    parser.add_argument("--rate", type=float, default=1.0, help="--live playback speed")
    return parser.parse_args(argv)


def parse_overrides(items: list[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep:
            raise ValueError(f"-p {item!r}: expected NAME:=VALUE")
        out[name] = yaml.safe_load(value)
    return out


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


def replay_offline(args, params: dict) -> dict:
    policy = thread_policy.apply(args.threads if args.threads is not None else params["threads"])
    print(f"rgbt-replay: {thread_policy.describe(policy)}", flush=True)
    device, dtype, reason = select_device(params["device"], params["precision"])
    print(f"rgbt-replay: inference device {device} ({reason})", flush=True)
    models = [load_model(kind, params[f"{kind}.checkpoint"], params[f"{kind}.config"], params["allow_untrained"])
              if params[f"{kind}.enabled"] else None for kind in ("sartm", "samsod")]
    pipeline = Pipeline(pipeline_config(params), *models, device=device, dtype=dtype,
                        int8=uses_int8(device, params["precision"]))
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
    saliency["degraded frames (no thermal in bag)"] = SaliencyMetrics()
    stages: dict[str, list[float]] = defaultdict(list)
    rows: list[dict] = []
    counters: dict = {}
    video = None if args.no_video else VideoSink(output / "replay.mp4", 10.0)
    recorder = open_recorder(args.record, args.overwrite) if args.record else None
    bad_frames: list[dict] = []
    started = time.perf_counter()
    try:
        pairs = read_pairs(args.bag, args.rgb_topic, args.thermal_topic, params["sync.slop"], params["sync.queue_size"],
                           truth_topics, counters, thermal_timeout=params["thermal.timeout"])
        for index, pair in enumerate(pairs):
            if args.max_frames and index >= args.max_frames:
                break
            t0 = time.perf_counter()
            try:  # a bad frame is skipped and reported, as the node would skip it
                rgb, thermal = decode_pair(pair)
                stages["decode"].append(time.perf_counter() - t0)
                result = pipeline.run(rgb, thermal)
            except (BadImage, FrameRejected, ValueError) as error:
                bad_frames.append({"frame": index, "stamp_ns": pair.stamp_ns, "reason": str(error)})
                continue
            for stage, seconds in result.timings.items():
                stages[stage].append(seconds)
            row = {"frame": index, "stamp_ns": pair.stamp_ns, "degraded": int(thermal is None),
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
                key = "with thermal" if thermal is not None else "degraded frames (no thermal in bag)"
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
                panel = overlay(rgb, thermal, result, params["thermal.normalization"])
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
    for i, res in enumerate(semantic_results.values()):
        plots.append(plot_confusion(np.array(res["confusion_matrix"]), sartm.classes.names,
                                    output / f"confusion_{i}.png"))
    write_csv(output / "frames.csv", rows)
    summary = {"bag": str(args.bag), "frames_processed": len(rows), "counts": counters, "wall_seconds": wall,
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


def render_markdown(summary: dict, stages: dict, sartm) -> str:
    c = summary["counts"]
    lines = [f"# Replay of `{summary['bag']}`", "",
             f"Frames: {c.get('rgb', 0)} RGB, {c.get('thermal', 0)} thermal, {c.get('pairs', 0)} pairs, "
             f"{c.get('degraded', 0)} RGB-only (thermal missing), {c.get('unpaired', 0)} unpaired; "
             f"{summary['frames_processed']} processed in {summary['wall_seconds']:.1f} s.", ""]
    if summary["bad_frames"]:
        lines += [f"Skipped {summary['bad_frames']} bad frame(s), as the node would: "
                  + "; ".join(f"stamp {b['stamp_ns']}: {b['reason']}" for b in summary["bad_frame_details"][:10]), ""]
    if summary["saliency"]:
        keys = ("S", "maxF", "maxE", "MAE")
        lines += ["## Saliency (SAMSOD)", "", "| frames | images | " + " | ".join(keys) + " |",
                  "|" + " --- |" * (len(keys) + 2)]
        for name, r in summary["saliency"].items():
            lines.append(f"| {name} | {r['images']} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |")
        lines.append("")
    if summary["semantic"]:
        lines += ["## Semantic segmentation (SARTM)", "",
                  "| input | mIoU | mAcc | " + " | ".join(f"IoU {n}" for n in sartm.classes.names) + " |",
                  "|" + " --- |" * (3 + sartm.classes.num_classes)]
        for name, r in summary["semantic"].items():
            ious = " | ".join(f"{100 * r['per_class'][n]['IoU']:.1f}" for n in sartm.classes.names)
            lines.append(f"| {name} | {100 * r['mIoU']:.1f} | {100 * r['mAcc']:.1f} | {ious} |")
        lines.append("")
    lines += ["## Latency per stage (this machine)", "", latency_table(stages), ""]
    if summary["video"]:
        lines.append(f"Video: `{summary['video']}`")
    return "\n".join(lines)


def open_recorder(path: str, overwrite: bool = False):
    from rgbt_perception.recording import OutputRecorder

    return OutputRecorder(path, overwrite)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        params = load_parameter_file(args.config, parse_overrides(args.param))
        if args.live:
            from rgbt_perception.replay_live import replay_live

            summary = replay_live(args, params)
        else:
            summary = replay_offline(args, params)
    except (DatasetError, ModelLoadError, ValueError, OSError) as error:  # ConfigError is a ValueError
        print(f"rgbt-replay: {error}", file=sys.stderr)
        return 2
    print(summary["markdown"])
    print(f"\nrgbt-replay: report, CSV and overlays in {Path(args.output).resolve()}"
          + (f"; outputs bag {summary['record']}" if summary.get("record") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

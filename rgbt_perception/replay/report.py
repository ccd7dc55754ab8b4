"""What the replay tool writes: overlay images, an MP4, a per-frame CSV, a JSON summary and a
Markdown report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np


class VideoSink:
    """MP4 via OpenCV when its writer opens here; otherwise nothing (said in the report)."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps, self.writer, self.failed = path, fps, None, False

    def add(self, frame_rgb: np.ndarray) -> None:
        if self.failed:
            return
        if self.writer is None:
            h, w = frame_rgb.shape[:2]
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self.writer.isOpened():
                self.failed, self.writer = True, None
                return
        self.writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> Path | None:
        if self.writer is not None:
            self.writer.release()
            return self.path
        return None


def write_csv(path: Path, rows: list[dict]) -> None:
    keys = sorted({k for row in rows for k in row}, key=lambda k: (k not in ("frame", "stamp_ns", "degraded"), k))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def latency_table(stages: dict[str, list[float]]) -> str:
    lines = ["| stage | frames | median (ms) | p95 (ms) | max (ms) |", "| --- | --- | --- | --- | --- |"]
    for stage, values in stages.items():
        if values:
            v = 1000 * np.array(values)
            lines.append(f"| {stage} | {len(v)} | {np.median(v):.1f} | {np.percentile(v, 95):.1f} | {v.max():.1f} |")
    return "\n".join(lines)


def write_summary(folder: Path, summary: dict, markdown: str, prefix: str = "") -> None:
    """<prefix>summary.json and <prefix>report.md (live replay: prefix 'live_')."""
    (folder / f"{prefix}summary.json").write_text(json.dumps(summary, indent=1, default=float))
    (folder / f"{prefix}report.md").write_text(markdown)


def render_live_markdown(summary: dict) -> str:
    """The report of a live replay (replay.live)."""
    return "\n".join([
        f"# Live replay of `{summary['bag']}` at {summary['rate']:g}x", "",
        f"Published {summary['pairs_published']} pairs ({summary['messages_published']} messages); the node "
        f"answered {summary['pairs_answered']} ({100 * summary['answered_share']:.0f} %), skipped "
        f"{summary['node_skipped']} (newer pair arrived while busy).",
        f"End-to-end latency (publication -> {summary['output_topic']}): median "
        f"{summary['latency_ms']['median']:.0f} ms, p95 {summary['latency_ms']['p95']:.0f} ms.",
        clock_line(summary.get("node_clock_sec"), summary.get("bag_clock_sec"))])


def clock_line(node_sec: int | None, bag_sec: int | None) -> str:
    """Which clock the node ran on, from its last /diagnostics stamp against the bag's /clock."""
    if node_sec is None:
        return "No /diagnostics from the node: its clock is unknown."
    if bag_sec is not None and abs(node_sec - bag_sec) <= 60:
        return "The node ran on the bag's clock (use_sim_time)."
    return "The node ran on the wall clock (use_sim_time:=true puts it on the bag's clock, published on /clock)."


def fleet_lines(summary: dict) -> list[str]:
    """Per bag (more than one), the bags that could not be read, and the worst bags."""
    lines = []
    if len(summary.get("per_bag", {})) > 1:
        lines += [f"## Per bag ({len(summary['per_bag'])} bags, {summary['shards']} shards, engine "
                  f"{summary['engine']})", "", "| bag | frames | bad frames | mIoU | S | uncertainty (median) |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for bag, part in summary["per_bag"].items():
            miou = part["semantic"].get("with thermal", {}).get("mIoU")
            s = part["saliency"].get("with thermal", {}).get("S")
            unsure = (part.get("uncertainty") or {}).get("median")
            lines.append(f"| {bag} | {part['frames_processed']} | {part['bad_frames']} | "
                         f"{'-' if miou is None else f'{100 * miou:.1f}'} | {'-' if s is None else f'{s:.3f}'} | "
                         f"{'-' if unsure is None else f'{unsure:.3f}'} |")
        lines.append("")
        worst = summary.get("worst_bags") or []
        if worst:
            lines += ["Worst bags: " + "; ".join(f"{w['bag']} ({w['by']} {worst_value(w)})" for w in worst), ""]
    if summary.get("failed_bags"):
        lines += ["## Bags that could not be read", ""]
        lines += [f"- {f['bag']}: {f['error']}" for f in summary["failed_bags"]]
        lines.append("")
    return lines


def temperature_line(temperatures: dict, camera: str) -> str:
    """'Temperatures (...): person 309.1 K (36.0 °C), ...': per class, then the hottest object."""
    def both(kelvin: float) -> str:
        return f"{kelvin:.1f} K ({kelvin - 273.15:.1f} °C)"

    parts = [f"{name} {both(kelvin)}" for name, kelvin in temperatures["classes"].items()]
    if temperatures.get("hottest_object") is not None:
        parts.append(f"hottest salient object {both(temperatures['hottest_object'])}")
    source = f"thermal.camera {camera}" if camera else "thermal.kelvin_scale / kelvin_offset"
    return f"Temperatures ({source}; medians over the frames): " + ", ".join(parts) + "."


def worst_value(worst: dict) -> str:
    """A worst bag's figure as the per-bag table writes it (mIoU in percent, bad frames a count)."""
    if worst["by"] == "mIoU":
        return f"{100 * worst['value']:.1f}"
    if worst["by"] == "bad frames":
        return str(int(worst["value"]))
    return f"{worst['value']:.3f}"


def render_markdown(summary: dict, stages: dict, sartm) -> str:
    c = summary["counts"]
    unpaired_rgb = c.get("rgb", 0) - c.get("pairs", 0) - c.get("degraded", 0)
    lines = [f"# Replay of `{summary['bag']}`", "",
             f"Frames: {c.get('rgb', 0)} RGB, {c.get('thermal', 0)} thermal, {c.get('pairs', 0)} pairs, "
             f"{c.get('degraded', 0)} RGB-only (thermal silent past thermal.timeout), "
             f"{unpaired_rgb} RGB and {c.get('unpaired', 0) - unpaired_rgb} thermal frames in no pair; "
             f"{summary['frames_processed']} processed in {summary['wall_seconds']:.1f} s "
             f"({summary['runtime']}, precision {summary['precision']}).", ""]
    if summary.get("pair_age_ms"):
        age = summary["pair_age_ms"]
        lines += [f"Pairing (sync.policy {summary['sync_policy']}): thermal frame age in a pair, median "
                  f"{age['median']:.1f} ms, p95 {age['p95']:.1f} ms, max {age['max']:.1f} ms over {age['pairs']} "
                  "pairs.", ""]
    if summary.get("temperatures_k"):
        lines += [temperature_line(summary["temperatures_k"], summary.get("thermal_camera", "")), ""]
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
    lines += fleet_lines(summary)
    lines += ["## Latency per stage (this machine)", "", latency_table(stages), ""]
    if summary["video"]:
        lines.append(f"Video: `{summary['video']}`")
    return "\n".join(lines)

"""What the replay tool writes: overlay images, an MP4, a per-frame CSV, a JSON summary and a
Markdown report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np

from rgbt_models.data.thermal import ThermalSetup, thermal_to_unit

TITLE_HEIGHT = 18
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _titled(panel: np.ndarray, title: str) -> np.ndarray:
    """The panel under a black strip holding its title."""
    strip = np.zeros((TITLE_HEIGHT, panel.shape[1], 3), np.uint8)
    cv2.putText(strip, title, (4, TITLE_HEIGHT - 5), FONT, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([strip, panel], axis=0)


def class_legend(names, colors, width: int) -> np.ndarray:
    """Colour swatches with the class names, wrapped to `width` (the same height every frame)."""
    entries, rows, x = [], 0, 4
    for name, color in zip(names, colors):
        text_width = cv2.getTextSize(name, FONT, 0.4, 1)[0][0]
        if x + 16 + text_width > width and x > 4:
            rows, x = rows + 1, 4
        entries.append((x, rows, name, color))
        x += 16 + text_width + 12
    legend = np.zeros(((rows + 1) * 18 + 4, width, 3), np.uint8)
    for x, row, name, color in entries:
        y = row * 18 + 4
        cv2.rectangle(legend, (x, y), (x + 11, y + 11), tuple(int(c) for c in color), -1)
        cv2.rectangle(legend, (x, y), (x + 11, y + 11), (160, 160, 160), 1)  # a black class shows too
        cv2.putText(legend, name, (x + 16, y + 10), FONT, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return legend


def overlay(rgb: np.ndarray, thermal: np.ndarray | None, result, thermal_setup: ThermalSetup | None = None,
            classes=None) -> np.ndarray:
    """One titled panel row: RGB | thermal | SARTM classes blended on RGB | SAMSOD saliency heat
    map with its objects' boxes; under it the class legend when `classes` (names, colors) is
    given. RGB uint8."""
    h, w = rgb.shape[:2]
    if thermal is not None:
        t = (thermal_to_unit(thermal, thermal_setup or ThermalSetup()) * 255).astype(np.uint8)
        t = cv2.cvtColor(cv2.applyColorMap(cv2.resize(t, (w, h)), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    else:
        t = np.zeros_like(rgb)
        cv2.putText(t, "THERMAL MISSING", (8, h // 2), FONT, 0.5, (255, 80, 80), 1)
    panels = [_titled(rgb, "RGB"), _titled(t, "thermal (inferno)")]
    if result.semantic_color is not None:
        colors = cv2.resize(result.semantic_color, (w, h), interpolation=cv2.INTER_NEAREST)
        panels.append(_titled(cv2.addWeighted(rgb, 0.4, colors, 0.6, 0), "SARTM classes"))
    else:
        paused = (rgb * 0.3).astype(np.uint8)
        cv2.putText(paused, "SARTM paused", (8, h // 2), FONT, 0.5, (255, 255, 255), 1)
        panels.append(_titled(paused, "SARTM classes"))
    if result.saliency_map is not None:
        heat = cv2.cvtColor(cv2.applyColorMap(cv2.resize(result.saliency_map, (w, h)), cv2.COLORMAP_JET),
                            cv2.COLOR_BGR2RGB)
        sal = cv2.addWeighted(rgb, 0.5, heat, 0.5, 0)
        for obj in result.objects:
            sx, sy = w / result.saliency_map.shape[1], h / result.saliency_map.shape[0]
            cv2.rectangle(sal, (int(obj.x * sx), int(obj.y * sy)),
                          (int((obj.x + obj.width) * sx), int((obj.y + obj.height) * sy)), (255, 255, 255), 1)
        panels.append(_titled(sal, "SAMSOD saliency + objects"))
    row = np.concatenate(panels, axis=1)
    if classes is None:
        return row
    return np.concatenate([row, class_legend(classes.names, classes.colors, row.shape[1])], axis=0)


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
        f"Node clock at the end: {summary['node_clock_sec']} s (bag time when the node runs with use_sim_time)."])


def render_markdown(summary: dict, stages: dict, sartm) -> str:
    c = summary["counts"]
    lines = [f"# Replay of `{summary['bag']}`", "",
             f"Frames: {c.get('rgb', 0)} RGB, {c.get('thermal', 0)} thermal, {c.get('pairs', 0)} pairs, "
             f"{c.get('degraded', 0)} RGB-only (thermal missing), {c.get('unpaired', 0)} unpaired; "
             f"{summary['frames_processed']} processed in {summary['wall_seconds']:.1f} s "
             f"({summary['runtime']}, precision {summary['precision']}).", ""]
    if summary.get("pair_age_ms"):
        age = summary["pair_age_ms"]
        lines += [f"Pairing (sync.policy {summary['sync_policy']}): thermal frame age in a pair, median "
                  f"{age['median']:.1f} ms, p95 {age['p95']:.1f} ms, max {age['max']:.1f} ms over {age['pairs']} "
                  "pairs.", ""]
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

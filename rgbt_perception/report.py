"""What the replay tool writes: overlay images, an MP4, a per-frame CSV, a JSON summary and a
Markdown report."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np

from rgbt_models.data.thermal import normalize_thermal


def overlay(rgb: np.ndarray, thermal: np.ndarray | None, result, thermal_normalization: str = "minmax") -> np.ndarray:
    """One panel row: RGB | thermal | semantic colours blended on RGB | saliency heat map (RGB, uint8)."""
    h, w = rgb.shape[:2]
    if thermal is not None:
        t = (normalize_thermal(thermal, thermal_normalization) * 255).astype(np.uint8)
        t = cv2.cvtColor(cv2.applyColorMap(cv2.resize(t, (w, h)), cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    else:
        t = np.zeros_like(rgb)
        cv2.putText(t, "THERMAL MISSING", (8, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 80, 80), 1)
    panels = [rgb, t]
    if result.semantic_color is not None:
        colors = cv2.resize(result.semantic_color, (w, h), interpolation=cv2.INTER_NEAREST)
        panels.append(cv2.addWeighted(rgb, 0.4, colors, 0.6, 0))
    else:
        paused = (rgb * 0.3).astype(np.uint8)
        cv2.putText(paused, "SARTM paused", (8, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        panels.append(paused)
    if result.saliency_map is not None:
        heat = cv2.cvtColor(cv2.applyColorMap(cv2.resize(result.saliency_map, (w, h)), cv2.COLORMAP_JET),
                            cv2.COLOR_BGR2RGB)
        sal = cv2.addWeighted(rgb, 0.5, heat, 0.5, 0)
        for obj in result.objects:
            sx, sy = w / result.saliency_map.shape[1], h / result.saliency_map.shape[0]
            cv2.rectangle(sal, (int(obj.x * sx), int(obj.y * sy)),
                          (int((obj.x + obj.width) * sx), int((obj.y + obj.height) * sy)), (255, 255, 255), 1)
        panels.append(sal)
    return np.concatenate(panels, axis=1)


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


def write_summary(folder: Path, summary: dict, markdown: str) -> None:
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    (folder / "report.md").write_text(markdown)

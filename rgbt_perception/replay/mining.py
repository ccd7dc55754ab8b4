"""--mine N: the frames of a replay most worth labelling, written for a labelling tool (CVAT).

Selection (`select`): the frames with live thermal and the highest label-free uncertainty
(frames.csv's `uncertainty` column: rgbt_models.evaluation.uncertainty), spread over time: at most one frame per
`gap` seconds of a bag, so that a stretch the models find hard gives one frame, not a run of
near-identical neighbours. It works on the rows of the whole replay, which are the same whether
the bags ran in one process or on Ray: the frames mined are the same too.

Output (`write_mined`), in OUT/mined/:
- rgb/NAME.png and thermal/NAME.png (16-bit where the bag's thermal is 16-bit; 32-bit float TIFF
  for 32FC1), NAME = <bag>_<stamp_ns>;
- manifest.csv: rank, bag, stamp_ns, uncertainty and its parts, the files;
- cvat/task.zip (the RGB images, each with its thermal image as a CVAT "related image") and
  cvat/labels.json (the label set, for the task's Raw labels editor): docs/mining.md says how to
  label them and bring the labels back (`rgbt-labels cvat`).
"""

from __future__ import annotations

import csv
import json
import math
import zipfile
from pathlib import Path

import cv2
import numpy as np

from rgbt_models.data.cvat import SALIENT
from rgbt_models.data.rosbag import decode_pair, read_pairs

MANIFEST = ("rank", "bag", "stamp_ns", "uncertainty", "uncertainty_saliency", "uncertainty_semantic", "rgb",
            "thermal")


def select(rows: list[dict], count: int, gap: float) -> list[dict]:
    """The `count` rows of highest `uncertainty` with no two of one bag within `gap` seconds;
    ties broken by bag and stamp, so that the choice never depends on the order rows came in.
    Frames without live thermal (missing or frozen) are not mined: their difficulty is the
    sensor's, and a label on them teaches the fused model nothing."""
    candidates = sorted((row for row in rows if math.isfinite(row.get("uncertainty", math.nan))
                         and not int(row.get("degraded", 0)) and not int(row.get("thermal_frozen", 0))),
                        key=lambda row: (-row["uncertainty"], str(row.get("bag", "")), row["stamp_ns"]))
    gap_ns = int(gap * 1e9)
    chosen: list[dict] = []
    taken: dict[str, list[int]] = {}
    for row in candidates:
        if len(chosen) == count:
            break
        stamps = taken.setdefault(str(row.get("bag", "")), [])
        if any(abs(row["stamp_ns"] - stamp) < gap_ns for stamp in stamps):
            continue
        stamps.append(row["stamp_ns"])
        chosen.append(row)
    return chosen


def frame_name(bag: str, stamp_ns: int) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(bag.rstrip("/")).name) or "bag"
    return f"{stem}_{stamp_ns}"


def write_thermal(path: Path, thermal: np.ndarray) -> Path:
    """Thermal as the bag has it: 8- or 16-bit PNG, or 32-bit float TIFF (32FC1)."""
    if thermal.dtype == np.float32:
        path = path.with_suffix(".tiff")
    cv2.imwrite(str(path), thermal)
    return path


def thermal_view(thermal: np.ndarray) -> np.ndarray:
    """An 8-bit view of a thermal image for people (1-99 % of its finite values stretched)."""
    values = thermal.astype(np.float64)
    finite = values[np.isfinite(values)]
    low, high = (np.percentile(finite, (1, 99)) if finite.size else (0.0, 1.0))
    return (np.clip((np.nan_to_num(values, nan=low) - low) / max(high - low, 1e-9), 0, 1) * 255).astype(np.uint8)


def write_mined(folder: Path, chosen: list[dict], settings, class_names: list[str] | None) -> Path:
    """The chosen frames' images (read again from their bags), manifest.csv and the CVAT files."""
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("rgb", "thermal", "cvat"):
        (folder / sub).mkdir(exist_ok=True)
    wanted = {(str(row["bag"]), row["stamp_ns"]): rank for rank, row in enumerate(chosen, 1)}
    written: dict[int, dict] = {}
    for bag in dict.fromkeys(str(row["bag"]) for row in chosen):
        stamps = {stamp for (b, stamp) in wanted if b == bag}
        pairs = read_pairs(bag, settings.rgb_topic, settings.thermal_topic, settings.sync_slop,
                           settings.sync_queue_size, thermal_timeout=settings.thermal_timeout,
                           policy=settings.sync_policy, max_age=settings.sync_max_age)
        for pair in pairs:
            if pair.stamp_ns not in stamps:
                continue
            rgb, thermal = decode_pair(pair)
            name = frame_name(bag, pair.stamp_ns)
            cv2.imwrite(str(folder / "rgb" / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            thermal_file = write_thermal(folder / "thermal" / f"{name}.png", thermal) if thermal is not None else None
            written[wanted[(bag, pair.stamp_ns)]] = {"name": name, "thermal": thermal, "thermal_file": thermal_file}
            stamps.discard(pair.stamp_ns)
            if not stamps:  # the bag's last chosen frame: the rest of it is not read
                break
    rows = []
    for rank, row in enumerate(chosen, 1):
        files = written.get(rank)
        if files is None:
            raise ValueError(f"{row['bag']}: the frame at {row['stamp_ns']} could not be read again")
        rows.append({"rank": rank, "bag": row["bag"], "stamp_ns": row["stamp_ns"], "uncertainty": row["uncertainty"],
                     "uncertainty_saliency": row.get("uncertainty_saliency"),
                     "uncertainty_semantic": row.get("uncertainty_semantic"),
                     "rgb": f"rgb/{files['name']}.png",
                     "thermal": f"thermal/{files['thermal_file'].name}" if files["thermal_file"] else ""})
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST)
        writer.writeheader()
        writer.writerows(rows)
    write_cvat_task(folder, [written[rank] for rank in sorted(written)], class_names)
    return folder


def write_cvat_task(folder: Path, frames: list[dict], class_names: list[str] | None) -> None:
    """cvat/task.zip (NAME.png, and related_images/NAME_png/thermal.png: CVAT's related images
    of a 2D task, shown beside the image being labelled) and cvat/labels.json (CVAT's raw label
    format: the model's classes, background first, and `salient`)."""
    with zipfile.ZipFile(folder / "cvat" / "task.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for frame in frames:
            name = frame["name"]
            archive.write(folder / "rgb" / f"{name}.png", f"{name}.png")
            if frame["thermal"] is not None:
                _, png = cv2.imencode(".png", thermal_view(frame["thermal"]))
                archive.writestr(f"related_images/{name}_png/thermal.png", png.tobytes())
    names = [n for n in (class_names or ["background"]) if n != SALIENT] + [SALIENT]
    colors = label_colors(len(names))
    labels = [{"name": name, "color": "#{:02x}{:02x}{:02x}".format(*color), "type": "any", "attributes": []}
              for name, color in zip(names, colors)]
    (folder / "cvat" / "labels.json").write_text(json.dumps(labels, indent=1))


def label_colors(count: int) -> list[tuple[int, int, int]]:
    """Distinct colours, black first (CVAT's mask export paints unlabelled pixels black)."""
    colors = [(0, 0, 0)]
    for index in range(1, count):
        hue = int(180 * (index - 1) / max(count - 1, 1))
        bgr = cv2.cvtColor(np.uint8([[[hue, 200, 230]]]), cv2.COLOR_HSV2BGR)[0, 0]
        colors.append((int(bgr[2]), int(bgr[1]), int(bgr[0])))
    return colors

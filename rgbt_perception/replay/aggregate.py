"""Shards back into one report: exactly what one pass over the bags would have written.

Confusion matrices are summed and the metrics computed once; saliency per-image values are
merged in bag order, then stamp order (the order one pass steps them); counts are summed; rows
are sorted by (bag, stamp) and numbered per bag as one pass numbers them. The top level of the
summary has the keys of a one-bag summary, for all bags together; `per_bag` has each bag's, and
`failed_bags` the bags that could not be read (which, and why).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from rgbt_models.metrics import ConfusionMatrix, SaliencyMetrics
from rgbt_perception.replay.shard import ShardResult

TIMING_KEYS = ("wall_seconds", "latency_ms")  # what differs between runs of the same frames


@dataclass
class Combined:
    """The merged accumulators of some shards (one bag's, or all)."""

    rows: list[dict]
    bad_frames: list[dict]
    counts: dict
    pair_ages_ms: list[float]
    stages: dict[str, list[float]]
    semantic: dict[str, ConfusionMatrix]
    saliency: dict[str, SaliencyMetrics]


def ordered(results: list[ShardResult]) -> list[ShardResult]:
    return sorted(results, key=lambda r: (r.shard.bag_index, r.shard.index))


def combine(results: list[ShardResult]) -> Combined:
    """Merge shards (in bag, then window order); frames are renumbered per bag by stamp."""
    counts: Counter = Counter()
    rows, bad, ages, stages = [], [], [], {}
    semantic: dict[str, ConfusionMatrix] = {}
    saliency: dict[str, SaliencyMetrics] = {}
    for result in ordered(results):
        counts.update(result.counts)
        ages += result.pair_ages_ms
        for stage, values in result.stages.items():
            stages.setdefault(stage, []).extend(values)
        for name, state in result.semantic.items():
            if name not in semantic:
                semantic[name] = ConfusionMatrix(len(result.class_names), result.ignore_index, result.class_names)
            semantic[name].merge(state)
        for name, state in result.saliency.items():
            saliency.setdefault(name, SaliencyMetrics()).merge(state)
        bag = result.shard.bag
        rows += [{"bag": bag, **row} for row in result.rows]
        bad += [{"bag": bag, **frame} for frame in result.bad_frames]
    renumber(rows, bad)
    return Combined(rows, bad, dict(counts), ages, stages, semantic, saliency)


def renumber(rows: list[dict], bad: list[dict]) -> None:
    """Frame numbers per bag in stamp order, over processed and bad frames alike (as one pass
    numbers the pairs it reads), and rows sorted by (bag, stamp)."""
    bag_order = {bag: i for i, bag in enumerate(dict.fromkeys(r["bag"] for r in [*rows, *bad]))}
    frames = sorted([*rows, *bad], key=lambda r: (bag_order[r["bag"]], r["stamp_ns"]))
    previous, number = None, 0
    for frame in frames:
        number = 0 if frame["bag"] != previous else number + 1
        frame["frame"], previous = number, frame["bag"]
    rows.sort(key=lambda r: (bag_order[r["bag"]], r["stamp_ns"]))
    bad.sort(key=lambda r: (bag_order[r["bag"]], r["stamp_ns"]))


def metric_results(combined: Combined) -> tuple[dict, dict]:
    """(saliency results with curves, semantic results with the summed confusion matrices)."""
    semantic = {k: m.results() | {"confusion_matrix": m.matrix.tolist()} for k, m in combined.semantic.items()
                if m.matrix.any()}
    saliency = {k: m.results() for k, m in combined.saliency.items() if m.count}
    return saliency, semantic


def uncertainty_summary(rows: list[dict], warn: float) -> dict | None:
    """The frames' label-free uncertainty: median (and per model), and the share above `warn`."""
    values = np.array([row.get("uncertainty", np.nan) for row in rows], float)
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    parts = {}
    for part in ("saliency", "semantic"):
        column = np.array([row.get(f"uncertainty_{part}", np.nan) for row in rows], float)
        column = column[np.isfinite(column)]
        parts[part] = float(np.median(column)) if column.size else None
    return {"median": float(np.median(values)), "p95": float(np.percentile(values, 95)), **parts,
            "warn": warn, "share_above_warn": float((values > warn).mean()), "frames": int(values.size)}


def temperature_summary(rows: list[dict]) -> dict | None:
    """The scene's temperatures over the frames (kelvin, thermal.camera's conversion): each
    class's median of its per-frame means, and the median hottest salient object; None without
    radiometric thermal. What a team checks its camera preset by (docs/thermal_cameras.md)."""
    per_class: dict[str, list[float]] = {}
    for row in rows:
        for word in str(row.get("class_temperatures_k") or "").split():
            name, _, kelvin = word.rpartition(":")
            per_class.setdefault(name, []).append(float(kelvin))
    hottest = np.array([row.get("hottest_object_k", np.nan) for row in rows], float)
    hottest = hottest[np.isfinite(hottest)]
    if not per_class and not hottest.size:
        return None
    return {"classes": {name: float(np.median(values)) for name, values in per_class.items()},
            "hottest_object": float(np.median(hottest)) if hottest.size else None}


def section(combined: Combined, wall: float, warn: float = 1.0) -> dict:
    """The keys of a one-bag summary (timings included), for the frames of `combined`; `warn`:
    the node's uncertainty.warn."""
    saliency, semantic = metric_results(combined)
    ages = combined.pair_ages_ms
    return {"frames_processed": len(combined.rows), "counts": combined.counts, "wall_seconds": wall,
            "uncertainty": uncertainty_summary(combined.rows, warn),
            "temperatures_k": temperature_summary(combined.rows),
            "pair_age_ms": ({"median": float(np.median(ages)), "p95": float(np.percentile(ages, 95)),
                             "max": float(np.max(ages)), "pairs": len(ages)} if ages else None),
            "latency_ms": {s: {"median": 1000 * float(np.median(v)), "p95": 1000 * float(np.percentile(v, 95))}
                           for s, v in combined.stages.items() if v},
            "saliency": {k: {m: v for m, v in r.items() if m != "curves"} for k, r in saliency.items()},
            "semantic": semantic, "bad_frames": len(combined.bad_frames),
            "bad_frame_details": combined.bad_frames}


def per_bag(results: list[ShardResult], warn: float = 1.0) -> tuple[dict, list[dict]]:
    """({bag: its section}, [{bag, error}] for bags that could not be read)."""
    bags: dict[str, list[ShardResult]] = {}
    for result in ordered(results):
        bags.setdefault(result.shard.bag, []).append(result)
    sections, failed = {}, []
    for bag, shards in bags.items():
        errors = [r.error for r in shards if r.error]
        if errors:
            failed.append({"bag": bag, "error": errors[0]})
            continue
        sections[bag] = section(combine(shards), sum(r.wall_seconds for r in shards), warn) | {"shards": len(shards)}
    return sections, failed


def worst_bags(sections: dict, count: int = 5) -> list[dict]:
    """The bags to look at first: lowest mIoU, else lowest S-measure (bags with labels), else
    highest median uncertainty (without), else most bad frames."""
    def score(part: dict) -> tuple[str, float]:
        semantic, saliency = part["semantic"].get("with thermal"), part["saliency"].get("with thermal")
        if semantic:
            return "mIoU", semantic["mIoU"]
        if saliency:
            return "S", saliency["S"]
        if part.get("uncertainty"):
            return "uncertainty", -part["uncertainty"]["median"]
        return "bad frames", -part["bad_frames"]

    scored = sorted(((score(part), bag, part) for bag, part in sections.items()), key=lambda item: item[0][1])
    return [{"bag": bag, "by": by, "value": abs(value), "frames_processed": part["frames_processed"]}
            for (by, value), bag, part in scored[:count]]


def without_timings(summary: dict) -> dict:
    """A summary with what differs between runs of the same frames left out (for comparing runs)."""
    drop = (*TIMING_KEYS, "plots", "markdown")
    out = {k: v for k, v in summary.items() if k not in drop}
    if "per_bag" in out:
        out["per_bag"] = {bag: {k: v for k, v in part.items() if k not in drop} for bag, part in out["per_bag"].items()}
    return out

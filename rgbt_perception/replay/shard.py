"""One shard of a replay: a bag, or a window of its RGB stamps, through the node's pipeline.

The unit of work of rgbt-replay, whatever runs it (one process, or a Ray worker): bag path in,
per-frame rows and mergeable metric state out (confusion matrices, saliency per-image values,
counts, stage timings): never images. `run_shard` is the loop body that every engine shares;
aggregate.py combines shards into the one-pass report.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from rgbt_models.data.classes import check_label_ids, class_list, label_lookup
from rgbt_models.data.datasets import DatasetError
from rgbt_models.data.image_codec import BadImage, decode_thermal, image_to_array
from rgbt_models.data.rosbag import StampWindow, decode_pair, read_pairs
from rgbt_models.metrics import ConfusionMatrix, SaliencyMetrics
from rgbt_perception.overlay import overlay
from rgbt_perception.pipeline import FrameRejected

WITH_THERMAL, BLANKED = "with thermal", "thermal blanked"
RGB_ONLY, DEGRADED = "RGB-only head", "degraded frames (thermal missing or frozen)"


@dataclass(frozen=True)
class Shard:
    """A bag (the `bag_index`-th of the run) or one window of it (`index` of `of`)."""

    bag: str
    bag_index: int = 0
    index: int = 0
    of: int = 1
    window: StampWindow = field(default_factory=StampWindow)

    @property
    def key(self) -> str:
        """The shard's name in the output folder's parts/ (stable across runs of the same plan)."""
        return f"{self.bag_index:05d}-{self.index:05d}-of-{self.of:05d}"


@dataclass(frozen=True)
class ReplaySettings:
    """What a shard needs of rgbt-replay's arguments (picklable, sent to every worker)."""

    rgb_topic: str
    thermal_topic: str
    label_topic: str | None = None
    mask_topic: str | None = None
    label_classes: str | None = None
    class_mapping: str | None = None
    truth_dir: str | None = None
    truth_key: str = "stamp"
    compare_without_thermal: bool = False
    max_frames: int | None = None
    overlay_every: int = 0
    overlay_dir: str | None = None
    # the node's pairing parameters (sync.*, thermal.timeout)
    sync_slop: float = 0.05
    sync_queue_size: int = 10
    sync_policy: str = "exact"
    sync_max_age: float = 0.15
    thermal_timeout: float = 1.0

    @classmethod
    def from_arguments(cls, args, params: dict, overlay_dir: str | None) -> ReplaySettings:
        """rgbt-replay's parsed arguments and the node parameters it runs with."""
        names = ("rgb_topic", "thermal_topic", "label_topic", "mask_topic", "label_classes", "class_mapping",
                 "truth_dir", "truth_key", "compare_without_thermal", "max_frames", "overlay_every")
        return cls(**{n: getattr(args, n) for n in names}, overlay_dir=overlay_dir, sync_slop=params["sync.slop"],
                   sync_queue_size=params["sync.queue_size"], sync_policy=params["sync.policy"],
                   sync_max_age=params["sync.max_age"], thermal_timeout=params["thermal.timeout"])


@dataclass
class ShardResult:
    """What one shard found: enough to rebuild the one-pass report exactly."""

    shard: Shard
    rows: list[dict] = field(default_factory=list)
    bad_frames: list[dict] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    pair_ages_ms: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    semantic: dict[str, dict] = field(default_factory=dict)  # ConfusionMatrix.state()
    saliency: dict[str, dict] = field(default_factory=dict)  # SaliencyMetrics.state()
    wall_seconds: float = 0.0
    error: str | None = None  # the bag could not be read: why
    runtime: str = ""  # what ran the models, for the report
    class_names: tuple[str, ...] | None = None  # SARTM's classes (None: no SARTM)
    ignore_index: int = 255


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


class Scorer:
    """The metrics of one shard: which accumulators exist, and what a frame adds to them."""

    def __init__(self, pipeline, settings: ReplaySettings) -> None:
        self.pipeline, self.settings = pipeline, settings
        sartm = pipeline.sartm
        self.lookup = None
        if sartm is not None and (settings.label_topic or settings.truth_dir):
            self.lookup = label_lookup(sartm.classes, class_list(settings.label_classes)
                                       if settings.label_classes else None, settings.class_mapping, what="ground truth")
        names = [WITH_THERMAL] + ([BLANKED] if settings.compare_without_thermal else [])
        self.semantic = {n: ConfusionMatrix(sartm.classes.num_classes, sartm.classes.ignore_index,
                                            sartm.classes.names) for n in names} if sartm is not None else {}
        saliency_names = ([WITH_THERMAL] + ([RGB_ONLY] if settings.compare_without_thermal else [])
                          if pipeline.samsod is not None else [])
        self.saliency = {n: SaliencyMetrics() for n in [*saliency_names, DEGRADED]}
        self.truth_dir = TruthFolder(Path(settings.truth_dir), settings.truth_key) if settings.truth_dir else None

    def score(self, pair, index: int, rgb, thermal, result, row: dict) -> None:
        """Step the metrics with one frame's outputs against its ground truth (if any)."""
        settings, pipeline, sartm = self.settings, self.pipeline, self.pipeline.sartm
        label = truth(pair, settings.label_topic, self.truth_dir, "labels", index)
        mask = truth(pair, settings.mask_topic, self.truth_dir, "masks", index)
        if label is not None and sartm is not None:
            label = self.lookup[label] if self.lookup is not None else label
            check_label_ids(label, sartm.classes, f"ground truth of frame {index} (stamp {pair.stamp_ns})")
            check_scoring_size(label, rgb)
        if mask is not None:
            check_scoring_size(mask, rgb)
        if label is not None and result.semantic_mask is not None:
            self.semantic[WITH_THERMAL].step(result.semantic_mask, label)
        if mask is not None and result.saliency_map is not None:
            self.saliency[DEGRADED if result.degraded else WITH_THERMAL].step(result.saliency_map, mask)
            row["saliency_mae"] = round(float(np.abs(result.saliency_map / 255.0 - (mask > 128)).mean()), 4)
        if settings.compare_without_thermal and thermal is not None:
            if mask is not None and pipeline.samsod is not None:
                self.saliency[RGB_ONLY].step(pipeline.run(rgb, None).saliency_map, mask)
            if label is not None and sartm is not None:
                self.semantic[BLANKED].step(pipeline.run(rgb, np.zeros_like(thermal)).semantic_mask, label)

    def into(self, result: ShardResult) -> None:
        result.semantic = {name: m.state() for name, m in self.semantic.items()}
        result.saliency = {name: m.state() for name, m in self.saliency.items()}


def run_shard(pipeline, shard: Shard, settings: ReplaySettings, sinks=None) -> ShardResult:
    """The shard through `pipeline` (built once per worker; its stream state is reset here).
    `sinks` (one-bag runs): video / recorder objects with add(panel) / write(pair, result).
    A bag that cannot be read comes back with `error` set rather than raised: the other shards
    of a fleet go on."""
    pipeline.reset_stream_state()
    sartm = pipeline.sartm
    result = ShardResult(shard, runtime=pipeline.runtime,
                         class_names=tuple(sartm.classes.names) if sartm is not None else None,
                         ignore_index=sartm.classes.ignore_index if sartm is not None else 255)
    started = time.perf_counter()
    try:
        scorer = Scorer(pipeline, settings)
        replay_pairs(pipeline, shard, settings, scorer, result, sinks)
        scorer.into(result)
    except DatasetError as error:
        result.error = str(error)
    result.wall_seconds = time.perf_counter() - started
    return result


def replay_pairs(pipeline, shard: Shard, settings: ReplaySettings, scorer: Scorer, result: ShardResult,
                 sinks) -> None:
    """Every pair of the shard: the lead-in only tracked, the window's run, scored and rowed."""
    truth_topics = tuple(t for t in (settings.label_topic, settings.mask_topic) if t)
    stages: dict[str, list[float]] = defaultdict(list)
    pairs = read_pairs(shard.bag, settings.rgb_topic, settings.thermal_topic, settings.sync_slop,
                       settings.sync_queue_size, truth_topics, result.counts, thermal_timeout=settings.thermal_timeout,
                       policy=settings.sync_policy, max_age=settings.sync_max_age, window=shard.window)
    index = -1
    for pair in pairs:
        thermal_stamp = None if pair.thermal is None else (pair.stamp_ns - pair.age_ns) / 1e9
        if not pair.in_window:
            if pair.stamp_ns < (shard.window.start_ns or 0):  # the lead-in: the stream state only
                track(pipeline, pair, thermal_stamp)
            continue
        index += 1
        if settings.max_frames and index >= settings.max_frames:
            break
        if pair.age_ns is not None:
            result.pair_ages_ms.append(abs(pair.age_ns) / 1e6)
        t0 = time.perf_counter()
        try:  # a bad frame is skipped and reported, as the node would skip it
            rgb, thermal = decode_pair(pair)
            stages["decode"].append(time.perf_counter() - t0)
            frame = pipeline.run(rgb, thermal, thermal_stamp=thermal_stamp)
        except (BadImage, FrameRejected, ValueError) as error:
            result.bad_frames.append({"frame": index, "stamp_ns": pair.stamp_ns, "reason": str(error)})
            continue
        uncertainty = frame.uncertainty  # measured now, so that its time is among the stages
        for stage, seconds in frame.timings.items():
            stages[stage].append(seconds)
        result.counts["thermal_frozen"] = result.counts.get("thermal_frozen", 0) + int(frame.thermal_frozen)
        row = {"frame": index, "stamp_ns": pair.stamp_ns, "degraded": int(frame.degraded),
               "thermal_frozen": int(frame.thermal_frozen), **{f"{k}_ms": round(1000 * v, 2) for k, v in
                                                                frame.timings.items()},
               "classes": " ".join(s.name for s in frame.class_stats), "salient_objects": len(frame.objects),
               **temperature_columns(frame), **uncertainty_columns(uncertainty)}
        scorer.score(pair, index, rgb, thermal, frame, row)
        result.rows.append(row)
        write_side_outputs(pipeline, settings, shard, index, pair, rgb, thermal, frame, sinks)
    result.stages = dict(stages)


def temperature_columns(frame) -> dict[str, object]:
    """frames.csv's temperature columns (kelvin, from thermal.camera's conversion; empty / NaN
    without radiometric thermal): each class's mean as `name:K` words, the hottest salient object."""
    classes = " ".join(f"{s.name}:{s.mean_temperature:.1f}" for s in frame.class_stats
                       if np.isfinite(s.mean_temperature))
    hottest = [o.max_temperature for o in frame.objects if np.isfinite(o.max_temperature)]
    return {"class_temperatures_k": classes, "hottest_object_k": round(max(hottest), 1) if hottest else float("nan")}


def uncertainty_columns(parts: dict[str, float]) -> dict[str, float]:
    """frames.csv's uncertainty columns: `uncertainty` (combined) and one per model (NaN: did not run)."""
    return {"uncertainty": round(parts.get("combined", float("nan")), 5),
            "uncertainty_saliency": round(parts.get("saliency", float("nan")), 5),
            "uncertainty_semantic": round(parts.get("semantic", float("nan")), 5)}


def track(pipeline, pair, thermal_stamp: float | None) -> None:
    """A lead-in frame: only its thermal image is tracked (the RGB image is never looked at)."""
    if pair.thermal is None:
        return
    try:
        thermal = decode_thermal(pair.thermal)
    except (BadImage, ValueError):
        return
    pipeline.track(thermal, thermal_stamp)


def write_side_outputs(pipeline, settings: ReplaySettings, shard: Shard, index: int, pair, rgb, thermal, frame,
                       sinks) -> None:
    """Overlay PNGs every `overlay_every` frames of a shard (a one-bag run: <frame>.png; else
    <bag number>_<stamp>.png), and the one-bag run's video and outputs bag."""
    video = getattr(sinks, "video", None)
    due = settings.overlay_every and index % settings.overlay_every == 0
    if due or video is not None:
        sartm = pipeline.sartm
        panel = overlay(rgb, thermal, frame, pipeline.config.thermal, sartm.classes if sartm is not None else None)
        if due and settings.overlay_dir:
            name = f"{index:05d}.png" if sinks is not None else f"{shard.bag_index:04d}_{pair.stamp_ns}.png"
            cv2.imwrite(str(Path(settings.overlay_dir) / name), cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
        if video is not None:
            video.add(panel)
    recorder = getattr(sinks, "recorder", None)
    if recorder is not None:
        recorder.write(pair, frame)


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

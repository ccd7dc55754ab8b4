"""Unlabeled RGB-T data for UUSOD: rosbag2 bags, the published data set layouts with their labels
ignored, a plain rgb/ thermal/ folder, or synthetic scenes.

Labels cannot reach training by construction: these loaders index and read only the RGB and
thermal files (a label folder is never listed, no label file is opened), and their samples
have no label or mask. Evaluation against labels, where they exist, goes through the ordinary
labelled loaders (rgbt_models.data.datasets), separately.

Source specs (`uusod.data.sources` in the YAML, one or more):
  bag:PATH:RGB_TOPIC:THERMAL_TOPIC     rosbag2 folder or file (mcap / sqlite3), the node's pairing
  folder:ROOT                          ROOT/rgb + ROOT/thermal
  vt5000:ROOT[:SPLIT] vt1000:ROOT vt821:ROOT    RGB/ + T/
  pst900:ROOT[:SPLIT] fmb:ROOT[:SPLIT] mfnet:ROOT[:SPLIT]
  synthetic:COUNT[:FIRST_SEED[:DOMAIN]]  DOMAIN: day | night | fog | mixed (the drive's scenes)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rgbt_models.data.datasets import DatasetError, Sample, pair_by_stem, read_gray, read_image, read_rgb, read_split
from rgbt_models.data.geometry import resize_rgb

# layout name -> (RGB folder, thermal folder), relative to ROOT[/SPLIT]
FOLDER_LAYOUTS = {"folder": ("rgb", "thermal"), "vt5000": ("RGB", "T"), "vt1000": ("RGB", "T"),
                  "vt821": ("RGB", "T"), "pst900": ("rgb", "thermal"), "fmb": ("Visible", "Infrared")}
DEFAULT_SPLIT = {"vt5000": "Train", "pst900": "train", "fmb": "train", "mfnet": "train"}
DOMAINS = ("day", "night", "fog", "blackhot", "mixed")


class UnlabeledFolder:
    """RGB + thermal files of a folder layout, paired by name; nothing else is listed or read."""

    def __init__(self, base: Path, rgb: str, thermal: str) -> None:
        self.entries = pair_by_stem({"rgb": base / rgb, "thermal": base / thermal})
        if not self.entries:
            raise DatasetError(f"{base}: no RGB-thermal pairs")

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Sample:
        name, paths = self.entries[index]
        return Sample(name, read_rgb(paths["rgb"]), read_gray(paths["thermal"]))


class UnlabeledMFNet:
    """MFNet's 4-channel images of a split; labels/ is never touched."""

    def __init__(self, root: Path, split: str) -> None:
        names = read_split(root / f"{split}.txt")
        self.entries = pair_by_stem({"image": root / "images"}, names)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> Sample:
        name, paths = self.entries[index]
        image = read_image(paths["image"])
        if image.ndim != 3 or image.shape[2] != 4:
            raise DatasetError(f"{paths['image']}: MFNet images have 4 channels (RGB + thermal)")
        return Sample(name, cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB), np.ascontiguousarray(image[..., 3]))


class UnlabeledBag:
    """Synchronized pairs of a bag (the node's pairing rule), decoded once and kept at the model
    input size (RGB uint8, thermal raw in its own type: the thermal set-up is applied later, as
    for every other source), every `every`-th pair, at most `max_pairs`."""

    def __init__(self, path: str, rgb_topic: str, thermal_topic: str, height: int, width: int, every: int = 1,
                 max_pairs: int = 0) -> None:
        from rgbt_models.data.rosbag import decode_pair, read_pairs

        self.frames: list[Sample] = []
        pairs = [p for p in read_pairs(path, rgb_topic, thermal_topic) if p.thermal is not None]
        for index, pair in enumerate(pairs[::max(1, every)]):
            if max_pairs and index >= max_pairs:
                break
            rgb, thermal = decode_pair(pair)
            rgb8 = (resize_rgb(rgb, height, width) * 255 + 0.5).astype(np.uint8)
            raw = cv2.resize(thermal, (width, height), interpolation=cv2.INTER_AREA)  # the dtype is kept
            self.frames.append(Sample(f"{Path(path).name}_{pair.stamp_ns}", rgb8, raw))
        if not self.frames:
            raise DatasetError(f"{path}: no RGB-thermal pairs on {rgb_topic} and {thermal_topic}")

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, index: int) -> Sample:
        return self.frames[index]


class UnlabeledSynthetic:
    """Synthetic scenes without their labels; DOMAIN shifts them (night: dark RGB; fog: low
    RGB contrast and a noisy, blurred thermal camera with another gain; blackhot: a thermal camera
    set to black-hot polarity; mixed: day or night)."""

    def __init__(self, count: int, first_seed: int = 0, domain: str = "mixed", height: int = 128,
                 width: int = 160) -> None:
        if domain not in DOMAINS:
            raise DatasetError(f"synthetic domain must be one of {DOMAINS}, got {domain!r}")
        self.count, self.first_seed, self.domain, self.height, self.width = count, first_seed, domain, height, width

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Sample:
        scene = synthetic_scene(self.first_seed + index, self.domain, self.height, self.width)
        return Sample(f"synthetic_{self.domain}_{self.first_seed + index:06d}", scene.rgb, scene.thermal_raw)


def synthetic_scene(seed: int, domain: str, height: int, width: int):
    """A synthetic scene in a domain (with its truth, for evaluation only)."""
    from rgbt_models.data.synthetic import make_scene

    night = {"day": False, "night": True, "fog": False, "blackhot": None, "mixed": None}[domain]
    scene = make_scene(seed, height, width, night=night)
    if domain == "fog":
        rng = np.random.default_rng(seed)
        rgb = scene.rgb.astype(np.float32)
        scene.rgb = (0.35 * rgb + 0.65 * 200).astype(np.uint8)  # veiled, low-contrast RGB
        thermal = cv2.GaussianBlur(scene.thermal_raw.astype(np.float32), (7, 7), 2.0)
        thermal = 0.6 * thermal + 9000 + rng.normal(0, 60, thermal.shape)  # other gain, offset, noise
        scene.thermal_raw = np.clip(thermal, 0, 65535).astype(np.uint16)
    if domain == "blackhot":  # a thermal camera set to black-hot: warm objects are dark
        scene.thermal_raw = (65535 - scene.thermal_raw.astype(np.int64)).astype(np.uint16)
        scene.thermal = 255 - scene.thermal
    return scene


def open_unlabeled(spec: str, height: int, width: int):
    """A source spec (see the module docstring) -> a loader of label-free Samples."""
    kind, _, rest = spec.partition(":")
    parts = rest.split(":") if rest else []
    if kind == "bag":
        if len(parts) != 3:
            raise DatasetError(f"{spec!r}: expected bag:PATH:RGB_TOPIC:THERMAL_TOPIC")
        return UnlabeledBag(parts[0], parts[1], parts[2], height, width)
    if kind == "synthetic":
        count = int(parts[0]) if parts else 64
        first = int(parts[1]) if len(parts) > 1 else 0
        return UnlabeledSynthetic(count, first, parts[2] if len(parts) > 2 else "mixed")
    if not parts:
        raise DatasetError(f"{spec!r}: {kind} needs a root folder ({kind}:ROOT[:SPLIT])")
    root, split = Path(parts[0]), (parts[1] if len(parts) > 1 else DEFAULT_SPLIT.get(kind))
    if kind == "mfnet":
        return UnlabeledMFNet(root, split)
    if kind not in FOLDER_LAYOUTS:
        raise DatasetError(f"unknown unlabeled source {kind!r}; choose bag, folder, synthetic, mfnet or one of "
                           f"{sorted(FOLDER_LAYOUTS)}")
    base = root / split if split and kind not in ("folder", "vt1000", "vt821") else root
    return UnlabeledFolder(base, *FOLDER_LAYOUTS[kind])


# -- evaluation only: the hidden truth of synthetic samples and labelled evaluation sets ---------
def synthetic_truth(name: str, height: int, width: int) -> np.ndarray | None:
    """The saliency truth (uint8 0/255 at height x width) of a synthetic sample named by
    UnlabeledSynthetic, regenerated from its seed; None for any other sample. Used to report
    pseudo-label quality, never for training."""
    parts = name.split("_")
    if len(parts) != 3 or parts[0] != "synthetic" or parts[1] not in DOMAINS:
        return None
    scene = synthetic_scene(int(parts[2]), parts[1], 128, 160)
    return cv2.resize(scene.saliency, (width, height), interpolation=cv2.INTER_NEAREST)


class LabelledSynthetic:
    """Synthetic scenes of a domain with their saliency masks, for evaluation."""

    task = "saliency"

    def __init__(self, count: int, first_seed: int, domain: str) -> None:
        self.count, self.first_seed, self.domain = count, first_seed, domain

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Sample:
        scene = synthetic_scene(self.first_seed + index, self.domain, 128, 160)
        return Sample(f"eval_{self.domain}_{index}", scene.rgb, scene.thermal_raw, mask=scene.saliency)


def open_labelled(spec: str):
    """An evaluation set: synthetic:COUNT:FIRST_SEED:DOMAIN, or rgbt-eval's NAME[:ROOT[:SPLIT]]."""
    kind, _, rest = spec.partition(":")
    if kind == "synthetic":
        given = [part for part in rest.split(":") if part]
        count, first, domain = (given + ["32", "1000000", "mixed"][len(given):])[:3]
        return LabelledSynthetic(int(count), int(first), domain)
    from rgbt_models.data.datasets import open_dataset

    root, _, split = rest.partition(":")
    return open_dataset(kind, root or None, split or None)

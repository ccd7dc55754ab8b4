"""Unlabeled RGB-T data for UUSOD: rosbag2 bags, the published data set layouts with their labels
ignored, a plain rgb/ thermal/ folder, or synthetic scenes.

The layouts are described once, by the labelled loaders (rgbt_models.data.datasets); UUSOD opens
them with labels=False, and labels cannot reach training by construction: a label folder is
never listed, no label file is opened, and the samples have no label or mask. Bags are read by
the same BagDataset (no truth topics), kept at the model input size. Evaluation against labels,
where they exist, opens the same loaders with labels on, separately.

Source specs (`uusod.data.sources` in the YAML, one or more):
  bag:PATH:RGB_TOPIC:THERMAL_TOPIC     rosbag2 folder or file (mcap / sqlite3), the node's pairing;
                                       registered by data.homography where one is given
  folder:ROOT                          ROOT/rgb + ROOT/thermal
  vt5000:ROOT[:SPLIT] vt1000:ROOT vt821:ROOT    RGB/ + T/
  pst900:ROOT[:SPLIT] fmb:ROOT[:SPLIT] mfnet:ROOT[:SPLIT]
  synthetic:COUNT[:FIRST_SEED[:DOMAIN]]  DOMAIN: day | night | fog | mixed (the drive's scenes)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rgbt_models.data.datasets import DatasetError, Sample, open_dataset, open_spec, parse_spec
from rgbt_models.data.geometry import resize_rgb, resize_thermal
from rgbt_models.data.registration import unit_thermal_on_rgb_grid
from rgbt_models.data.thermal import ThermalSetup

DOMAINS = ("day", "night", "fog", "blackhot", "mixed")


class BagFramesAtInputSize:
    """A bag's synchronized pairs (rgbt_models.data.rosbag.BagDataset, no truth topics: the
    node's pairing), decoded once and kept at the model input size (RGB uint8, thermal raw in its
    own type: the thermal set-up is applied later, as for every other source), named by bag and
    stamp so that two bags' frames never share a pseudo-label.

    `registration` (the thermal set-up and the rig's thermal -> RGB homography): the frames are
    brought onto the RGB grid as the node does (set-up, warp, resize) before they are kept, and
    `unit_thermal` says that their thermal is in [0, 1] already."""

    def __init__(self, path: str, rgb_topic: str, thermal_topic: str, height: int, width: int,
                 registration: tuple[ThermalSetup, np.ndarray] | None = None) -> None:
        from rgbt_models.data.rosbag import BagDataset

        bag, self.frames = BagDataset(path, rgb_topic, thermal_topic), []
        self.unit_thermal = registration is not None
        for index in range(len(bag)):
            sample = bag[index]
            rgb8 = (resize_rgb(sample.rgb, height, width) * 255 + 0.5).astype(np.uint8)
            if registration is None:
                thermal = cv2.resize(sample.thermal, (width, height), interpolation=cv2.INTER_AREA)  # dtype kept
            else:
                setup, homography = registration
                unit = unit_thermal_on_rgb_grid(sample.thermal, setup, homography, sample.rgb.shape)
                thermal = resize_thermal(unit, height, width)
            self.frames.append(Sample(f"{Path(path).name}_{sample.name}", rgb8, thermal))

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


def open_unlabeled(spec: str, height: int, width: int, registration: tuple[ThermalSetup, np.ndarray] | None = None):
    """A source spec (see the module docstring) -> a loader of label-free Samples: the labelled
    data sets' own loaders with labels=False (rgbt_models.data.datasets). `registration` applies to
    bags, the rig's own recordings (the published and folder layouts are registered already)."""
    kind, fields = parse_spec(spec)
    if kind == "bag":
        if len(fields) != 3:
            raise DatasetError(f"{spec!r}: expected bag:PATH:RGB_TOPIC:THERMAL_TOPIC")
        return BagFramesAtInputSize(*fields, height, width, registration)
    if kind == "synthetic":
        count, first, domain = [*fields, *["64", "0", "mixed"][len(fields):]][:3]
        return UnlabeledSynthetic(int(count), int(first), domain)
    if len(fields) > 2:
        raise DatasetError(f"{spec!r}: expected {kind}:ROOT[:SPLIT]")
    root, split = [*fields, "", ""][:2]
    return open_dataset(kind, root or None, split or None, labels=False)


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
    kind, fields = parse_spec(spec)
    if kind == "synthetic":
        given = [field for field in fields if field]
        count, first, domain = [*given, *["32", "1000000", "mixed"][len(given):]][:3]
        return LabelledSynthetic(int(count), int(first), domain)
    return open_spec(spec)[1]

"""Training / evaluation transforms: the shared geometry policy (data.geometry), joint
augmentation, per-modality photometry, thermal scaling.

Randomness comes from a numpy Generator the caller seeds (e.g. from (seed, epoch, index)),
so that an augmented sample is the same in every process and after a resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from rgbt_models.data.datasets import Sample
from rgbt_models.data.geometry import InputGeometry, resize_label, resize_mask, resize_rgb, resize_thermal
from rgbt_models.data.registration import unit_thermal_on_rgb_grid
from rgbt_models.data.thermal import ThermalSetup


@dataclass
class TransformConfig:
    height: int = 512
    width: int = 512
    train: bool = True
    hflip: bool = True
    scale_range: tuple[float, float] = (0.75, 1.25)
    brightness: float = 0.2  # RGB
    contrast: float = 0.2  # RGB and thermal
    thermal_normalization: str = "minmax"
    thermal_range: tuple[float, float] = (0.0, 65535.0)
    thermal_percentiles: tuple[float, float] = (1.0, 99.0)
    thermal_polarity: str = "white_hot"
    # Evaluation only: how a frame becomes the model's input where its checkpoint records another
    # rule than ours (rgbt-import: the authors' resize filter or padding); None: resize, area filter.
    geometry: InputGeometry | None = None
    # The thermal camera's 3x3 thermal -> RGB homography (data/registration.py), applied before the
    # resize as the node applies thermal.homography; None: the pair is registered already.
    homography: np.ndarray | None = None

    @staticmethod
    def thermal_fields(setup: ThermalSetup) -> dict:
        """The keyword arguments that give a TransformConfig `setup`."""
        return {"thermal_normalization": setup.normalization, "thermal_range": setup.range,
                "thermal_percentiles": setup.percentiles, "thermal_polarity": setup.polarity}

    @property
    def thermal_setup(self) -> ThermalSetup:
        return ThermalSetup(self.thermal_normalization, tuple(self.thermal_range), tuple(self.thermal_percentiles),
                            polarity=self.thermal_polarity)


def _photometric(image: np.ndarray, rng: np.random.Generator, brightness: float, contrast: float) -> np.ndarray:
    """image float [0, 1]: x' = (x - mean) * c + mean + b, clipped."""
    mean = float(image.mean())
    c = rng.uniform(1 - contrast, 1 + contrast)
    b = rng.uniform(-brightness, brightness)
    return np.clip((image - mean) * c + mean + b, 0, 1)


def _random_scale_crop(maps: list[np.ndarray | None], fills: list[float], height: int, width: int,
                       scale: float, rng: np.random.Generator, interpolations: list[int]) -> list[np.ndarray | None]:
    """Rescale every map by `scale`, then crop (scale > 1) or pad with `fills` (scale < 1) back to
    (height, width) at one random offset shared by all maps."""
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    y = int(rng.integers(0, abs(h - height) + 1))
    x = int(rng.integers(0, abs(w - width) + 1))
    pad_y, pad_x = (y if h < height else 0), (x if w < width else 0)
    crop_y, crop_x = (y if h > height else 0), (x if w > width else 0)
    out = []
    for image, fill, interpolation in zip(maps, fills, interpolations):
        if image is None:
            out.append(None)
            continue
        image = cv2.resize(image, (w, h), interpolation=interpolation)
        canvas = np.full((max(h, height), max(w, width), *image.shape[2:]), fill, image.dtype)
        canvas[pad_y:pad_y + h, pad_x:pad_x + w] = image
        out.append(canvas[crop_y:crop_y + height, crop_x:crop_x + width])
    return out


def apply_transform(sample: Sample, config: TransformConfig, rng: np.random.Generator | None = None,
                    label_lookup: np.ndarray | None = None) -> dict:
    """Sample -> tensors: rgb (3,H,W) and thermal (1,H,W) float [0,1] at the model input size
    (the geometry policy of `geometry`: the whole frame resized, as on the robot). Training: the
    label (H,W) int64 (255 ignore) and/or mask (1,H,W) float {0,1} at the same size, then one
    random scale + crop/pad + flip for all maps and photometric jitter per modality.
    Evaluation: label (h,w) int64 and/or mask (h,w) uint8 0..255 stay at their native size,
    because predictions are scored upsampled to it. `label_lookup` maps data-set ids to model ids."""
    rng = rng or np.random.default_rng(0)
    height, width = config.height, config.width
    content = (height, width)
    thermal01 = unit_thermal_on_rgb_grid(sample.thermal, config.thermal_setup, config.homography, sample.rgb.shape)
    if config.geometry is not None and not config.train:
        eight_bit = sample.thermal.dtype == np.uint8 and config.thermal_polarity == "white_hot"
        rgb, thermal, content = config.geometry.prepare(sample.rgb, thermal01, eight_bit, height, width)
    else:
        rgb = resize_rgb(sample.rgb, height, width)
        thermal = resize_thermal(thermal01, height, width)
    label, mask = sample.label, sample.mask
    if label is not None and label_lookup is not None:
        label = label_lookup[label]
    out = {"name": sample.name, "content": content}
    if config.train:
        label = resize_label(label, height, width) if label is not None else None
        mask = resize_mask(mask, height, width) if mask is not None else None
        scale = float(rng.uniform(*config.scale_range))
        if scale != 1.0:
            rgb, thermal, label, mask = _random_scale_crop(
                [rgb, thermal, label, mask], [0.0, 0.0, 255, 0], height, width, scale, rng,
                [cv2.INTER_LINEAR, cv2.INTER_LINEAR, cv2.INTER_NEAREST, cv2.INTER_LINEAR])
        if config.hflip and rng.random() < 0.5:
            rgb, thermal = rgb[:, ::-1], thermal[:, ::-1]
            label = label[:, ::-1] if label is not None else None
            mask = mask[:, ::-1] if mask is not None else None
        if config.brightness or config.contrast:
            rgb = _photometric(rgb, rng, config.brightness, config.contrast)
            thermal = _photometric(thermal, rng, 0.0, config.contrast)
        if label is not None:
            out["label"] = torch.from_numpy(np.ascontiguousarray(label)).long()
        if mask is not None:
            out["mask"] = (torch.from_numpy(np.ascontiguousarray(mask)).float()[None] / 255.0 > 0.5).float()
    else:
        if label is not None:
            out["label"] = torch.from_numpy(np.ascontiguousarray(label)).long()
        if mask is not None:
            out["mask"] = torch.from_numpy(np.ascontiguousarray(mask))
    out["rgb"] = torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1)
    out["thermal"] = torch.from_numpy(np.ascontiguousarray(thermal, np.float32))[None]
    return out


def collate_native(batch: list[dict]) -> dict:
    """Stack the model inputs; keep native-size labels / masks (sizes may differ) as lists."""
    out = {"rgb": torch.stack([b["rgb"] for b in batch]), "thermal": torch.stack([b["thermal"] for b in batch]),
           "name": [b["name"] for b in batch], "content": [b.get("content") for b in batch]}
    for key in ("label", "mask"):
        if key in batch[0]:
            out[key] = [b[key] for b in batch]
    return out


class TransformedDataset(torch.utils.data.Dataset):
    """A loader + transform for torch DataLoaders; set_epoch() changes the augmentation draw."""

    def __init__(self, base, config: TransformConfig, seed: int = 0, label_lookup: np.ndarray | None = None) -> None:
        self.base, self.config, self.seed, self.epoch = base, config, seed, 0
        self.label_lookup = label_lookup

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        return apply_transform(self.base[index], self.config, rng, self.label_lookup)

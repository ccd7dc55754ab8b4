"""Training / evaluation transforms: joint geometry, per-modality photometry, thermal scaling.

Randomness comes from a numpy Generator the caller seeds (e.g. from (seed, epoch, index)),
so that an augmented sample is the same in every process and after a resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from rgbt_models.data.datasets import Sample
from rgbt_models.data.thermal import normalize_thermal


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


def _photometric(image: np.ndarray, rng: np.random.Generator, brightness: float, contrast: float) -> np.ndarray:
    """image float [0, 1]: x' = (x - mean) * c + mean + b, clipped."""
    mean = float(image.mean())
    c = rng.uniform(1 - contrast, 1 + contrast)
    b = rng.uniform(-brightness, brightness)
    return np.clip((image - mean) * c + mean + b, 0, 1)


def apply_transform(sample: Sample, config: TransformConfig, rng: np.random.Generator | None = None) -> dict:
    """Sample -> tensors: rgb (3,H,W) and thermal (1,H,W) float [0,1], label (H,W) int64 (255
    ignore) and/or mask (1,H,W) float {0,1}. Training: random scale + crop + flip applied to all
    maps alike, photometric jitter per modality; evaluation: plain resize."""
    rng = rng or np.random.default_rng(0)
    rgb = sample.rgb.astype(np.float32) / 255.0
    thermal = normalize_thermal(sample.thermal, config.thermal_normalization, config.thermal_range)
    label, mask = sample.label, sample.mask
    height, width = config.height, config.width
    if config.train:
        scale = rng.uniform(*config.scale_range)
        h, w = max(height, int(rgb.shape[0] * scale)), max(width, int(rgb.shape[1] * scale))
        h, w = max(h, int(height * scale)), max(w, int(width * scale))
        rgb, thermal = cv2.resize(rgb, (w, h)), cv2.resize(thermal, (w, h))
        label = cv2.resize(label, (w, h), interpolation=cv2.INTER_NEAREST) if label is not None else None
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR) if mask is not None else None
        y, x = int(rng.integers(0, h - height + 1)), int(rng.integers(0, w - width + 1))
        crop = (slice(y, y + height), slice(x, x + width))
        rgb, thermal = rgb[crop], thermal[crop]
        label = label[crop] if label is not None else None
        mask = mask[crop] if mask is not None else None
        if config.hflip and rng.random() < 0.5:
            rgb, thermal = rgb[:, ::-1], thermal[:, ::-1]
            label = label[:, ::-1] if label is not None else None
            mask = mask[:, ::-1] if mask is not None else None
        rgb = _photometric(rgb, rng, config.brightness, config.contrast)
        thermal = _photometric(thermal, rng, 0.0, config.contrast)
    else:
        rgb, thermal = cv2.resize(rgb, (width, height)), cv2.resize(thermal, (width, height))
        label = cv2.resize(label, (width, height), interpolation=cv2.INTER_NEAREST) if label is not None else None
        mask = cv2.resize(mask, (width, height)) if mask is not None else None
    out = {"rgb": torch.from_numpy(np.ascontiguousarray(rgb, np.float32)).permute(2, 0, 1),
           "thermal": torch.from_numpy(np.ascontiguousarray(thermal, np.float32))[None], "name": sample.name}
    if label is not None:
        out["label"] = torch.from_numpy(np.ascontiguousarray(label)).long()
    if mask is not None:
        out["mask"] = (torch.from_numpy(np.ascontiguousarray(mask)).float()[None] / 255.0 > 0.5).float()
    return out


class TransformedDataset(torch.utils.data.Dataset):
    """A loader + transform for torch DataLoaders; set_epoch() changes the augmentation draw."""

    def __init__(self, base, config: TransformConfig, seed: int = 0) -> None:
        self.base, self.config, self.seed, self.epoch = base, config, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        return apply_transform(self.base[index], self.config, rng)

"""What every data source yields (a Sample of numpy arrays) and how it says its data is wrong."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class DatasetError(ValueError):
    """A data set folder or bag that cannot be read as expected; the message names the path."""


@dataclass
class Sample:
    """rgb (H, W, 3) uint8 RGB; thermal (H, W) uint8 or uint16 (raw); label (H, W) uint8 class
    ids (255 = ignore) for segmentation; mask (H, W) uint8 0..255 for saliency."""

    name: str
    rgb: np.ndarray
    thermal: np.ndarray
    label: np.ndarray | None = None
    mask: np.ndarray | None = None

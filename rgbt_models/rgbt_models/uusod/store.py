"""The pseudo-label store of UUSOD's stage 2 and adapter tuning: one 16-bit PNG per sample
(saliency 0..1 as 0..65535), each written atomically (temporary file + rename), so that a
killed run resumes with exactly the labels it had."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from rgbt_models.checkpoint import atomic_write

SCALE = 65535.0


class PseudoLabelStore:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.tmp"):  # a write that a kill interrupted
            stale.unlink(missing_ok=True)

    def path(self, name: str) -> Path:
        return self.folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".png")

    def __contains__(self, name: str) -> bool:
        return self.path(name).is_file()

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.png"))

    def write(self, name: str, saliency: np.ndarray) -> None:
        """Store a (H, W) map in [0, 1]."""
        data = (np.clip(np.asarray(saliency, np.float64), 0, 1) * SCALE + 0.5).astype(np.uint16)
        ok, encoded = cv2.imencode(".png", data)
        if not ok:
            raise OSError(f"{self.path(name)}: could not encode the pseudo-label")
        atomic_write(self.path(name), lambda handle: handle.write(encoded.tobytes()))

    def read(self, name: str) -> np.ndarray:
        """The (H, W) float32 map in [0, 1]."""
        image = cv2.imread(str(self.path(name)), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise FileNotFoundError(f"{self.path(name)}: no pseudo-label for {name!r}")
        return image.astype(np.float32) / np.float32(SCALE)

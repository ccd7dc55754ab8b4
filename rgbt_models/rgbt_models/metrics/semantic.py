"""Semantic segmentation metrics from one confusion matrix over the whole test set."""

from __future__ import annotations

import numpy as np


class ConfusionMatrix:
    """Rows: ground truth, columns: prediction. `step` adds an image; `results` gives per-class
    IoU and accuracy, mIoU and mAcc over all classes (as the field reports, background or
    'unlabeled' included) and without class 0.

    Conventions (mmsegmentation's): a class absent from both labels and predictions has no IoU
    (NaN) and is left out of mIoU; a class only predicted has IoU 0 and counts; a class absent
    from the labels has no accuracy (NaN) and is left out of mAcc. A frame whose pixels are all
    ignore_index adds nothing and is counted in `frames_without_valid_pixels`."""

    def __init__(self, num_classes: int, ignore_index: int = 255, class_names: tuple[str, ...] | None = None) -> None:
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.class_names = class_names or tuple(str(i) for i in range(num_classes))
        self.matrix = np.zeros((num_classes, num_classes), np.int64)
        self.frames = 0
        self.frames_without_valid_pixels = 0

    def step(self, pred: np.ndarray, label: np.ndarray) -> None:
        if pred.shape != label.shape:
            raise ValueError(f"prediction {pred.shape} and label {label.shape} differ in size")
        self.frames += 1
        valid = label != self.ignore_index
        if not valid.any():
            self.frames_without_valid_pixels += 1
            return
        gt, pr = label[valid].astype(np.int64), pred[valid].astype(np.int64)
        if gt.size and (gt.max() >= self.num_classes or pr.max() >= self.num_classes):
            found = sorted({int(i) for i in np.unique(np.concatenate([gt, pr])) if i >= self.num_classes})
            raise ValueError(f"class ids {found} are outside the class list "
                             f"({', '.join(f'{i} {n}' for i, n in enumerate(self.class_names))}; ignore "
                             f"{self.ignore_index}): the labels use another class list, give it and a class mapping")
        self.matrix += np.bincount(gt * self.num_classes + pr, minlength=self.num_classes ** 2).reshape(
            self.num_classes, self.num_classes)

    def state(self) -> dict:
        """What `step` accumulated, to carry between processes (a fleet's shards)."""
        return {"matrix": self.matrix.copy(), "frames": self.frames,
                "frames_without_valid_pixels": self.frames_without_valid_pixels}

    def merge(self, state: dict) -> None:
        """Add another accumulator's `state()`: the sums are those of one pass over both."""
        self.matrix += np.asarray(state["matrix"], np.int64)
        self.frames += state["frames"]
        self.frames_without_valid_pixels += state["frames_without_valid_pixels"]

    def results(self) -> dict:
        m = self.matrix.astype(np.float64)
        tp = np.diag(m)
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = tp / (m.sum(0) + m.sum(1) - tp)
            acc = tp / m.sum(1)
        def mean(values: np.ndarray) -> float:
            return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")

        return {
            "frames": self.frames, "frames_without_valid_pixels": self.frames_without_valid_pixels,
            "per_class": {name: {"IoU": float(iou[i]), "Acc": float(acc[i])}
                          for i, name in enumerate(self.class_names)},
            "mIoU": mean(iou), "mAcc": mean(acc), "mIoU_without_0": mean(iou[1:]), "mAcc_without_0": mean(acc[1:]),
            "pixel_accuracy": float(tp.sum() / max(m.sum(), 1)),
        }

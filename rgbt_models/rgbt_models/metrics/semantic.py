"""Semantic segmentation metrics from one confusion matrix over the whole test set."""

from __future__ import annotations

import numpy as np


class ConfusionMatrix:
    """Rows: ground truth, columns: prediction. `step` adds an image; `results` gives per-class
    IoU and accuracy, mIoU and mAcc over all classes (as the field reports, background or
    'unlabeled' included) and without class 0. Classes absent from both GT and predictions
    (NaN IoU) are left out of the means."""

    def __init__(self, num_classes: int, ignore_index: int = 255, class_names: tuple[str, ...] | None = None) -> None:
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.class_names = class_names or tuple(str(i) for i in range(num_classes))
        self.matrix = np.zeros((num_classes, num_classes), np.int64)

    def step(self, pred: np.ndarray, label: np.ndarray) -> None:
        if pred.shape != label.shape:
            raise ValueError(f"prediction {pred.shape} and label {label.shape} differ in size")
        valid = label != self.ignore_index
        gt, pr = label[valid].astype(np.int64), pred[valid].astype(np.int64)
        if gt.size and (gt.max() >= self.num_classes or pr.max() >= self.num_classes):
            raise ValueError(f"class id outside 0..{self.num_classes - 1} (ignore {self.ignore_index})")
        self.matrix += np.bincount(gt * self.num_classes + pr, minlength=self.num_classes ** 2).reshape(
            self.num_classes, self.num_classes)

    def results(self) -> dict:
        m = self.matrix.astype(np.float64)
        tp = np.diag(m)
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = tp / (m.sum(0) + m.sum(1) - tp)
            acc = tp / m.sum(1)
        return {
            "per_class": {name: {"IoU": float(iou[i]), "Acc": float(acc[i])}
                          for i, name in enumerate(self.class_names)},
            "mIoU": float(np.nanmean(iou)), "mAcc": float(np.nanmean(acc)),
            "mIoU_without_0": float(np.nanmean(iou[1:])), "mAcc_without_0": float(np.nanmean(acc[1:])),
            "pixel_accuracy": float(tp.sum() / max(m.sum(), 1)),
        }

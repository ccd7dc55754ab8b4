"""Salient object detection metrics, computed by PySODMetrics (the field's reference code).

`step(pred, gt)` per image (uint8 maps, or floats in [0, 1]); `results()` gives S-measure,
max/mean/adaptive F-measure (β²=0.3), max/mean/adaptive E-measure, MAE and weighted F, plus
the precision/recall/F curves over the 256 thresholds for plots.
"""

from __future__ import annotations

import numpy as np


def _to_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


# Where PySODMetrics keeps its per-image values (the results are means over them).
PER_IMAGE = (("sm", "sms"), ("em", "adaptive_ems"), ("em", "changeable_ems"), ("mae", "maes"),
             ("wfm", "weighted_fms"))
HANDLER_LISTS = ("dynamic_results", "adaptive_results")
METRICS = ("fm", "sm", "em", "mae", "wfm")


def _reference_metrics() -> dict:
    """PySODMetrics' accumulators. Imported here, on first use: the package pulls in scikit-learn
    and scikit-image (about a second), which a replay of a bag without masks never needs.
    FmeasureV2 (PySODMetrics' successor of the deprecated Fmeasure, identical numbers): F-measure
    with beta^2 = 0.3, precision and recall over the 256 thresholds."""
    from py_sod_metrics import MAE, Emeasure, FmeasureV2, Smeasure, WeightedFmeasure
    from py_sod_metrics.fmeasurev2 import FmeasureHandler, PrecisionHandler, RecallHandler

    fm = FmeasureV2(metric_handlers={
        "fm": FmeasureHandler(with_adaptive=True, with_dynamic=True, beta=0.3),
        "p": PrecisionHandler(with_adaptive=False, with_dynamic=True),
        "r": RecallHandler(with_adaptive=False, with_dynamic=True)})
    return {"fm": fm, "sm": Smeasure(), "em": Emeasure(), "mae": MAE(), "wfm": WeightedFmeasure()}


class SaliencyMetrics:
    """Streaming accumulator: one instance per data set. `state()` / `merge(state)` carry the
    per-image values between processes (a fleet's shards): merged in the order the images would
    have been stepped, the results are bit for bit those of one pass."""

    def __init__(self) -> None:
        self.count = 0

    def __getattr__(self, name: str):
        """The PySODMetrics accumulators (fm, sm, em, mae, wfm), made when first needed."""
        if name not in METRICS:
            raise AttributeError(name)
        self.__dict__.update(_reference_metrics())
        return self.__dict__[name]

    def step(self, pred: np.ndarray, gt: np.ndarray) -> None:
        pred, gt = _to_uint8(pred), _to_uint8(gt)
        if pred.shape != gt.shape:
            raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
        for metric in (self.sm, self.fm, self.em, self.mae, self.wfm):
            metric.step(pred=pred, gt=gt)
        self.count += 1

    def state(self) -> dict:
        """Every per-image value so far (small arrays, no images)."""
        if not self.count:
            return {"count": 0, "per_image": {f"{owner}.{key}": [] for owner, key in PER_IMAGE}, "fm": {}}
        handlers = {name: {key: getattr(handler, key) for key in HANDLER_LISTS if getattr(handler, key) is not None}
                    for name, handler in self.fm._metric_handlers.items()}
        return {"count": self.count, "per_image": {f"{owner}.{key}": list(getattr(getattr(self, owner), key))
                                                   for owner, key in PER_IMAGE}, "fm": handlers}

    def merge(self, state: dict) -> None:
        """Append another accumulator's `state()`, as if its images were stepped here next."""
        if not state["count"]:
            return
        for owner, key in PER_IMAGE:
            getattr(getattr(self, owner), key).extend(state["per_image"][f"{owner}.{key}"])
        for name, lists in state["fm"].items():
            handler = self.fm._metric_handlers[name]
            for key, values in lists.items():
                getattr(handler, key).extend(values)
        self.count += state["count"]

    def results(self) -> dict:
        if not self.count:
            raise ValueError("no image was evaluated")
        fm = self.fm.get_results()
        em = self.em.get_results()["em"]
        return {
            "images": self.count,
            "S": float(self.sm.get_results()["sm"]),
            "maxF": float(fm["fm"]["dynamic"].max()), "meanF": float(fm["fm"]["dynamic"].mean()),
            "adpF": float(fm["fm"]["adaptive"]),
            "maxE": float(em["curve"].max()), "meanE": float(em["curve"].mean()), "adpE": float(em["adp"]),
            "MAE": float(self.mae.get_results()["mae"]), "wF": float(self.wfm.get_results()["wfm"]),
            "curves": {"precision": fm["p"]["dynamic"].tolist(), "recall": fm["r"]["dynamic"].tolist(),
                       "f": fm["fm"]["dynamic"].tolist()},
        }

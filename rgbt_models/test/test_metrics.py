"""Metrics: ours equal direct PySODMetrics calls; mIoU/mAcc on a hand-computed matrix."""

from __future__ import annotations

import numpy as np
import pytest
from py_sod_metrics import MAE, Emeasure, Fmeasure, Smeasure, WeightedFmeasure

from rgbt_models.metrics import ConfusionMatrix, SaliencyMetrics
from rgbt_models.metrics.plots import plot_confusion, plot_saliency_curves


def test_saliency_metrics_equal_pysodmetrics(tmp_path):
    rng = np.random.default_rng(1)
    ours = SaliencyMetrics()
    sm, fm, em, mae, wfm = Smeasure(), Fmeasure(), Emeasure(), MAE(), WeightedFmeasure()
    for _ in range(4):
        gt = np.zeros((40, 50), np.uint8)
        gt[5:25, 10:30] = 255
        pred = np.clip(gt * 0.7 + rng.normal(0, 40, gt.shape), 0, 255).astype(np.uint8)
        ours.step(pred, gt)
        for metric in (sm, fm, em, mae, wfm):
            metric.step(pred=pred, gt=gt)
    results = ours.results()
    assert results["S"] == pytest.approx(sm.get_results()["sm"])
    assert results["maxF"] == pytest.approx(fm.get_results()["fm"]["curve"].max())
    assert results["adpF"] == pytest.approx(fm.get_results()["fm"]["adp"])
    assert results["meanE"] == pytest.approx(em.get_results()["em"]["curve"].mean())
    assert results["adpE"] == pytest.approx(em.get_results()["em"]["adp"])
    assert results["MAE"] == pytest.approx(mae.get_results()["mae"])
    assert results["wF"] == pytest.approx(wfm.get_results()["wfm"])
    paths = plot_saliency_curves({"toy": results}, tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)


def test_float_predictions_are_scaled_like_uint8():
    gt = np.zeros((10, 10), np.uint8)
    gt[:5] = 255
    pred = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    a, b = SaliencyMetrics(), SaliencyMetrics()
    a.step(pred, gt)
    b.step((pred * 255 + 0.5).astype(np.uint8), gt)
    assert a.results()["MAE"] == b.results()["MAE"]


def test_confusion_matrix_by_hand(tmp_path):
    label = np.array([[0, 0, 1, 1], [2, 2, 255, 1]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 2, 1]])
    cm = ConfusionMatrix(3, class_names=("bg", "car", "person"))
    cm.step(pred, label)
    # gt 0: pred 0,1 ; gt 1: 1,1,1 ; gt 2: 2,0 ; the 255 pixel is ignored.
    assert cm.matrix.tolist() == [[1, 1, 0], [0, 3, 0], [1, 0, 1]]
    r = cm.results()
    iou = [1 / (1 + 1 + 1), 3 / (3 + 1), 1 / (1 + 1)]
    acc = [1 / 2, 1.0, 1 / 2]
    assert r["per_class"]["car"]["IoU"] == pytest.approx(iou[1])
    assert r["mIoU"] == pytest.approx(np.mean(iou)) and r["mAcc"] == pytest.approx(np.mean(acc))
    assert r["mIoU_without_0"] == pytest.approx(np.mean(iou[1:]))
    assert r["pixel_accuracy"] == pytest.approx(5 / 7)
    assert plot_confusion(cm.matrix, cm.class_names, tmp_path / "cm.png").stat().st_size > 1000
    with pytest.raises(ValueError, match=r"class ids \[3\] are outside the class list \(0 bg, 1 car, 2 person"):
        cm.step(np.array([[3]]), np.array([[0]]))


def test_the_saliency_metrics_raise_no_deprecation_warning():
    import warnings

    from rgbt_models.metrics import SaliencyMetrics

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = SaliencyMetrics()
        metrics.step(np.zeros((8, 8), np.uint8), (np.eye(8) * 255).astype(np.uint8))
        assert 0 <= metrics.results()["maxF"] <= 1


def test_a_bag_without_masks_never_loads_pysodmetrics():
    """The accumulators come on first use: a replay with no ground truth (a fleet's usual bag)
    starts without scikit-learn and scikit-image; an empty state merges as nothing."""
    import subprocess
    import sys

    code = ("import sys\nfrom rgbt_models.metrics import SaliencyMetrics\n"
            "empty, total = SaliencyMetrics(), SaliencyMetrics()\ntotal.merge(empty.state())\n"
            "print(total.count, 'py_sod_metrics' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "False"]
    stepped = SaliencyMetrics()
    stepped.step(np.full((8, 8), 200, np.uint8), np.full((8, 8), 255, np.uint8))
    before = stepped.results()
    stepped.merge(SaliencyMetrics().state())
    assert stepped.results() == before

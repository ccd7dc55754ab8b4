"""Evaluation of a model on a data set and the tables the papers report."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from rgbt_models.metrics import ConfusionMatrix, SaliencyMetrics


def task_of(model) -> str:
    return model.kind


def new_accumulator(model):
    if task_of(model) == "samsod":
        return SaliencyMetrics()
    classes = model.classes
    return ConfusionMatrix(classes.num_classes, classes.ignore_index, classes.names)


@torch.no_grad()
def evaluate(model, dataset, device: torch.device | str = "cpu", batch_size: int = 4) -> dict:
    """Run `model` over a TransformedDataset (train=False) and return the metrics.

    SAMSOD: saliency metrics, score = -MAE. SARTM: confusion-matrix metrics plus the matrix,
    score = mIoU. Both: 'score' is higher-is-better (used to keep the best checkpoint)."""
    was_training = model.training
    model.eval()
    metrics = new_accumulator(model)
    for batch in DataLoader(dataset, batch_size=batch_size):
        rgb, thermal = batch["rgb"].to(device), batch["thermal"].to(device)
        if task_of(model) == "samsod":
            for pred, gt in zip(model.predict(rgb, thermal).cpu().numpy(), batch["mask"].numpy()):
                metrics.step(pred[0], gt[0])
        else:
            ids, _ = model.predict(rgb, thermal)
            for pred, gt in zip(ids.cpu().numpy(), batch["label"].numpy()):
                metrics.step(pred, gt)
    results = metrics.results()
    if task_of(model) == "samsod":
        results["score"] = -results["MAE"]
    else:
        results["score"] = results["mIoU"]
        results["confusion_matrix"] = metrics.matrix.tolist()
    model.train(was_training)
    return results


def markdown_table(results: dict[str, dict], task: str) -> str:
    """The papers' tables: S, maxF, maxE, MAE (and more) per data set; per-class IoU, mIoU, mAcc."""
    lines = []
    if task == "samsod":
        keys = ("S", "maxF", "meanF", "adpF", "maxE", "meanE", "adpE", "wF", "MAE")
        lines.append("| data set | images | " + " | ".join(keys) + " |")
        lines.append("|" + " --- |" * (len(keys) + 2))
        for name, res in results.items():
            lines.append(f"| {name} | {res['images']} | " + " | ".join(f"{res[k]:.3f}" for k in keys) + " |")
        return "\n".join(lines)
    for name, res in results.items():
        classes = list(res["per_class"])
        lines.append(f"**{name}**: mIoU {100 * res['mIoU']:.2f}, mAcc {100 * res['mAcc']:.2f} "
                     f"(without class 0: mIoU {100 * res['mIoU_without_0']:.2f}, "
                     f"mAcc {100 * res['mAcc_without_0']:.2f})\n")
        lines.append("| class | IoU | Acc |")
        lines.append("| --- | --- | --- |")
        for c in classes:
            iou, acc = res["per_class"][c]["IoU"], res["per_class"][c]["Acc"]
            lines.append(f"| {c} | {100 * iou:.2f} | {100 * acc:.2f} |")
        lines.append("")
    return "\n".join(lines)

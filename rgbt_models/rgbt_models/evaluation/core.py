"""Evaluation of a model on a data set and the tables the papers report."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from rgbt_models.data.classes import ClassList, label_lookup
from rgbt_models.data.datasets import check_task, classes_of
from rgbt_models.data.geometry import semantic_at, to_output_size
from rgbt_models.data.transforms import collate_native
from rgbt_models.metrics import ConfusionMatrix, SaliencyMetrics


def task_of(model) -> str:
    return model.kind


def check_dataset(kind: str, classes: ClassList | None, dataset, name: str,
                  mapping: str | dict | None = None) -> np.ndarray | None:
    """Refuse a data set the model cannot be scored (or trained) on: the wrong task, or another
    class list without a mapping. Returns the label lookup table to apply (None: labels as they are)."""
    check_task(dataset, kind, name)
    if kind != "sartm":
        return None
    return label_lookup(classes, classes_of(dataset), mapping, what=f"data set {name!r}")


def new_accumulator(model):
    if task_of(model) == "samsod":
        return SaliencyMetrics()
    classes = model.classes
    return ConfusionMatrix(classes.num_classes, classes.ignore_index, classes.names)


def evaluate(model, dataset, device: torch.device | str = "cpu", batch_size: int = 4,
             progress: bool | None = False, description: str = "evaluate", dtype: torch.dtype = torch.float32) -> dict:
    """Run `model` (PyTorch, or an OnnxRuntimeModel) over a TransformedDataset (train=False)
    and return the metrics.

    Predictions are upsampled to each label's native size before scoring (data.geometry), the
    same way the node and rgbt-replay produce their outputs. SAMSOD: saliency metrics, score =
    -MAE. SARTM: confusion-matrix metrics plus the matrix, score = mIoU. 'score' is
    higher-is-better (used to keep the best checkpoint). progress: a tqdm bar (None: only on a
    terminal). dtype: fp16 / bf16 run under autocast on CUDA, as the node runs them."""
    return results_of(accumulate(model, dataset, device, batch_size, progress, description, dtype), task_of(model))


def results_of(metrics, task: str) -> dict:
    """The metrics of an accumulator (after `accumulate`, or merged from several) with 'score'."""
    results = metrics.results()
    if task == "samsod":
        results["score"] = -results["MAE"]
    else:
        results["score"] = results["mIoU"]
        results["confusion_matrix"] = metrics.matrix.tolist()
    return results


@torch.no_grad()
def accumulate(model, dataset, device: torch.device | str = "cpu", batch_size: int = 4,
               progress: bool | None = False, description: str = "evaluate", dtype: torch.dtype = torch.float32):
    """The metric accumulator (SaliencyMetrics or ConfusionMatrix) stepped over `dataset`: its
    `state()` can be merged with other parts of the data set (rgbt-eval --engine ray)."""
    was_training = getattr(model, "training", False)  # (an OnnxRuntimeModel has no training mode)
    if isinstance(model, torch.nn.Module):
        model.eval()
    metrics = new_accumulator(model)
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_native)
    autocast = torch.autocast(torch.device(device).type, dtype=dtype, enabled=dtype != torch.float32)
    for batch in tqdm(loader, desc=description, unit="batch", disable=None if progress is None else not progress):
        rgb, thermal = batch["rgb"].to(device), batch["thermal"].to(device)
        # the part of the input the frame covers (all of it, but with the pad geometry of rgbt-import)
        content = [(slice(None), slice(None)) if size is None else (slice(0, size[0]), slice(0, size[1]))
                   for size in batch.get("content", [None] * len(rgb))]
        if task_of(model) == "samsod":
            with autocast:
                saliency = model.predict(rgb, thermal).float()
            for one, gt, (rows, cols) in zip(saliency, batch["mask"], content):
                pred = to_output_size(one[None, :, rows, cols], *gt.shape)[0, 0]
                metrics.step(pred.cpu().numpy(), gt.numpy())
        else:
            with autocast:
                _, probabilities = model.predict(rgb, thermal)
            probabilities = probabilities.float()
            for one, gt, (rows, cols) in zip(probabilities, batch["label"], content):
                ids, _ = semantic_at(one[None, :, rows, cols], *gt.shape)
                metrics.step(ids[0].cpu().numpy(), gt.numpy())
    if isinstance(model, torch.nn.Module):
        model.train(was_training)
    return metrics


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
        skipped = res.get("frames_without_valid_pixels", 0)
        lines.append(f"**{name}**: mIoU {100 * res['mIoU']:.2f}, mAcc {100 * res['mAcc']:.2f} "
                     f"(without class 0: mIoU {100 * res['mIoU_without_0']:.2f}, "
                     f"mAcc {100 * res['mAcc_without_0']:.2f}); {res['frames']} frames"
                     + (f", {skipped} skipped (every pixel ignore)" if skipped else "") + "\n")
        lines.append("| class | IoU | Acc |")
        lines.append("| --- | --- | --- |")
        for c in classes:
            iou, acc = res["per_class"][c]["IoU"], res["per_class"][c]["Acc"]
            lines.append(f"| {c} | {100 * iou:.2f} | {100 * acc:.2f} |")
        lines.append("")
    return "\n".join(lines)

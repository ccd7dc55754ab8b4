"""Passes of a UUSOD model over its unlabeled samples: pseudo-labels written to the store (the
first ones, and SPR's rewrites), the model's maps, and their quality against a truth where one
exists (synthetic sources; never used for training), and the optional labelled evaluation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from rgbt_models.data.transforms import TransformConfig
from rgbt_models.metrics import SaliencyMetrics
from rgbt_models.uusod.config import HeadWeighting
from rgbt_models.uusod.cue_extractor import SaliencyCueExtractor
from rgbt_models.uusod.data import synthetic_truth
from rgbt_models.uusod.head_weighting import weight_heads
from rgbt_models.uusod.spr import SPRWeights, spr_update
from rgbt_models.uusod.store import PseudoLabelStore


def guidance(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """The refiner's image: RGB and thermal channels together."""
    return torch.cat([rgb, thermal], dim=1)


def by_maximum(maps: torch.Tensor) -> torch.Tensor:
    """Each (1, H, W) map divided by its own maximum (the authors' SPR normalisation)."""
    return maps / maps.flatten(1).amax(dim=1).clamp_min(1e-6)[:, None, None, None]


def stored_labels(store: PseudoLabelStore, names, device) -> torch.Tensor:
    """The store's labels of a batch's samples as a (B, 1, H, W) tensor."""
    return torch.stack([torch.from_numpy(store.read(n)) for n in names])[:, None].to(device)


@torch.no_grad()
def write_labels(model, dataset, store: PseudoLabelStore, device, batch_size: int, refiner=None,
                 weights: SPRWeights | None = None, heads: HeadWeighting | None = None) -> None:
    """Fill or rewrite the store. SCE: its maps. SAMSOD first pass: its refined predictions.
    SAMSOD with `weights`: SPR from the prediction, its refinement and the stored label. The
    SAMSOD's prediction for labels combines its heads as `heads` says."""
    was_training = model.training
    model.eval()
    for batch in DataLoader(dataset, batch_size=batch_size):
        rgb, thermal = batch["rgb"].to(device), batch["thermal"].to(device)
        if isinstance(model, SaliencyCueExtractor):
            labels = model.saliency(rgb, thermal)
        else:
            prediction = weight_heads(model(rgb, thermal), heads or HeadWeighting("sum")).float()
            refined = refiner(guidance(rgb, thermal), prediction)
            if weights is None:
                labels = refined
            elif getattr(weights, "variant", "soft") == "authors":  # both normalised by their maxima
                previous = stored_labels(store, batch["name"], device)
                labels = by_maximum(spr_update(by_maximum(refined), prediction, previous, weights))
            else:
                labels = spr_update(refined, prediction, stored_labels(store, batch["name"], device), weights)
        for name, label in zip(batch["name"], labels.float().cpu().numpy()):
            store.write(name, label[0])
    model.train(was_training)


def label_quality(names: list[str], read: Callable[[str], np.ndarray], height: int, width: int) -> dict | None:
    """S, maxF, MAE of the maps `read(name)` returns (stored pseudo-labels or predictions)
    against the hidden truth, where there is one (synthetic sources: regenerated from the seed;
    never used for training; a bag's frames have none). Only samples with a truth are read, and
    their number is part of the answer."""
    metrics = SaliencyMetrics()
    for name in names:
        truth = synthetic_truth(name, height, width)
        if truth is not None:
            metrics.step(read(name), truth)
    if not metrics.count:
        return None
    results = metrics.results()
    return {"frames with a truth": metrics.count, **{k: results[k] for k in ("S", "maxF", "MAE")}}


@torch.no_grad()
def model_maps(model, dataset, device, batch_size: int) -> dict[str, np.ndarray]:
    """The model's saliency on every sample (SCE: its cue; SAMSOD: its prediction), by name."""
    maps = {}
    model.eval()
    predict = model.saliency if isinstance(model, SaliencyCueExtractor) else model.predict
    for batch in DataLoader(dataset, batch_size=batch_size):
        saliency = predict(batch["rgb"].to(device), batch["thermal"].to(device))
        maps.update({n: m[0] for n, m in zip(batch["name"], saliency.float().cpu().numpy())})
    model.train()
    return maps


def evaluate_on(model, spec: str | None, batch_size: int, device, transform: TransformConfig) -> dict | None:
    """A SAMSOD's S / maxF / MAE on the optional labelled evaluation set (native resolution)."""
    if spec is None:
        return None
    from rgbt_models.data.transforms import TransformedDataset
    from rgbt_models.evaluation.core import evaluate
    from rgbt_models.uusod.data import open_labelled

    results = evaluate(model, TransformedDataset(open_labelled(spec), transform), device, batch_size)
    return {k: results[k] for k in ("S", "maxF", "MAE")}

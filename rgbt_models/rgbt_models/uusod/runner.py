"""The three UUSOD stages as one training loop (the conventions of rgbt-train: progress bars,
TensorBoard, atomic per-epoch checkpoints, --resume after a kill, torchrun, AMP on CUDA).

- sce: the cue extractor's heads learn with PCL-SD (hard-pixel margin p from the schedule).
- detector: SAMSOD learns from the pseudo-label store, first filled with the SCE's maps; after
  every epoch SPR rewrites each label from the model's prediction, its refinement and the label.
- adapter: a trained SAMSOD, frozen, gets a zero-initialised domain adapter that alone learns
  from the new domain's pseudo-labels (first: the source model's refined predictions, its heads
  weighted by the boundary prior: `heads`), with SPR.
The detector and adapter stages write `samsod.pt`, a normal SAMSOD checkpoint.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Subset
from tqdm import tqdm

from rgbt_models.backbone.checkpoint import CheckpointError, read_checkpoint
from rgbt_models.checkpoint import atomic_torch_save, remove_stale_temporaries
from rgbt_models.data.transforms import TransformConfig, apply_transform
from rgbt_models.metrics import SaliencyMetrics
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.training import distributed
from rgbt_models.training.trainer import _autocast, optimizer_step, pick_device
from rgbt_models.uusod.config import AdaptConfig, HeadWeighting
from rgbt_models.uusod.cue_extractor import SaliencyCueExtractor, SCEConfig
from rgbt_models.uusod.data import open_unlabeled, synthetic_truth
from rgbt_models.uusod.head_weighting import weight_heads
from rgbt_models.uusod.pcl_sd import HardPixelSchedule, hard_pixel_fraction, pcl_sd_loss
from rgbt_models.uusod.refiner import PixelAffinityRefiner
from rgbt_models.uusod.spr import SPRWeights, spr_update
from rgbt_models.uusod.store import PseudoLabelStore

log = logging.getLogger("rgbt_models.uusod")
STATE_FILE = "last.pt"
MODEL_FILES = {"sce": "sce.pt", "detector": "samsod.pt", "adapter": "samsod.pt"}


class UnlabeledTensors(torch.utils.data.Dataset):
    """Label-free samples at the model input size (the shared geometry), with their names."""

    def __init__(self, loaders, config: TransformConfig) -> None:
        self.base, self.config = ConcatDataset(loaders), config

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        out = apply_transform(self.base[index], self.config)
        return {"rgb": out["rgb"], "thermal": out["thermal"], "name": out["name"]}


def build_model(config: AdaptConfig):
    """(model, its trainable parameters) for the stage."""
    if config.stage == "sce":
        model = SaliencyCueExtractor(SCEConfig.from_dict(config.model))
        return model, list(model.heads.parameters())
    if config.stage == "detector":
        model = SAMSOD(SAMSODConfig.from_dict(config.model))
        return model, [p for p in model.parameters() if p.requires_grad]
    return attach_domain_adapter(SAMSOD.load(config.source_checkpoint), config.adapter_hidden)


def attach_domain_adapter(source: SAMSOD, hidden: int) -> tuple[SAMSOD, list[torch.nn.Parameter]]:
    """A copy of `source` with a zero-initialised domain adapter, everything else frozen:
    before training it computes exactly what `source` computes."""
    config = SAMSODConfig.from_dict({**source.config.to_dict(), "domain_adapter": hidden})
    model = SAMSOD(config, pretrained=False)  # every weight comes from `source` just below
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    if unexpected or any(not name.startswith("domain_adapter.") for name in missing):
        raise CheckpointError(f"the source SAMSOD does not fit (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.input_size = source.input_size
    model.requires_grad_(False)
    model.domain_adapter.requires_grad_(True)
    return model, list(model.domain_adapter.parameters())


def guidance(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """The refiner's image: RGB and thermal channels together."""
    return torch.cat([rgb, thermal], dim=1)


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
            else:
                previous = torch.stack([torch.from_numpy(store.read(n)) for n in batch["name"]])[:, None].to(device)
                labels = spr_update(refined, prediction, previous, weights)
        for name, label in zip(batch["name"], labels.float().cpu().numpy()):
            store.write(name, label[0])
    model.train(was_training)


def label_quality(names: list[str], read: Callable[[str], np.ndarray], height: int, width: int) -> dict | None:
    """S, maxF, MAE of the maps `read(name)` returns (stored pseudo-labels or predictions)
    against the hidden truth, where there is one (synthetic sources: regenerated from the seed;
    never used for training). Only samples with a truth are read."""
    metrics = SaliencyMetrics()
    for name in names:
        truth = synthetic_truth(name, height, width)
        if truth is not None:
            metrics.step(read(name), truth)
    if not metrics.count:
        return None
    results = metrics.results()
    return {k: results[k] for k in ("S", "maxF", "MAE")}


def evaluate_on(model, spec: str | None, config: AdaptConfig, device) -> dict | None:
    """The SAMSOD's S / MAE on the optional labelled evaluation set (native resolution)."""
    if spec is None or isinstance(model, SaliencyCueExtractor):
        return None
    from rgbt_models.data.transforms import TransformedDataset
    from rgbt_models.evaluation import evaluate
    from rgbt_models.uusod.data import open_labelled

    dataset = TransformedDataset(open_labelled(spec), TransformConfig(height=config.data.height,
                                                                      width=config.data.width, train=False))
    results = evaluate(model, dataset, device, config.train.batch_size)
    return {k: results[k] for k in ("S", "maxF", "MAE")}


def run(config: AdaptConfig, resume: bool = False, device: str = "auto", progress: bool = True,
        max_steps_per_epoch: int | None = None) -> dict:
    """Run one stage; returns its history (loss, p, pseudo-label quality, evaluation per epoch)."""
    torch_device = pick_device(device)
    rank, world_size = distributed.init_from_env(torch_device)
    output, o, d = Path(config.output_dir), config.train, config.data
    torch.manual_seed(o.seed)
    model, trainable = build_model(config)
    model.to(torch_device)
    distributed.broadcast_parameters(model)
    dataset = UnlabeledTensors([open_unlabeled(s, d.height, d.width, d.thermal_normalization) for s in d.sources],
                               TransformConfig(height=d.height, width=d.width, train=False,
                                               thermal_normalization=d.thermal_normalization))
    steps = len(dataset) // world_size // o.batch_size
    steps = min(steps, max_steps_per_epoch) if max_steps_per_epoch else steps
    if steps < 1:
        raise CheckpointError(f"{len(dataset)} unlabeled samples are fewer than one batch of {o.batch_size}")
    optimizer = (torch.optim.AdamW if o.optimizer == "adamw" else torch.optim.Adam)(
        trainable, lr=o.lr, weight_decay=o.weight_decay)
    total_steps = max(1, o.epochs * steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: (
        1.0 if o.scheduler == "constant" else max(0.0, 1 - step / total_steps) ** o.poly_power))
    autocast, scaler = _autocast(torch_device, o.amp)
    schedule = HardPixelSchedule(**config.schedule)
    spr = dict(config.spr)
    use_spr = bool(spr.pop("enabled", True))
    weights = SPRWeights(**spr)
    heads = HeadWeighting(**config.heads)
    refiner = PixelAffinityRefiner(tuple(config.refiner.get("dilations", (1, 2, 4, 8))),
                                   int(config.refiner.get("iterations", 10))).to(torch_device)
    store = PseudoLabelStore(output / "pseudo_labels") if config.stage != "sce" else None
    writer = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        output.mkdir(parents=True, exist_ok=True)
        for stale in remove_stale_temporaries(output):
            log.info("removed %s, left by an interrupted save", stale)
        writer = SummaryWriter(str(output / "tensorboard"))

    start_epoch, state_path = 0, output / STATE_FILE
    if resume and state_path.is_file():
        state = read_checkpoint(state_path)
        if not isinstance(state, dict) or state.get("stage") != config.stage:
            raise CheckpointError(f"{state_path}: not an rgbt-adapt {config.stage!r} training state")
        model.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch = int(state["epoch"]) + 1
        log.info("resumed from %s after epoch %d", state_path, start_epoch)
    names = [dataset[i]["name"] for i in range(len(dataset))] if store is not None or rank == 0 else []
    if store is not None and rank == 0 and any(n not in store for n in names):
        if config.stage == "detector":  # the SCE's maps are the first pseudo-labels
            write_labels(SaliencyCueExtractor.load(config.cue_checkpoint, torch_device), dataset, store,
                         torch_device, o.batch_size)
        else:  # adapter: the source model's predictions, refined along the new domain's edges
            write_labels(model, dataset, store, torch_device, o.batch_size, refiner, heads=heads)
    first_labels = None  # their quality against the hidden truth, where there is one (synthetic)
    if store is not None and rank == 0:
        first_labels = label_quality(names, store.read, d.height, d.width)
        if first_labels:
            log.info("first pseudo-labels: %s", first_labels)
    if world_size > 1:
        torch.distributed.barrier()

    history = []
    for epoch in range(start_epoch, o.epochs):
        p = schedule.p(epoch + 1, o.epochs)
        order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(o.seed * 100_003 + epoch))
        indices = order[rank::world_size][: steps * o.batch_size].tolist()
        loader = DataLoader(Subset(dataset, indices), batch_size=o.batch_size, drop_last=True)
        flips = torch.Generator().manual_seed(o.seed * 7919 + epoch)
        model.train()
        losses, hard, started = [], [], time.perf_counter()
        for batch in tqdm(loader, desc=f"uusod {config.stage} epoch {epoch + 1}/{o.epochs}", total=steps,
                          disable=not progress or rank != 0):
            rgb, thermal = batch["rgb"].to(torch_device), batch["thermal"].to(torch_device)
            target = None
            if store is not None:
                target = torch.stack([torch.from_numpy(store.read(n)) for n in batch["name"]])[:, None].to(torch_device)
            if torch.rand((), generator=flips) < 0.5:  # one joint flip for images and labels
                rgb, thermal = rgb.flip(-1), thermal.flip(-1)
                target = target.flip(-1) if target is not None else None
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                outputs = model(rgb, thermal)
            if config.stage == "sce":
                saliency = torch.sigmoid(torch.cat(list(outputs.values())).float())
                loss = pcl_sd_loss(saliency, p)
                hard.append(hard_pixel_fraction(saliency.detach(), p))
                (scaler.scale(loss) if scaler else loss).backward()
            else:
                terms = model.losses({k: v.float() for k, v in outputs.items()}, target)
                if config.stage == "detector":
                    loss = model.backward({k: scaler.scale(v) for k, v in terms.items()} if scaler else terms)
                else:
                    loss = sum(terms.values())
                    (scaler.scale(loss) if scaler else loss).backward()
            optimizer_step(optimizer, scheduler, scaler, trainable)
            losses.append(float(loss.detach()))
        record = {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": time.perf_counter() - started}
        if config.stage == "sce":
            record |= {"p": p, "hard_pixels": float(np.mean(hard))}
        if rank == 0:
            if store is not None and use_spr:
                write_labels(model, dataset, store, torch_device, o.batch_size, refiner, weights, heads)
            predictions = model_maps(model, dataset, torch_device, o.batch_size)
            labels = store.read if store is not None else predictions.__getitem__
            for key, read in (("pseudo_labels", labels), ("predictions", predictions.__getitem__)):
                quality = label_quality(names, read, d.height, d.width)
                if quality:
                    record[key] = quality
            evaluation = evaluate_on(model, d.eval, config, torch_device)
            if evaluation:
                record["eval"] = evaluation
            for key, value in record.items():
                if isinstance(value, float):
                    writer.add_scalar(f"uusod/{key}", value, epoch)
                elif isinstance(value, dict):
                    for name, number in value.items():
                        writer.add_scalar(f"uusod/{key}/{name}", number, epoch)
            writer.flush()
            model.save(output / MODEL_FILES[config.stage], extra={"epoch": epoch, "stage": config.stage,
                                                                   "input_size": [d.height, d.width]})
            atomic_torch_save({"stage": config.stage, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(), "epoch": epoch, "torch_rng": torch.get_rng_state(),
                               "config": config.to_dict()}, state_path)
            log.info("epoch %d: %s", epoch + 1, record)
        if world_size > 1:
            torch.distributed.barrier()
        history.append(record)
    if rank == 0:
        writer.close()
    if world_size > 1:
        torch.distributed.destroy_process_group()
    return {"history": history, "first_labels": first_labels, "output_dir": str(output),
            "model": str(output / MODEL_FILES[config.stage]),
            "checksum": distributed.parameter_checksum(model), "samples": len(dataset),
            "best_loss": min((h["loss"] for h in history), default=math.nan)}


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


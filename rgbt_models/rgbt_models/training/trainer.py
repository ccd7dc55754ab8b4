"""The training loop: progress bars, TensorBoard, atomic per-epoch checkpoints, best-by-validation,
exact resume (model, optimizer, scheduler, epoch, RNG), mixed precision on CUDA, torchrun."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from rgbt_models.backbone.checkpoint import CheckpointError, read_checkpoint
from rgbt_models.checkpoint import atomic_torch_save, remove_stale_temporaries
from rgbt_models.data.datasets import DatasetError, open_dataset, sample_ids
from rgbt_models.data.transforms import TransformConfig, TransformedDataset
from rgbt_models.evaluation import check_dataset, evaluate
from rgbt_models.registry import build_model
from rgbt_models.training import distributed
from rgbt_models.training.config import TrainConfig

log = logging.getLogger("rgbt_models.train")
STATE_FILE = "last.pt"
BEST_FILE = "best.pt"


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            log.warning("CUDA requested but not available: training on the CPU")
            return torch.device("cpu")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def make_datasets(config: TrainConfig, model):
    """Training and validation sets in the shared geometry (data.geometry), after checking that
    the data set fits the model (task, class list or data.class_mapping)."""
    d = config.data
    if d.dataset == "synthetic":
        train = open_dataset("synthetic", count=d.train_count, first_seed=0, height=d.scene_height, width=d.scene_width)
        val = open_dataset("synthetic", count=d.val_count, first_seed=1_000_000, height=d.scene_height,
                           width=d.scene_width)
    else:
        options = ({"rgb_topic": d.rgb_topic, "thermal_topic": d.thermal_topic, "label_topic": d.label_topic,
                    "mask_topic": d.mask_topic, "classes": d.label_classes} if d.dataset == "bag" else {})
        train = open_dataset(d.dataset, d.root, d.train_split, **options)
        val = open_dataset(d.dataset, d.root, d.val_split, **options) if d.val_split else None
        check_held_out(train, val, d)
    lookup = check_dataset(config.task, getattr(model, "classes", None), train, d.dataset, d.class_mapping)
    common = {"height": d.height, "width": d.width, "thermal_normalization": d.thermal_normalization,
              "thermal_range": tuple(d.thermal_range)}
    seed = config.train.seed
    return (TransformedDataset(train, TransformConfig(train=True, **common), seed, lookup),
            TransformedDataset(val, TransformConfig(train=False, **common), seed, lookup) if val is not None else None)


def check_held_out(train, val, d) -> None:
    """Validation must not score the training samples (e.g. a folder or bag given twice)."""
    if val is None:
        return
    shared = set(sample_ids(train) or ()) & set(sample_ids(val) or ())
    if shared:
        raise DatasetError(f"data.val_split {d.val_split!r} shares {len(shared)} of its {len(val)} samples with "
                           f"data.train_split {d.train_split!r} (e.g. {sorted(shared)[0]!r}): give a held-out "
                           "split (a sub-folder or a <split>.txt of names, another bag) or no val_split")


def make_scheduler(optimizer, config: TrainConfig, steps_per_epoch: int):
    o = config.train
    total = max(1, o.epochs * steps_per_epoch)
    warmup = int(o.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if o.scheduler == "constant":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, 1 - (step - warmup) / max(1, total - warmup)) ** o.poly_power

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


STATE_KEYS = ("model", "optimizer", "scheduler", "epoch", "best", "torch_rng", "pcgrad_rng", "config")


def read_training_state(path: Path, task: str) -> dict:
    """last.pt for --resume, checked: a training state of this task, not a model checkpoint."""
    state = read_checkpoint(path)
    missing = [key for key in STATE_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a training state written by rgbt-train (missing {missing}); "
                              "remove it to start afresh")
    written_for = (state["config"] or {}).get("task") if isinstance(state["config"], dict) else None
    if written_for != task:
        raise CheckpointError(f"{path}: a training state of {written_for!r}, not {task!r}")
    return state


def target_of(task: str, batch: dict) -> torch.Tensor:
    return batch["mask"] if task == "samsod" else batch["label"]


def _autocast(device: torch.device, enabled: bool):
    if not (enabled and device.type == "cuda"):
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


def optimizer_step(optimizer, scheduler, scaler, params) -> None:
    """Average gradients across processes, step (through the AMP scaler on CUDA fp16), schedule."""
    distributed.average_gradients(params)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    scheduler.step()


def train(config: TrainConfig, resume: bool = False, device: str = "auto", max_steps_per_epoch: int | None = None,
          progress: bool = True) -> dict:
    """Train `config`; returns a summary (epochs, best score, checkpoint paths, checksum)."""
    torch_device = pick_device(device)
    rank, world_size = distributed.init_from_env(torch_device)
    output = Path(config.output_dir)
    o = config.train
    torch.manual_seed(o.seed)
    np.random.seed(o.seed)
    model = build_model(config.task, config.model).to(torch_device)
    distributed.broadcast_parameters(model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer_cls = torch.optim.AdamW if o.optimizer == "adamw" else torch.optim.Adam
    optimizer = optimizer_cls(params, lr=o.lr, weight_decay=o.weight_decay)
    train_set, val_set = make_datasets(config, model)
    input_size = [config.data.height, config.data.width]
    per_rank = len(train_set) // world_size
    steps_per_epoch = per_rank // o.batch_size
    if max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, max_steps_per_epoch)
    if steps_per_epoch < 1:
        raise ValueError(f"{len(train_set)} training samples are fewer than one batch of {o.batch_size} per rank")
    scheduler = make_scheduler(optimizer, config, steps_per_epoch)
    autocast, scaler = _autocast(torch_device, o.amp)
    start_epoch, best = 0, -math.inf
    state_path = output / STATE_FILE
    if rank == 0:
        for stale in remove_stale_temporaries(output):
            log.info("removed %s, left by an interrupted save", stale)
    if resume and state_path.is_file():
        state = read_training_state(state_path, config.task)
        try:
            _, unexpected = model.load_state_dict(state["model"], strict=False)
        except RuntimeError as error:
            raise CheckpointError(f"{state_path}: does not fit the configured model "
                                  f"({str(error).splitlines()[0][:200]})") from error
        if unexpected:
            raise CheckpointError(f"{state_path}: keys not in the model: {unexpected[:3]}")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        if hasattr(model, "_generator"):
            model._generator.set_state(state["pcgrad_rng"])
        start_epoch, best = int(state["epoch"]) + 1, float(state["best"])
        if rank == 0:
            log.info("resumed from %s after epoch %d", state_path, start_epoch - 1)
    elif resume and rank == 0:
        log.warning("--resume: no %s yet, starting from scratch", state_path)

    writer = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        output.mkdir(parents=True, exist_ok=True)
        writer = SummaryWriter(str(output / "tensorboard"))
    history = []
    for epoch in range(start_epoch, o.epochs):
        train_set.set_epoch(epoch)
        order = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(o.seed * 100_003 + epoch))
        indices = order[rank::world_size][: steps_per_epoch * o.batch_size].tolist()
        loader = DataLoader(Subset(train_set, indices), batch_size=o.batch_size, shuffle=False,
                            num_workers=o.num_workers, drop_last=True)
        bar = tqdm(loader, desc=f"{config.task} epoch {epoch + 1}/{o.epochs}", disable=not progress or rank != 0,
                   total=steps_per_epoch)
        epoch_losses = []
        started = time.perf_counter()
        for step, batch in enumerate(bar):
            rgb, thermal = batch["rgb"].to(torch_device), batch["thermal"].to(torch_device)
            target = target_of(config.task, batch).to(torch_device)
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                outputs = model(rgb, thermal)
            losses = model.losses({k: v.float() for k, v in outputs.items()}, target)
            if scaler is not None:
                losses = {k: scaler.scale(v) for k, v in losses.items()}
            total = model.backward(losses)
            optimizer_step(optimizer, scheduler, scaler, params)
            epoch_losses.append(float(total))
            global_step = epoch * steps_per_epoch + step
            if writer and step % o.log_every == 0:
                writer.add_scalar("train/loss", float(total), global_step)
                for name, value in losses.items():
                    writer.add_scalar(f"train/{name}", float(value.detach()), global_step)
                writer.add_scalar("train/lr", scheduler.get_last_lr()[0], global_step)
            bar.set_postfix(loss=f"{float(total):.4f}")
        record = {"epoch": epoch, "loss": float(np.mean(epoch_losses)), "seconds": time.perf_counter() - started}
        if rank == 0:
            if val_set is not None:
                results = evaluate(model, val_set, torch_device, o.batch_size)
                record["val"] = {k: v for k, v in results.items() if isinstance(v, int | float)}
                for key, value in record["val"].items():
                    if isinstance(value, float):
                        writer.add_scalar(f"val/{key}", value, epoch)
                score = results["score"]
            else:
                score = -record["loss"]
            if score > best:
                best = score
                model.save(output / BEST_FILE, extra={"epoch": epoch, "score": score, "input_size": input_size})
            atomic_torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(), "epoch": epoch, "best": best,
                               "torch_rng": torch.get_rng_state(),
                               "pcgrad_rng": model._generator.get_state() if hasattr(model, "_generator")
                               else torch.empty(0, dtype=torch.uint8),
                               "config": config.to_dict()}, state_path)
            writer.add_scalar("train/epoch_loss", record["loss"], epoch)
            writer.flush()
            log.info("epoch %d: %s", epoch + 1, record)
        history.append(record)
    checksum = distributed.parameter_checksum(model)
    if world_size > 1:
        print(f"rank {rank} parameter checksum {checksum}", flush=True)
    if rank == 0:
        model.save(output / "final.pt", extra={"epochs": o.epochs, "input_size": input_size})
        writer.close()
    if world_size > 1:
        torch.distributed.destroy_process_group()
    return {"history": history, "best_score": best, "output_dir": str(output), "checksum": checksum}

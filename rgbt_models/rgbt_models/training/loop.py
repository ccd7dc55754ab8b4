"""The one training loop of rgbt-train and rgbt-adapt: what every training run does alike.

Device and torchrun processes, seeding, the optimizer (adam | adamw) and its scheduler (poly
with linear warm-up, or constant), mixed precision on CUDA, DataLoader workers, the per-epoch
shuffle, progress bars, TensorBoard scalars every `log_every` steps, an atomic `last.pt` every
epoch and an exact `--resume` (model, optimizer, scheduler, epoch, best score, RNG), a
parameter checksum per process. What differs between rgbt-train's tasks and UUSOD's stages is
a `TrainingTask`: the model and what of it trains, the samples, the loss of a batch and its
backward pass, the work after each epoch and the files it writes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from rgbt_models.backbone.checkpoint import CheckpointError, read_checkpoint
from rgbt_models.checkpoint import atomic_torch_save, remove_stale_temporaries
from rgbt_models.devices import resolve_device
from rgbt_models.training import distributed
from rgbt_models.training.config import OptimConfig

log = logging.getLogger("rgbt_models.train")
STATE_FILE = "last.pt"
STATE_KEYS = ("kind", "model", "optimizer", "scheduler", "epoch", "best", "torch_rng", "task_rng", "config")


def pick_device(requested: str = "auto") -> torch.device:
    """The training device (rgbt_models.devices' rule; under torchrun, this process's GPU)."""
    device, reason = resolve_device(requested)
    if requested == "cuda" and device == "cpu":
        log.warning("%s: training on the CPU", reason)
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) if device == "cuda" else torch.device("cpu")


def mixed_precision(device: torch.device, enabled: bool):
    """(autocast context, GradScaler or None): bf16 where CUDA supports it, else fp16 with a
    scaler; on the CPU neither (full precision)."""
    if not (enabled and device.type == "cuda"):
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


def make_scheduler(optimizer, o: OptimConfig, steps_per_epoch: int):
    total = max(1, o.epochs * steps_per_epoch)
    warmup = int(o.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if o.scheduler == "constant":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, 1 - (step - warmup) / max(1, total - warmup)) ** o.poly_power

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@dataclass
class Step:
    """What `TrainingTask.step` gives back: the batch's total loss (already back-propagated)
    and its terms, for the logs."""

    total: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)


class TrainingTask(Protocol):
    """What one kind of training run contributes to the loop."""

    kind: str  # what last.pt says it is: --resume refuses a state of another kind
    model: torch.nn.Module
    dataset: torch.utils.data.Dataset  # the training samples (the loop shuffles and batches them)

    def trainable(self) -> list[torch.nn.Parameter]: ...

    def prepare(self, device: torch.device, rank: int, resumed: bool) -> None:
        """Work before the first epoch (after a resume too), e.g. the first pseudo-labels."""

    def begin_epoch(self, epoch: int) -> None:
        """Per-epoch state before its first batch (augmentation draw, schedules)."""

    def step(self, batch: dict, epoch: int, device: torch.device, autocast, scaler) -> Step:
        """Forward, loss and backward pass of one batch (gradients scaled by `scaler` if any)."""

    def after_epoch(self, epoch: int, record: dict, device: torch.device) -> float:
        """Rank 0, after each epoch: evaluation and such, written into `record`; the score that
        picks the best epoch (higher is better)."""

    def save(self, output: Path, epoch: int, record: dict, best: bool) -> None:
        """Rank 0, after each epoch: the task's model files (record["score"]: the epoch's score)."""

    def finish(self, output: Path) -> None:
        """Rank 0, after the last epoch."""

    def rng_state(self) -> torch.Tensor: ...

    def set_rng_state(self, state: torch.Tensor) -> None: ...


def read_training_state(path: Path, kind: str) -> dict:
    """last.pt for --resume, checked: a training state of this kind, not a model checkpoint."""
    state = read_checkpoint(path)
    missing = [key for key in STATE_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a training state written by rgbt-train or rgbt-adapt (missing "
                              f"{missing}); remove it to start afresh")
    if state["kind"] != kind:
        raise CheckpointError(f"{path}: a training state of {state['kind']!r}, not {kind!r}")
    return state


def fit(task: TrainingTask, o: OptimConfig, output: str | Path, config: dict, device: torch.device, rank: int,
        world_size: int, resume: bool = False, progress: bool = True, max_steps_per_epoch: int | None = None,
        description: str | None = None) -> dict:
    """Train `task` as `o` says, writing into `output`; returns the history, the best score and
    the parameter checksum. `config` is stored in last.pt (what the run was)."""
    output = Path(output)
    model, params = task.model, task.trainable()
    optimizer = (torch.optim.AdamW if o.optimizer == "adamw" else torch.optim.Adam)(
        params, lr=o.lr, weight_decay=o.weight_decay)
    steps_per_epoch = len(task.dataset) // world_size // o.batch_size
    if max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, max_steps_per_epoch)
    if steps_per_epoch < 1:
        raise ValueError(f"{len(task.dataset)} training samples are fewer than one batch of {o.batch_size} per "
                         "process")
    scheduler = make_scheduler(optimizer, o, steps_per_epoch)
    autocast, scaler = mixed_precision(device, o.amp)
    start_epoch, best = 0, -math.inf
    state_path = output / STATE_FILE
    if rank == 0:
        for stale in remove_stale_temporaries(output):
            log.info("removed %s, left by an interrupted save", stale)
    if resume and state_path.is_file():
        state = read_training_state(state_path, task.kind)
        try:
            _, unexpected = model.load_state_dict(state["model"], strict=False)
        except RuntimeError as error:
            raise CheckpointError(f"{state_path}: does not fit the configured model "
                                  f"({str(error).splitlines()[0][:200]})") from error
        if unexpected:
            raise CheckpointError(f"{state_path}: keys not in the model: {unexpected[:3]}")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng_states = (state["torch_rng"], state["task_rng"])
        start_epoch, best = int(state["epoch"]) + 1, float(state["best"])
        if rank == 0:
            log.info("resumed from %s after epoch %d", state_path, start_epoch)
    elif resume and rank == 0:
        log.warning("--resume: no %s yet, starting from scratch", state_path)

    writer = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        output.mkdir(parents=True, exist_ok=True)
        writer = SummaryWriter(str(output / "tensorboard"))
    task.prepare(device, rank, resumed=start_epoch > 0)
    if start_epoch > 0:  # after prepare, which may draw random numbers: the stream goes on where it stopped
        torch.set_rng_state(rng_states[0])
        task.set_rng_state(rng_states[1])
    if world_size > 1:
        torch.distributed.barrier()
    history = []
    for epoch in range(start_epoch, o.epochs):
        task.begin_epoch(epoch)
        order = torch.randperm(len(task.dataset), generator=torch.Generator().manual_seed(o.seed * 100_003 + epoch))
        indices = order[rank::world_size][: steps_per_epoch * o.batch_size].tolist()
        loader = DataLoader(Subset(task.dataset, indices), batch_size=o.batch_size, shuffle=False,
                            num_workers=o.num_workers, drop_last=True)
        bar = tqdm(loader, desc=f"{description or task.kind} epoch {epoch + 1}/{o.epochs}",
                   disable=not progress or rank != 0, total=steps_per_epoch)
        model.train()
        epoch_losses, started = [], time.perf_counter()
        for step, batch in enumerate(bar):
            optimizer.zero_grad(set_to_none=True)
            result = task.step(batch, epoch, device, autocast, scaler)
            distributed.average_gradients(params)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            scheduler.step()
            total = float(result.total)
            epoch_losses.append(total)
            if writer and step % o.log_every == 0:
                global_step = epoch * steps_per_epoch + step
                writer.add_scalar("train/loss", total, global_step)
                for name, value in result.terms.items():
                    writer.add_scalar(f"train/{name}", float(value.detach()), global_step)
                writer.add_scalar("train/lr", scheduler.get_last_lr()[0], global_step)
            bar.set_postfix(loss=f"{total:.4f}")
        record = {"epoch": epoch, "loss": float(np.mean(epoch_losses)), "seconds": time.perf_counter() - started}
        if rank == 0:
            score = record["score"] = task.after_epoch(epoch, record, device)
            is_best = score > best
            best = max(best, score)
            task.save(output, epoch, record, is_best)
            atomic_torch_save({"kind": task.kind, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "scheduler": scheduler.state_dict(), "epoch": epoch, "best": best,
                               "torch_rng": torch.get_rng_state(), "task_rng": task.rng_state(),
                               "config": config}, state_path)
            for key, value in record.items():
                if isinstance(value, float) and key != "seconds":
                    writer.add_scalar(f"epoch/{key}", value, epoch)
                elif isinstance(value, dict):
                    for name, number in value.items():
                        if isinstance(number, int | float):
                            writer.add_scalar(f"epoch/{key}/{name}", number, epoch)
            writer.flush()
            log.info("epoch %d: %s", epoch + 1, record)
        if world_size > 1:
            torch.distributed.barrier()
        history.append(record)
    checksum = distributed.parameter_checksum(model)
    if world_size > 1:
        # One write with its newline: print() writes the text and the newline apart, and the two
        # processes' lines then run into each other on a shared stdout.
        sys.stdout.write(f"rank {rank} parameter checksum {checksum}\n")
        sys.stdout.flush()
    if rank == 0:
        task.finish(output)
        writer.close()
    if world_size > 1:
        torch.distributed.destroy_process_group()
    return {"history": history, "best_score": best, "output_dir": str(output), "checksum": checksum}

"""The training loop of rgbt-train and rgbt-adapt: what every training run does alike.

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

from rgbt_models.checkpoint import (
    CheckpointError,
    read_training_state,
    remove_stale_temporaries,
    save_training_state,
)
from rgbt_models.runtime.devices import resolve_device
from rgbt_models.training import distributed
from rgbt_models.training.config import OptimConfig

log = logging.getLogger("rgbt_models.train")
STATE_FILE = "last.pt"


def pick_device(requested: str = "auto") -> torch.device:
    """The training device (rgbt_models.runtime.devices' rule; under torchrun, this process's GPU)."""
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


def model_rng_state(model: torch.nn.Module) -> torch.Tensor:
    """The state of a model's own `random_stream` (SAMSOD's PCGrad task order), for last.pt: a
    task saves it so that a resumed run draws what the uninterrupted one draws (none: empty)."""
    generator = getattr(model, "random_stream", None)
    return generator.get_state() if generator is not None else torch.empty(0, dtype=torch.uint8)


def set_model_rng_state(model: torch.nn.Module, state: torch.Tensor) -> None:
    generator = getattr(model, "random_stream", None)
    if generator is not None and state.numel():
        generator.set_state(state)


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


@dataclass
class Optimisation:
    """The parts of a run that step with every batch and are saved in last.pt."""

    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    steps_per_epoch: int
    autocast: object
    scaler: object  # torch.amp.GradScaler or None


def optimisation(task: TrainingTask, o: OptimConfig, device: torch.device, world_size: int,
                 max_steps_per_epoch: int | None) -> Optimisation:
    params = task.trainable()
    optimizer = (torch.optim.AdamW if o.optimizer == "adamw" else torch.optim.Adam)(
        params, lr=o.lr, weight_decay=o.weight_decay)
    steps = len(task.dataset) // world_size // o.batch_size
    if max_steps_per_epoch:
        steps = min(steps, max_steps_per_epoch)
    if steps < 1:
        raise ValueError(f"{len(task.dataset)} training samples are fewer than one batch of {o.batch_size} per "
                         "process")
    return Optimisation(params, optimizer, make_scheduler(optimizer, o, steps), steps,
                        *mixed_precision(device, o.amp))


def resume_state(path: Path, task: TrainingTask, run: Optimisation) -> tuple[int, float, tuple]:
    """Model, optimizer and scheduler from last.pt; (first epoch to run, best score, RNG states)."""
    state = read_training_state(path, task.kind)
    try:
        _, unexpected = task.model.load_state_dict(state["model"], strict=False)
    except RuntimeError as error:
        raise CheckpointError(f"{path}: does not fit the configured model "
                              f"({str(error).splitlines()[0][:200]})") from error
    if unexpected:
        raise CheckpointError(f"{path}: keys not in the model: {unexpected[:3]}")
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    return int(state["epoch"]) + 1, float(state["best"]), (state["torch_rng"], state["task_rng"])


def train_epoch(task: TrainingTask, o: OptimConfig, run: Optimisation, epoch: int, device: torch.device, rank: int,
                world_size: int, writer, progress: bool, description: str) -> dict:
    """One epoch of batches in this epoch's seeded order (this process's share); its record."""
    task.begin_epoch(epoch)
    order = torch.randperm(len(task.dataset), generator=torch.Generator().manual_seed(o.seed * 100_003 + epoch))
    indices = order[rank::world_size][: run.steps_per_epoch * o.batch_size].tolist()
    loader = DataLoader(Subset(task.dataset, indices), batch_size=o.batch_size, shuffle=False,
                        num_workers=o.num_workers, drop_last=True)
    bar = tqdm(loader, desc=f"{description} epoch {epoch + 1}/{o.epochs}", disable=not progress or rank != 0,
               total=run.steps_per_epoch)
    task.model.train()
    losses, started = [], time.perf_counter()
    for step, batch in enumerate(bar):
        run.optimizer.zero_grad(set_to_none=True)
        result = task.step(batch, epoch, device, run.autocast, run.scaler)
        distributed.average_gradients(run.params)
        if run.scaler is not None:
            run.scaler.step(run.optimizer)
            run.scaler.update()
        else:
            run.optimizer.step()
        run.scheduler.step()
        losses.append(float(result.total))
        if writer and step % o.log_every == 0:
            global_step = epoch * run.steps_per_epoch + step
            writer.add_scalar("train/loss", losses[-1], global_step)
            for name, value in result.terms.items():
                writer.add_scalar(f"train/{name}", float(value.detach()), global_step)
            writer.add_scalar("train/lr", run.scheduler.get_last_lr()[0], global_step)
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return {"epoch": epoch, "loss": float(np.mean(losses)), "seconds": time.perf_counter() - started}


def write_epoch_scalars(writer, record: dict, epoch: int) -> None:
    """The epoch's numbers (and the numbers of its dicts, e.g. evaluation metrics) to TensorBoard."""
    for key, value in record.items():
        if isinstance(value, float) and key != "seconds":
            writer.add_scalar(f"epoch/{key}", value, epoch)
        elif isinstance(value, dict):
            for name, number in value.items():
                if isinstance(number, int | float):
                    writer.add_scalar(f"epoch/{key}/{name}", number, epoch)
    writer.flush()


def fit(task: TrainingTask, o: OptimConfig, output: str | Path, config: dict, device: torch.device, rank: int,
        world_size: int, resume: bool = False, progress: bool = True, max_steps_per_epoch: int | None = None,
        description: str | None = None) -> dict:
    """Train `task` as `o` says, writing into `output`; returns the history, the best score and
    the parameter checksum. `config` is stored in last.pt (what the run was)."""
    output, state_path = Path(output), Path(output) / STATE_FILE
    run = optimisation(task, o, device, world_size, max_steps_per_epoch)
    start_epoch, best, rng_states = 0, -math.inf, None
    if rank == 0:
        for stale in remove_stale_temporaries(output):
            log.info("removed %s, left by an interrupted save", stale)
    if resume and state_path.is_file():
        start_epoch, best, rng_states = resume_state(state_path, task, run)
        if rank == 0:
            log.info("resumed from %s after epoch %d", state_path, start_epoch)
    elif resume and rank == 0:
        log.warning("--resume: no %s yet, starting from scratch", state_path)
    elif state_path.is_file() and rank == 0:
        log.warning("%s holds an earlier run: this one replaces its checkpoints (--resume would continue it)",
                    output)
    writer = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        output.mkdir(parents=True, exist_ok=True)
        writer = SummaryWriter(str(output / "tensorboard"))
    task.prepare(device, rank, resumed=start_epoch > 0)
    if rng_states is not None:  # after prepare, which may draw random numbers: the stream goes on where it stopped
        torch.set_rng_state(rng_states[0])
        task.set_rng_state(rng_states[1])
    if world_size > 1:
        torch.distributed.barrier()
    history = []
    for epoch in range(start_epoch, o.epochs):
        record = train_epoch(task, o, run, epoch, device, rank, world_size, writer, progress,
                             description or task.kind)
        if rank == 0:
            score = record["score"] = task.after_epoch(epoch, record, device)
            task.save(output, epoch, record, score > best)
            best = max(best, score)
            save_training_state(state_path, {
                "kind": task.kind, "model": task.model.state_dict(), "optimizer": run.optimizer.state_dict(),
                "scheduler": run.scheduler.state_dict(), "epoch": epoch, "best": best,
                "torch_rng": torch.get_rng_state(), "task_rng": task.rng_state(), "config": config})
            write_epoch_scalars(writer, record, epoch)
            log.info("epoch %d: %s", epoch + 1, record)
        if world_size > 1:
            torch.distributed.barrier()
        history.append(record)
    checksum = distributed.parameter_checksum(task.model)
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

"""rgbt-adapt's run of one UUSOD stage: its task from the STAGES table (uusod/stages.py) through
the training loop of rgbt-train (training/loop.py: progress bars, TensorBoard, atomic
per-epoch checkpoints, --resume after a kill, torchrun, AMP on CUDA). The detector and adapter
stages write `samsod.pt`, a normal SAMSOD checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from rgbt_models.training import distributed
from rgbt_models.training.loop import fit, pick_device
from rgbt_models.uusod.config import AdaptConfig
from rgbt_models.uusod.stages import STAGES


def run(config: AdaptConfig, resume: bool = False, device: str = "auto", progress: bool = True,
        max_steps_per_epoch: int | None = None) -> dict:
    """Run one stage; returns its history (loss, p, pseudo-label quality, evaluation per epoch)."""
    torch_device = pick_device(device)
    rank, world_size = distributed.init_from_env(torch_device)
    torch.manual_seed(config.train.seed)
    task = STAGES[config.stage](config, torch_device)
    summary = fit(task, config.train, config.output_dir, config.to_dict(), torch_device, rank, world_size,
                  resume=resume, progress=progress, max_steps_per_epoch=max_steps_per_epoch,
                  description=f"uusod {config.stage}")
    return {**summary, "first_labels": task.first_labels, "model": str(Path(config.output_dir) / task.model_file),
            "samples": len(task.dataset),
            "best_loss": min((h["loss"] for h in summary["history"]), default=math.nan)}

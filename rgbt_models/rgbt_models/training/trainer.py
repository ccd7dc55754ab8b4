"""rgbt-train: SAMSOD or SARTM on labelled data, through the training loop (training/loop.py):
progress bars, TensorBoard, atomic per-epoch checkpoints, best-by-validation, exact resume,
mixed precision on CUDA, torchrun."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rgbt_models.data.datasets import DatasetError, open_dataset, sample_ids
from rgbt_models.data.registration import homography_record, homography_setting
from rgbt_models.data.transforms import TransformConfig, TransformedDataset
from rgbt_models.evaluation.core import check_dataset, evaluate
from rgbt_models.registry import MODELS
from rgbt_models.runtime import load_model
from rgbt_models.training import distributed
from rgbt_models.training.config import TrainConfig
from rgbt_models.training.loop import Step, fit, model_rng_state, pick_device, set_model_rng_state

BEST_FILE = "best.pt"


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
    setup = d.thermal_setup  # checked here: a bad set-up fails before any training
    common = {"height": d.height, "width": d.width, "homography": homography_setting(d.homography, "data.homography"),
              **TransformConfig.thermal_fields(setup)}
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


def target_of(task: str, batch: dict) -> torch.Tensor:
    return batch["mask"] if task == "samsod" else batch["label"]


class SupervisedTask:
    """rgbt-train's part of the loop: a SAMSOD or SARTM on labelled data, kept by validation score
    (best.pt) and written once more after the last epoch (final.pt)."""

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config, self.kind = config, config.task
        if config.init_checkpoint:  # fine-tuning: the checkpoint's weights and model config
            self.model = load_model(config.task, config.init_checkpoint).to(device)
            config.model = self.model.config.to_dict()
        else:
            model_class, config_class = MODELS[config.task]  # SARTM computes its text embeddings when distilling
            self.model = model_class(config_class.from_dict(config.model)).to(device)
        distributed.broadcast_parameters(self.model)
        self.model.train()
        self.dataset, self.validation = make_datasets(config, self.model)
        self.input_size = [config.data.height, config.data.width]
        self.homography = self.dataset.config.homography  # read once: the file may change during training

    def trainable(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def prepare(self, device: torch.device, rank: int, resumed: bool) -> None:
        pass

    def begin_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)  # the epoch's augmentation draw

    def step(self, batch: dict, epoch: int, device: torch.device, autocast, scaler) -> Step:
        rgb, thermal = batch["rgb"].to(device), batch["thermal"].to(device)
        target = target_of(self.kind, batch).to(device)
        with autocast:
            outputs = self.model(rgb, thermal)
        losses = self.model.losses({k: v.float() for k, v in outputs.items()}, target)
        if scaler is not None:
            losses = {k: scaler.scale(v) for k, v in losses.items()}
        return Step(self.model.backward(losses), losses)

    def after_epoch(self, epoch: int, record: dict, device: torch.device) -> float:
        if self.validation is None:
            return -record["loss"]
        results = evaluate(self.model, self.validation, device, self.config.train.batch_size)
        record["val"] = {k: v for k, v in results.items() if isinstance(v, int | float)}
        return results["score"]

    def save(self, output: Path, epoch: int, record: dict, best: bool) -> None:
        if best:
            self.model.save(output / BEST_FILE, extra={"epoch": epoch, "score": record["score"], **self.record()})

    def finish(self, output: Path) -> None:
        self.model.save(output / "final.pt", extra={"epochs": self.config.train.epochs, **self.record()})

    def record(self) -> dict:
        """What a checkpoint records of the data it learned from, for the node to apply or compare."""
        d = self.config.data
        return {"input_size": self.input_size, "thermal": d.thermal_setup.to_dict(),
                "homography": homography_record(self.homography)}

    def rng_state(self) -> torch.Tensor:
        return model_rng_state(self.model)  # PCGrad's task order

    def set_rng_state(self, state: torch.Tensor) -> None:
        set_model_rng_state(self.model, state)


def train(config: TrainConfig, resume: bool = False, device: str = "auto", max_steps_per_epoch: int | None = None,
          progress: bool = True) -> dict:
    """Train `config`; returns a summary (epochs, best score, checkpoint paths, checksum)."""
    torch_device = pick_device(device)
    rank, world_size = distributed.init_from_env(torch_device)
    torch.manual_seed(config.train.seed)
    np.random.seed(config.train.seed)
    task = SupervisedTask(config, torch_device)
    return fit(task, config.train, config.output_dir, config.to_dict(), torch_device, rank, world_size,
               resume=resume, progress=progress, max_steps_per_epoch=max_steps_per_epoch, description=config.task)

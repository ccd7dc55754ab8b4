"""UUSOD's stages as the training loop's tasks (training/loop.py: TrainingTask), one class each,
chosen from STAGES by `stage:` in the rgbt-adapt YAML.

- `PretrainStage`: masked image modelling of the frozen SAM 2 encoder on unlabeled frames.
- `CueStage` (sce): the cue extractor's heads learn with PCL-SD (hard-pixel margin p from the
  schedule), texture matching and two-view consistency.
- `PseudoLabelStage`, the base of the two that learn from pseudo-labels: the store, the
  refiner and SPR, which rewrites each label after an epoch from the model's prediction, its
  refinement and the label.
  - `DetectorStage`: SAMSOD from the SCE's maps (PCGrad across its heads, as in rgbt-train).
  - `AdapterStage`: a trained SAMSOD, frozen, with a zero-initialised domain adapter that alone
    learns from the new domain's pseudo-labels (first: the source model's refined predictions,
    its heads weighted as `heads` says).
`StageTask` holds what all share: the model, the unlabeled samples at the model input size with
the stage's thermal set-up, the per-epoch joint flip, the quality reports and the checkpoint.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset

from rgbt_models.data.registration import homography_record, homography_setting
from rgbt_models.data.thermal import ThermalSetup, differs, setup_line, trained_setup_with
from rgbt_models.data.transforms import TransformConfig, apply_transform
from rgbt_models.losses.iou import iou_loss
from rgbt_models.runtime import load_model
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.samsod.domain_adapter import attach_domain_adapter
from rgbt_models.training import distributed
from rgbt_models.training.loop import Step, model_rng_state, set_model_rng_state
from rgbt_models.uusod.config import AdaptConfig
from rgbt_models.uusod.cue_extractor import SaliencyCueExtractor, SCEConfig
from rgbt_models.uusod.data import open_unlabeled
from rgbt_models.uusod.labelling import (
    evaluate_on,
    guidance,
    label_quality,
    model_maps,
    stored_labels,
    write_labels,
)
from rgbt_models.uusod.pcl_sd import annealed_exponent, hard_pixel_fraction, pcl_sd_loss
from rgbt_models.uusod.refiner import PixelAffinityRefiner
from rgbt_models.uusod.store import PseudoLabelStore
from rgbt_models.uusod.texture import texture_matching_loss

log = logging.getLogger("rgbt_models.uusod")


class UnlabeledTensors(torch.utils.data.Dataset):
    """Label-free samples at the model input size (the shared geometry), with their names. A
    source whose thermal is in [0, 1] already (a registered bag: `unit_thermal`) passes as it is."""

    def __init__(self, loaders, config: TransformConfig) -> None:
        self.base, self.config = ConcatDataset(loaders), config
        as_is = dataclasses.replace(config, thermal_normalization="fixed", thermal_range=(0.0, 1.0),
                                    thermal_polarity="white_hot", homography=None)
        self.configs = [as_is if getattr(loader, "unit_thermal", False) else config for loader in loaders]

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        source = bisect.bisect_right(self.base.cumulative_sizes, index)
        out = apply_transform(self.base[index], self.configs[source])
        return {"rgb": out["rgb"], "thermal": out["thermal"], "name": out["name"]}


def thermal_setup(data, trained) -> ThermalSetup:
    """The stage's thermal set-up: what the config sets, the rest from `trained` (the adapted
    model's recorded set-up), else the defaults; a warning when it differs from `trained`."""
    setup = trained_setup_with(trained, normalization=data.thermal_normalization, range=data.thermal_range,
                               percentiles=data.thermal_percentiles, polarity=data.thermal_polarity)
    (log.warning if differs(setup, trained) else log.info)(setup_line(setup, trained))
    return setup


def backward(loss: torch.Tensor, scaler) -> None:
    (scaler.scale(loss) if scaler else loss).backward()


def second_view(rgb: torch.Tensor, thermal: torch.Tensor, generator: torch.Generator):
    """The consistency term's other view: mirrored, with its own contrast and brightness."""
    views = []
    for image in (rgb, thermal):
        contrast = 1 + 0.4 * (torch.rand((), generator=generator).item() - 0.5)
        brightness = 0.2 * (torch.rand((), generator=generator).item() - 0.5)
        mean = image.mean(dim=(1, 2, 3), keepdim=True)
        views.append(((image - mean) * contrast + mean + brightness).clamp(0, 1).flip(-1))
    return views


class StageTask:
    """What every UUSOD stage does alike (see the module docstring); a stage says how its model
    is built (`build`), what a batch's loss is (`losses`) and what it records after an epoch."""

    model_file = "samsod.pt"

    def __init__(self, config: AdaptConfig, device: torch.device) -> None:
        d = config.data
        self.config, self.kind = config, f"uusod-{config.stage}"
        self.model, self.parameters = self.build()
        self.model.to(device)
        distributed.broadcast_parameters(self.model)
        self.thermal = thermal_setup(d, getattr(self.model, "thermal_setup", None))
        self.homography = homography_setting(d.homography, "data.homography")  # read once
        registration = (self.thermal, self.homography) if self.homography is not None else None
        self.dataset = UnlabeledTensors([open_unlabeled(s, d.height, d.width, registration) for s in d.sources],
                                        self.transform_config())
        self.names: list[str] = []
        self.first_labels: dict | None = None
        self._flips: torch.Generator | None = None

    def build(self) -> tuple[torch.nn.Module, list[torch.nn.Parameter]]:
        """(the stage's model, its trainable parameters)."""
        raise NotImplementedError

    def transform_config(self) -> TransformConfig:
        """Model-size tensors with the stage's thermal set-up (training data and evaluation alike)."""
        d = self.config.data
        return TransformConfig(height=d.height, width=d.width, train=False,
                               **TransformConfig.thermal_fields(self.thermal))

    def trainable(self) -> list[torch.nn.Parameter]:
        return self.parameters

    def prepare(self, device: torch.device, rank: int, resumed: bool) -> None:
        if rank == 0:
            self.names = [self.dataset[i]["name"] for i in range(len(self.dataset))]

    def begin_epoch(self, epoch: int) -> None:
        self._flips = torch.Generator().manual_seed(self.config.train.seed * 7919 + epoch)

    def step(self, batch: dict, epoch: int, device: torch.device, autocast, scaler) -> Step:
        """One joint flip for the images (and their labels), the forward pass, the stage's loss."""
        rgb, thermal = batch["rgb"].to(device), batch["thermal"].to(device)
        target = self.targets(batch, device)
        if torch.rand((), generator=self._flips) < 0.5:
            rgb, thermal = rgb.flip(-1), thermal.flip(-1)
            target = target.flip(-1) if target is not None else None
        with autocast:
            outputs = self.model(rgb, thermal)
        return self.losses(outputs, rgb, thermal, target, epoch, autocast, scaler)

    def targets(self, batch: dict, device: torch.device) -> torch.Tensor | None:
        return None

    def losses(self, outputs, rgb, thermal, target, epoch: int, autocast, scaler) -> Step:
        raise NotImplementedError

    def after_epoch(self, epoch: int, record: dict, device: torch.device) -> float:
        """The quality of the labels and of the model's maps where a truth exists, and the
        optional evaluation set, into the record; the score is -loss."""
        o, d = self.config.train, self.config.data
        predictions = model_maps(self.model, self.dataset, device, o.batch_size)
        for key, read in (("pseudo_labels", self.label_reader(predictions)), ("predictions", predictions.__getitem__)):
            quality = label_quality(self.names, read, d.height, d.width)
            if quality:
                record[key] = quality
        evaluation = self.evaluation(device)
        if evaluation:
            record["eval"] = evaluation
        return -record["loss"]

    def label_reader(self, predictions: dict):
        """Where the epoch's pseudo-labels are read (a stage without a store: its own maps)."""
        return predictions.__getitem__

    def evaluation(self, device: torch.device) -> dict | None:
        return evaluate_on(self.model, self.config.data.eval, self.config.train.batch_size, device,
                           self.transform_config())

    def save(self, output: Path, epoch: int, record: dict, best: bool) -> None:
        d = self.config.data
        extra = {"epoch": epoch, "stage": self.config.stage, "input_size": [d.height, d.width],
                 "thermal": self.thermal.to_dict(),
                 "homography": homography_record(self.homography)}
        geometry = getattr(self.model, "input_geometry", None)  # e.g. an imported authors' model's
        if geometry is not None:
            extra["input"] = geometry.to_dict()
        self.model.save(output / self.model_file, extra=extra)

    def finish(self, output: Path) -> None:
        pass

    def rng_state(self) -> torch.Tensor:
        return model_rng_state(self.model)  # the detector's PCGrad task order (the flips are seeded per epoch)

    def set_rng_state(self, state: torch.Tensor) -> None:
        set_model_rng_state(self.model, state)


class PretrainStage(StageTask):
    """Masked image modelling of the frozen SAM 2 encoder (uusod/pretrain.py)."""

    model_file = "sam2_pretrained.pt"

    def build(self):
        from rgbt_models.backbone import BackboneConfig
        from rgbt_models.uusod.pretrain import MaskedImagePretrainer

        model_config = self.config.model
        options = {k: v for k, v in model_config.items() if k != "backbone"}
        model = MaskedImagePretrainer(BackboneConfig.from_dict(model_config.get("backbone")), **options)
        return model, [p for p in model.parameters() if p.requires_grad]

    def prepare(self, device: torch.device, rank: int, resumed: bool) -> None:
        pass  # no labels and no quality reports: the sample names are not needed

    def losses(self, outputs, rgb, thermal, target, epoch, autocast, scaler) -> Step:
        loss = outputs  # the model returns its masked-image-modelling loss
        backward(loss, scaler)
        return Step(loss.detach(), {"masked_image_modelling": loss.detach()})

    def after_epoch(self, epoch: int, record: dict, device: torch.device) -> float:
        return -record["loss"]  # nothing to score: the encoder is for the next stages

    def save(self, output: Path, epoch: int, record: dict, best: bool) -> None:
        self.model.save_encoder(output / self.model_file)


class CueStage(StageTask):
    """The saliency cue extractor's heads with PCL-SD, texture matching and two-view consistency,
    each as `stage1` weights it (uusod/config.py: Stage1Loss)."""

    model_file = "sce.pt"

    def build(self):
        model = SaliencyCueExtractor(SCEConfig.from_dict(self.config.model))
        return model, list(model.heads.parameters())

    def begin_epoch(self, epoch: int) -> None:
        super().begin_epoch(epoch)
        self._hard: list[float] = []
        self._p = self.config.schedule.p(epoch + 1, self.config.train.epochs)

    def losses(self, outputs, rgb, thermal, target, epoch, autocast, scaler) -> Step:
        loss_config, epochs = self.config.stage1, self.config.train.epochs
        saliency = torch.sigmoid(torch.cat(list(outputs.values())).float())
        exponent = annealed_exponent(epoch + 1, epochs) if loss_config.exponent_annealing else 1.0
        terms = {"pcl_sd": pcl_sd_loss(saliency, self._p, exponent)}
        self._hard.append(hard_pixel_fraction(saliency.detach(), self._p))
        images = guidance(rgb, thermal).float().repeat(len(outputs), 1, 1, 1)
        if loss_config.texture_weight > 0:
            terms["texture"] = loss_config.texture_weight * texture_matching_loss(
                saliency, images, (rgb.shape[1], thermal.shape[1]), loss_config.texture_radius,
                loss_config.texture_alpha)
        if loss_config.consistency_weight > 0:
            view_rgb, view_thermal = second_view(rgb, thermal, self._flips)
            with autocast:
                other = self.model(view_rgb, view_thermal)
            mirrored = torch.sigmoid(torch.cat(list(other.values())).float()).flip(-1)
            terms["consistency"] = loss_config.consistency_weight * ((saliency - mirrored) ** 2).mean()
        loss = sum(terms.values())
        backward(loss, scaler)
        return Step(loss.detach(), {name: value.detach() for name, value in terms.items()})

    def after_epoch(self, epoch: int, record: dict, device: torch.device) -> float:
        record |= {"p": self._p, "hard_pixels": float(np.mean(self._hard))}
        return super().after_epoch(epoch, record, device)

    def evaluation(self, device: torch.device) -> dict | None:
        return None  # the cue extractor is no SAMSOD: the labelled set scores the next stage


class PseudoLabelStage(StageTask):
    """A SAMSOD learning from the pseudo-label store, which SPR rewrites after the epochs its
    schedule names; `first_labels_from` says what fills the store at the start."""

    def __init__(self, config: AdaptConfig, device: torch.device) -> None:
        super().__init__(config, device)
        self.refiner = PixelAffinityRefiner(config.refiner.dilations, config.refiner.iterations).to(device)
        self.store = PseudoLabelStore(Path(config.output_dir) / "pseudo_labels")

    def first_labels_from(self, device: torch.device) -> None:
        """Fill the store with the first pseudo-labels."""
        raise NotImplementedError

    def prepare(self, device: torch.device, rank: int, resumed: bool) -> None:
        """The first pseudo-labels, and their quality where a truth exists. A resumed run keeps the
        store it had (SPR's rewrites included) unless a label is missing; a fresh run writes them
        anew, whatever an earlier run in the same folder left there."""
        self.names = [self.dataset[i]["name"] for i in range(len(self.dataset))]
        if rank != 0:
            return
        if not resumed or any(n not in self.store for n in self.names):
            self.first_labels_from(device)
        d = self.config.data
        self.first_labels = label_quality(self.names, self.store.read, d.height, d.width)
        if self.first_labels:
            log.info("first pseudo-labels: %s", self.first_labels)

    def targets(self, batch: dict, device: torch.device) -> torch.Tensor:
        return stored_labels(self.store, batch["name"], device)

    def head_losses(self, outputs: dict, target: torch.Tensor) -> dict:
        if self.config.spr.variant == "authors" and self.config.spr.enabled:
            target = (target > 0.5).float()  # the authors train on the thresholded label with an IoU loss
            return {head: iou_loss(logits.float(), target) for head, logits in outputs.items()}
        return self.model.losses({k: v.float() for k, v in outputs.items()}, target)

    def losses(self, outputs, rgb, thermal, target, epoch, autocast, scaler) -> Step:
        terms = self.head_losses(outputs, target)
        loss = sum(terms.values())
        backward(loss, scaler)
        return Step(loss.detach(), terms)

    def after_epoch(self, epoch: int, record: dict, device: torch.device) -> float:
        o = self.config.train
        if self.config.spr.rewrite_after(epoch + 1, o.epochs):
            write_labels(self.model, self.dataset, self.store, device, o.batch_size, self.refiner, self.config.spr,
                         self.config.heads)
        return super().after_epoch(epoch, record, device)

    def label_reader(self, predictions: dict):
        return self.store.read


class DetectorStage(PseudoLabelStage):
    """SAMSOD trained from scratch (its decoder; the encoder frozen) on the SCE's maps."""

    def build(self):
        model = SAMSOD(SAMSODConfig.from_dict(self.config.model))
        return model, [p for p in model.parameters() if p.requires_grad]

    def first_labels_from(self, device: torch.device) -> None:
        cue = SaliencyCueExtractor.load(self.config.cue_checkpoint, device)
        write_labels(cue, self.dataset, self.store, device, self.config.train.batch_size)

    def losses(self, outputs, rgb, thermal, target, epoch, autocast, scaler) -> Step:
        terms = self.head_losses(outputs, target)  # PCGrad across SAMSOD's heads, as in rgbt-train
        return Step(self.model.backward({k: scaler.scale(v) for k, v in terms.items()} if scaler else terms), terms)


class AdapterStage(PseudoLabelStage):
    """A trained SAMSOD, frozen, and its domain adapter learning from the new domain's labels."""

    def build(self):
        source = load_model("samsod", self.config.source_checkpoint)
        size = (self.config.data.height, self.config.data.width)
        trained = getattr(source, "input_size", None)
        if trained and tuple(trained) != size:
            log.warning("data.height x data.width %dx%d differs from the size %s was trained at (%dx%d): the "
                        "adapter learns at another scale than the node runs it, and larger sizes cost more; "
                        "set the source model's size", *size, self.config.source_checkpoint, *trained)
        return attach_domain_adapter(source, self.config.adapter_hidden, self.config.adapter_levels == "all")

    def first_labels_from(self, device: torch.device) -> None:
        write_labels(self.model, self.dataset, self.store, device, self.config.train.batch_size, self.refiner,
                     heads=self.config.heads)


STAGES: dict[str, type[StageTask]] = {"pretrain": PretrainStage, "sce": CueStage, "detector": DetectorStage,
                                      "adapter": AdapterStage}

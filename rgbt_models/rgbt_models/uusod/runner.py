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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader

from rgbt_models.backbone.checkpoint import CheckpointError
from rgbt_models.data.thermal import ThermalSetup, differs, setup_line, trained_setup_with
from rgbt_models.data.transforms import TransformConfig, apply_transform
from rgbt_models.metrics import SaliencyMetrics
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.training import distributed
from rgbt_models.training.loop import Step, fit, pick_device
from rgbt_models.uusod.config import AdaptConfig, HeadWeighting
from rgbt_models.uusod.cue_extractor import SaliencyCueExtractor, SCEConfig
from rgbt_models.uusod.data import open_unlabeled, synthetic_truth
from rgbt_models.uusod.head_weighting import weight_heads
from rgbt_models.uusod.pcl_sd import annealed_exponent, hard_pixel_fraction, pcl_sd_loss
from rgbt_models.uusod.refiner import PixelAffinityRefiner
from rgbt_models.uusod.spr import SPRWeights, spr_update
from rgbt_models.uusod.store import PseudoLabelStore
from rgbt_models.uusod.texture import texture_matching_loss

log = logging.getLogger("rgbt_models.uusod")
MODEL_FILES = {"pretrain": "sam2_pretrained.pt", "sce": "sce.pt", "detector": "samsod.pt", "adapter": "samsod.pt"}


class UnlabeledTensors(torch.utils.data.Dataset):
    """Label-free samples at the model input size (the shared geometry), with their names."""

    def __init__(self, loaders, config: TransformConfig) -> None:
        self.base, self.config = ConcatDataset(loaders), config

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict:
        out = apply_transform(self.base[index], self.config)
        return {"rgb": out["rgb"], "thermal": out["thermal"], "name": out["name"]}


def thermal_setup(data, trained) -> ThermalSetup:
    """The stage's thermal set-up: what the config sets, the rest from `trained` (the adapted
    model's recorded set-up), else the defaults; a warning when it differs from `trained`."""
    setup = trained_setup_with(trained, normalization=data.thermal_normalization, range=data.thermal_range,
                               percentiles=data.thermal_percentiles, polarity=data.thermal_polarity)
    (log.warning if differs(setup, trained) else log.info)(setup_line(setup, trained))
    return setup


def build_model(config: AdaptConfig):
    """(model, its trainable parameters) for the stage."""
    if config.stage == "pretrain":
        from rgbt_models.backbone import BackboneConfig
        from rgbt_models.uusod.pretrain import MaskedImagePretrainer

        options = {k: v for k, v in config.model.items() if k != "backbone"}
        model = MaskedImagePretrainer(BackboneConfig.from_dict(config.model.get("backbone")), **options)
        return model, [p for p in model.parameters() if p.requires_grad]
    if config.stage == "sce":
        model = SaliencyCueExtractor(SCEConfig.from_dict(config.model))
        return model, list(model.heads.parameters())
    if config.stage == "detector":
        model = SAMSOD(SAMSODConfig.from_dict(config.model))
        return model, [p for p in model.parameters() if p.requires_grad]
    return attach_domain_adapter(SAMSOD.load(config.source_checkpoint), config.adapter_hidden,
                                 config.adapter_levels == "all")


def attach_domain_adapter(source: SAMSOD, hidden: int, all_levels: bool = False
                          ) -> tuple[SAMSOD, list[torch.nn.Parameter]]:
    """A copy of `source` with zero-initialised domain adapters (the deepest level, or every
    level), everything else frozen: before training it computes exactly what `source` computes."""
    config = SAMSODConfig.from_dict({**source.config.to_dict(), "domain_adapter": hidden,
                                     "domain_adapter_all_levels": all_levels})
    model = SAMSOD(config, pretrained=False)  # every weight comes from `source` just below
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    if unexpected or any(not name.startswith(("domain_adapter.", "level_adapters.")) for name in missing):
        raise CheckpointError(f"the source SAMSOD does not fit (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.input_size = source.input_size
    model.thermal_setup = getattr(source, "thermal_setup", None)
    model.input_geometry = getattr(source, "input_geometry", None)
    model.requires_grad_(False)
    adapters = [model.domain_adapter, *(model.level_adapters or [])]
    for adapter in adapters:
        adapter.requires_grad_(True)
    return model, [p for adapter in adapters for p in adapter.parameters()]


def guidance(rgb: torch.Tensor, thermal: torch.Tensor) -> torch.Tensor:
    """The refiner's image: RGB and thermal channels together."""
    return torch.cat([rgb, thermal], dim=1)


def by_maximum(maps: torch.Tensor) -> torch.Tensor:
    """Each (1, H, W) map divided by its own maximum (the authors' SPR normalisation)."""
    return maps / maps.flatten(1).amax(dim=1).clamp_min(1e-6)[:, None, None, None]


def second_view(rgb: torch.Tensor, thermal: torch.Tensor, generator: torch.Generator):
    """The stage-1 consistency term's second view: the mirror image with another brightness and
    contrast per modality (the authors use another scale; the encoder here takes one size)."""
    views = []
    for image in (rgb, thermal):
        contrast = 1 + 0.4 * (torch.rand((), generator=generator).item() - 0.5)
        brightness = 0.2 * (torch.rand((), generator=generator).item() - 0.5)
        mean = image.mean(dim=(1, 2, 3), keepdim=True)
        views.append(((image - mean) * contrast + mean + brightness).clamp(0, 1).flip(-1))
    return views


def iou_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft IoU of sigmoid(logits) with a binary target, per image, averaged."""
    prediction = torch.sigmoid(logits)
    intersection = (prediction * target).flatten(1).sum(dim=1)
    union = (prediction + target - prediction * target).flatten(1).sum(dim=1)
    return (1 - (intersection + 1) / (union + 1)).mean()


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
                if getattr(weights, "variant", "soft") == "authors":  # both normalised by their maxima
                    refined = by_maximum(refined)
                    labels = by_maximum(spr_update(refined, prediction, previous, weights))
                else:
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


def evaluate_on(model, spec: str | None, config: AdaptConfig, device, transform: TransformConfig) -> dict | None:
    """The SAMSOD's S / MAE on the optional labelled evaluation set (native resolution)."""
    if spec is None or isinstance(model, SaliencyCueExtractor):
        return None
    from rgbt_models.data.transforms import TransformedDataset
    from rgbt_models.evaluation import evaluate
    from rgbt_models.uusod.data import open_labelled

    dataset = TransformedDataset(open_labelled(spec), transform)
    results = evaluate(model, dataset, device, config.train.batch_size)
    return {k: results[k] for k in ("S", "maxF", "MAE")}


class AdaptationTask:
    """One UUSOD stage as the training loop's task (see the module docstring)."""

    def __init__(self, config: AdaptConfig, device: torch.device) -> None:
        d = config.data
        self.config, self.kind = config, f"uusod-{config.stage}"
        self.model, self.parameters = build_model(config)
        self.model.to(device)
        distributed.broadcast_parameters(self.model)
        self.thermal = thermal_setup(d, getattr(self.model, "thermal_setup", None))
        self.dataset = UnlabeledTensors(
            [open_unlabeled(s, d.height, d.width) for s in d.sources],
            self.transform_config())
        self.refiner = PixelAffinityRefiner(config.refiner.dilations, config.refiner.iterations).to(device)
        self.store = (PseudoLabelStore(Path(config.output_dir) / "pseudo_labels")
                      if config.stage not in ("pretrain", "sce") else None)
        self.names: list[str] = []
        self.first_labels: dict | None = None
        self._flips, self._p, self._hard = None, 0.0, []

    def transform_config(self) -> TransformConfig:
        """Model-size tensors with the stage's thermal set-up (training data and evaluation alike)."""
        d = self.config.data
        return TransformConfig(height=d.height, width=d.width, train=False,
                               **TransformConfig.thermal_fields(self.thermal))

    def trainable(self) -> list[torch.nn.Parameter]:
        return self.parameters

    def prepare(self, device: torch.device, rank: int, resumed: bool) -> None:
        """The first pseudo-labels (detector: the SCE's maps; adapter: the source model's refined
        predictions) unless the store has them all, and their quality where a truth exists."""
        o, d, store = self.config.train, self.config.data, self.store
        if store is None and rank != 0:
            return
        self.names = [self.dataset[i]["name"] for i in range(len(self.dataset))]
        if store is not None and rank == 0 and any(n not in store for n in self.names):
            if self.config.stage == "detector":
                write_labels(SaliencyCueExtractor.load(self.config.cue_checkpoint, device), self.dataset, store,
                             device, o.batch_size)
            else:
                write_labels(self.model, self.dataset, store, device, o.batch_size, self.refiner,
                             heads=self.config.heads)
        if store is not None and rank == 0:
            self.first_labels = label_quality(self.names, store.read, d.height, d.width)
            if self.first_labels:
                log.info("first pseudo-labels: %s", self.first_labels)

    def begin_epoch(self, epoch: int) -> None:
        """The epoch's hard-pixel margin and its flips."""
        self._hard = []
        self._p = self.config.schedule.p(epoch + 1, self.config.train.epochs)
        self._flips = torch.Generator().manual_seed(self.config.train.seed * 7919 + epoch)

    def step(self, batch: dict, epoch: int, device: torch.device, autocast, scaler) -> Step:
        rgb, thermal = batch["rgb"].to(device), batch["thermal"].to(device)
        target = None
        if self.store is not None:
            target = torch.stack([torch.from_numpy(self.store.read(n)) for n in batch["name"]])[:, None].to(device)
        if torch.rand((), generator=self._flips) < 0.5:  # one joint flip for images and labels
            rgb, thermal = rgb.flip(-1), thermal.flip(-1)
            target = target.flip(-1) if target is not None else None
        with autocast:
            outputs = self.model(rgb, thermal)
        if self.config.stage == "pretrain":
            loss = outputs  # the masked-image-modelling loss (uusod/pretrain.py)
            (scaler.scale(loss) if scaler else loss).backward()
            return Step(loss.detach(), {"masked_image_modelling": loss.detach()})
        if self.config.stage == "sce":
            terms = self.stage1_terms(outputs, rgb, thermal, epoch, autocast)
            loss = sum(terms.values())
            (scaler.scale(loss) if scaler else loss).backward()
            return Step(loss.detach(), {name: value.detach() for name, value in terms.items()})
        if self.config.spr.variant == "authors" and self.config.spr.enabled:
            target = (target > 0.5).float()  # the authors train on the thresholded label with an IoU loss
            terms = {head: iou_loss(logits.float(), target) for head, logits in outputs.items()}
        else:
            terms = self.model.losses({k: v.float() for k, v in outputs.items()}, target)
        if self.config.stage == "detector":  # PCGrad across SAMSOD's heads, as in rgbt-train
            return Step(self.model.backward({k: scaler.scale(v) for k, v in terms.items()} if scaler else terms),
                        terms)
        loss = sum(terms.values())
        (scaler.scale(loss) if scaler else loss).backward()
        return Step(loss.detach(), terms)

    def stage1_terms(self, outputs: dict, rgb: torch.Tensor, thermal: torch.Tensor, epoch: int, autocast) -> dict:
        """PCL-SD (with the annealed exponent), texture matching and two-view consistency, each
        as `stage1` weights it (uusod/config.py: Stage1Loss)."""
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
        return terms

    def after_epoch(self, epoch: int, record: dict, device: torch.device) -> float:
        """SPR rewrites the pseudo-labels; their quality and the model's, and the optional
        evaluation set, go into the record."""
        o, d, store = self.config.train, self.config.data, self.store
        if self.config.stage == "pretrain":
            return -record["loss"]  # nothing to score: the encoder is for the next stages
        if self.config.stage == "sce":
            record |= {"p": self._p, "hard_pixels": float(np.mean(self._hard))}
        if store is not None and self.config.spr.rewrite_after(epoch + 1, o.epochs):
            write_labels(self.model, self.dataset, store, device, o.batch_size, self.refiner, self.config.spr,
                         self.config.heads)
        predictions = model_maps(self.model, self.dataset, device, o.batch_size)
        labels = store.read if store is not None else predictions.__getitem__
        for key, read in (("pseudo_labels", labels), ("predictions", predictions.__getitem__)):
            quality = label_quality(self.names, read, d.height, d.width)
            if quality:
                record[key] = quality
        evaluation = evaluate_on(self.model, d.eval, self.config, device, self.transform_config())
        if evaluation:
            record["eval"] = evaluation
        return -record["loss"]

    def save(self, output: Path, epoch: int, record: dict, best: bool) -> None:
        d = self.config.data
        if self.config.stage == "pretrain":
            self.model.save_encoder(output / MODEL_FILES["pretrain"])
            return
        extra = {"epoch": epoch, "stage": self.config.stage, "input_size": [d.height, d.width],
                 "thermal": self.thermal.to_dict()}
        geometry = getattr(self.model, "input_geometry", None)  # e.g. an imported authors' model's
        if geometry is not None:
            extra["input"] = geometry.to_dict()
        self.model.save(output / MODEL_FILES[self.config.stage], extra=extra)

    def finish(self, output: Path) -> None:
        pass

    def rng_state(self) -> torch.Tensor:
        return torch.empty(0, dtype=torch.uint8)

    def set_rng_state(self, state: torch.Tensor) -> None:
        pass


def run(config: AdaptConfig, resume: bool = False, device: str = "auto", progress: bool = True,
        max_steps_per_epoch: int | None = None) -> dict:
    """Run one stage; returns its history (loss, p, pseudo-label quality, evaluation per epoch)."""
    torch_device = pick_device(device)
    rank, world_size = distributed.init_from_env(torch_device)
    torch.manual_seed(config.train.seed)
    task = AdaptationTask(config, torch_device)
    summary = fit(task, config.train, config.output_dir, config.to_dict(), torch_device, rank, world_size,
                  resume=resume, progress=progress, max_steps_per_epoch=max_steps_per_epoch,
                  description=f"uusod {config.stage}")
    output = Path(config.output_dir)
    return {**summary, "first_labels": task.first_labels, "model": str(output / MODEL_FILES[config.stage]),
            "samples": len(task.dataset),
            "best_loss": min((h["loss"] for h in summary["history"]), default=math.nan)}


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


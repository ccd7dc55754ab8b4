"""UUSOD: a third way to *train* SAMSOD, without labels (docs/methods.md, docs/uusod.md).

Stage 1 trains a saliency cue extractor (SCE) on the frozen SAM 2 encoder with the PCL-SD loss;
stage 2 trains SAMSOD on the SCE's maps as pseudo-labels, rewritten every epoch by SPR; adapter
tuning moves a trained SAMSOD to a new domain (a robot's own cameras) by training only a
zero-initialised residual adapter on its deepest feature, with the same pseudo-label machinery.
Unlabeled data come from rosbag2 bags or image folders; labels are never read here.
"""

import importlib

# Imported on first use (PEP 562), so that `rgbt-adapt --help` and reading an adapt config do
# not load torch.
_EXPORTS = {"SaliencyCueExtractor": "cue_extractor", "SCEConfig": "cue_extractor", "HardPixelSchedule": "pcl_sd",
            "pcl_sd_loss": "pcl_sd", "PixelAffinityRefiner": "refiner", "SPRWeights": "spr", "spr_update": "spr",
            "PseudoLabelStore": "store"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"rgbt_models.uusod.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'rgbt_models.uusod' has no attribute {name!r}")

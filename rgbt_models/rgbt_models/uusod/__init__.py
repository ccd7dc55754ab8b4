"""UUSOD: a third way to *train* SAMSOD, without labels (see ../shared/METHODS.md).

Stage 1 trains a saliency cue extractor (SCE) on the frozen SAM 2 encoder with the PCL-SD loss;
stage 2 trains SAMSOD on the SCE's maps as pseudo-labels, rewritten every epoch by SPR; adapter
tuning moves a trained SAMSOD to a new domain (a robot's own cameras) by training only a
zero-initialised residual adapter on its deepest feature, with the same pseudo-label machinery.
Unlabeled data come from rosbag2 bags or image folders; labels are never read here.
"""

from rgbt_models.uusod.cue_extractor import SaliencyCueExtractor, SCEConfig
from rgbt_models.uusod.pcl_sd import HardPixelSchedule, pcl_sd_loss
from rgbt_models.uusod.refiner import PixelAffinityRefiner
from rgbt_models.uusod.spr import SPRWeights, spr_update
from rgbt_models.uusod.store import PseudoLabelStore

__all__ = ["HardPixelSchedule", "PixelAffinityRefiner", "PseudoLabelStore", "SCEConfig", "SPRWeights",
           "SaliencyCueExtractor", "pcl_sd_loss", "spr_update"]

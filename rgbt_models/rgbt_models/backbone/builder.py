"""Build the SAM 2 parts this project uses (image encoder, prompt encoder, mask decoder).

The image encoder is instantiated from the `sam2` package's own YAML configs (or from our
`test` micro config in the same schema); the prompt encoder and mask decoder are built the
way `sam2.modeling.sam2_base.SAM2Base._build_sam_heads` builds them, so that the parameter
names match Meta's checkpoints (`image_encoder.*`, `sam_prompt_encoder.*`, `sam_mask_decoder.*`).
The video-memory modules of SAM2Base are never built.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from rgbt_models.config import ConfigMapping

# name -> config file stem inside sam2/configs/<version>/
_SAM2_STEMS = {"tiny": "hiera_t", "small": "hiera_s", "base_plus": "hiera_b+", "large": "hiera_l"}
BACKBONE_NAMES = (*_SAM2_STEMS, "test", "demo")
SAM2_VERSIONS = ("2", "2.1")
THERMAL_INPUTS = ("imagenet", "unit")


@dataclass
class BackboneConfig(ConfigMapping):
    """Which SAM 2 image encoder to build and where its pre-trained weights come from.

    name: tiny | small | base_plus | large (Meta's sizes), test (CI micro model) or demo
    (small model the demo trains end to end).
    version: "2" or "2.1" (selects sam2's config folder; the checkpoint must match it).
    checkpoint: path to an official `{'model': state_dict}` file, or None for random weights.
    image_size: the square training size; inference accepts any multiple of 32 (16 for test).
    thermal_input: "imagenet" (thermal normalised with ImageNet's mean and std, like RGB: our
    models) or "unit" (thermal enters in [0, 1], as the SAMSOD and SARTM authors' evaluations feed
    it: ToTensor only; their released weights expect it).
    """

    SECTION = "backbone"
    name: str = "tiny"
    version: str = "2.1"
    checkpoint: str | None = None
    image_size: int = 512
    thermal_input: str = "imagenet"

    def __post_init__(self) -> None:
        if self.name not in BACKBONE_NAMES:
            raise ValueError(f"backbone.name must be one of {BACKBONE_NAMES}, got {self.name!r}")
        self.version = str(self.version)
        if self.version not in SAM2_VERSIONS:
            raise ValueError(f"backbone.version must be one of {SAM2_VERSIONS}, got {self.version!r}")
        if int(self.image_size) <= 0 or int(self.image_size) % 32:
            raise ValueError(f"backbone.image_size must be a positive multiple of 32, got {self.image_size}")
        self.image_size = int(self.image_size)
        if self.thermal_input not in THERMAL_INPUTS:
            raise ValueError(f"backbone.thermal_input must be one of {THERMAL_INPUTS}, got {self.thermal_input!r}")


def sam2_config_path(config: BackboneConfig) -> Path:
    """The YAML file that defines the encoder of `config`."""
    if config.name in ("test", "demo"):
        return Path(str(resources.files("rgbt_models") / "configs" / "backbone" / f"{config.name}.yaml"))
    folder = "sam2.1" if config.version == "2.1" else "sam2"
    stem = _SAM2_STEMS[config.name]
    return Path(str(resources.files("sam2") / "configs" / folder / f"{folder}_{stem}.yaml"))


@dataclass
class SAM2Parts:
    """The modules of SAM 2 that image-level models need, named as in Meta's checkpoints."""

    image_encoder: nn.Module
    sam_prompt_encoder: nn.Module
    sam_mask_decoder: nn.Module
    no_mem_embed: nn.Parameter
    hidden_dim: int


def build_sam2_parts(config: BackboneConfig) -> SAM2Parts:
    """Instantiate the encoder, prompt encoder and mask decoder with random weights."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf
    from sam2.modeling.sam.mask_decoder import MaskDecoder
    from sam2.modeling.sam.prompt_encoder import PromptEncoder
    from sam2.modeling.sam.transformer import TwoWayTransformer

    model_cfg = OmegaConf.load(sam2_config_path(config)).model
    image_encoder = instantiate(model_cfg.image_encoder, _recursive_=True)
    hidden_dim = int(model_cfg.image_encoder.neck.d_model)
    embedding_size = config.image_size // 16  # SAM 2's backbone stride
    prompt_encoder = PromptEncoder(
        embed_dim=hidden_dim,
        image_embedding_size=(embedding_size, embedding_size),
        input_image_size=(config.image_size, config.image_size),
        mask_in_chans=16,
    )
    mask_decoder = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(
            depth=2,
            embedding_dim=hidden_dim,
            mlp_dim=int(model_cfg.get("decoder_mlp_dim", 2048)),
            num_heads=int(model_cfg.get("decoder_num_heads", 8)),
        ),
        transformer_dim=hidden_dim,
        iou_head_depth=3,
        iou_head_hidden_dim=256,
        use_high_res_features=bool(model_cfg.get("use_high_res_features_in_sam", False)),
        iou_prediction_use_sigmoid=bool(model_cfg.get("iou_prediction_use_sigmoid", False)),
        pred_obj_scores=bool(model_cfg.get("pred_obj_scores", False)),
        pred_obj_scores_mlp=bool(model_cfg.get("pred_obj_scores_mlp", False)),
        use_multimask_token_for_obj_ptr=bool(model_cfg.get("use_multimask_token_for_obj_ptr", False)),
    )
    no_mem_embed = nn.Parameter(torch.zeros(1, 1, hidden_dim))
    return SAM2Parts(image_encoder, prompt_encoder, mask_decoder, no_mem_embed, hidden_dim)

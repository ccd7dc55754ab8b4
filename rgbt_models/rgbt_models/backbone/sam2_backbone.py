"""SAM2Backbone: Meta's SAM 2 image encoder, frozen, running RGB and thermal as one batch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from rgbt_models.backbone.builder import BackboneConfig, build_sam2_parts
from rgbt_models.backbone.checkpoint import load_sam2_checkpoint, official_state_dict, sam2_file
from rgbt_models.backbone.streams import StreamRouter

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def to_model_input(images: torch.Tensor, imagenet: bool = True) -> torch.Tensor:
    """Normalise a batch of images for SAM 2.

    Accepts (N, C, H, W) with C = 3 (RGB) or 1 (thermal, repeated to 3 channels), either
    uint8 in 0..255 or floating point in [0, 1] (thermal already normalised to [0, 1], e.g.
    by rgbt_models.data's thermal normalisation for 16-bit radiometric images). Returns
    ImageNet-normalised float32, as SAM 2 was trained on (imagenet=False: three channels in
    [0, 1], how the SAMSOD and SARTM authors feed thermal).
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, 1|3, H, W), got {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        images = images.float() / 255.0
    elif not images.is_floating_point():
        raise TypeError(f"expected uint8 or floating point images, got {images.dtype}")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    if not imagenet:
        return images.float()
    mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images - mean) / std


class SAM2Backbone(nn.Module):
    """The SAM 2 image encoder shared by all streams, plus SAM 2's prompt encoder and mask decoder.

    The encoder (Hiera trunk + FPN neck), the prompt encoder and `no_mem_embed` are frozen;
    models add per-stream modules (adapters, LoRA) to the trunk's blocks through `router`, and
    decide themselves whether the mask decoder trains. Weights come from an official SAM 2
    checkpoint when `config.checkpoint` is set and `pretrained` is true; a model restored from
    one of our (self-contained) checkpoints passes pretrained=False: its file holds every weight,
    so Meta's file need not exist where it runs.
    """

    def __init__(self, config: BackboneConfig, num_streams: int = 2, pretrained: bool = True) -> None:
        super().__init__()
        self.config = config
        parts = build_sam2_parts(config)
        self.image_encoder = parts.image_encoder
        self.sam_prompt_encoder = parts.sam_prompt_encoder
        self.sam_mask_decoder = parts.sam_mask_decoder
        self.no_mem_embed = parts.no_mem_embed
        self.hidden_dim = parts.hidden_dim
        self.router = StreamRouter(num_streams)
        if config.checkpoint and pretrained:
            load_sam2_checkpoint(self.sam2_modules(), sam2_file(config.checkpoint))
        for module in (self.image_encoder, self.sam_prompt_encoder):
            module.requires_grad_(False)
        self.no_mem_embed.requires_grad_(False)

    def sam2_modules(self) -> dict[str, nn.Module | nn.Parameter]:
        """Our SAM 2 parts under the names Meta's checkpoints use."""
        return {"image_encoder": self.image_encoder, "sam_prompt_encoder": self.sam_prompt_encoder,
                "sam_mask_decoder": self.sam_mask_decoder, "no_mem_embed": self.no_mem_embed}

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights as an official checkpoint would hold them (for tests and round trips)."""
        return official_state_dict(self.sam2_modules())

    @property
    def blocks(self) -> nn.ModuleList:
        return self.image_encoder.trunk.blocks

    @property
    def stage_ends(self) -> list[int]:
        return list(self.image_encoder.trunk.stage_ends)

    @property
    def stage_channels(self) -> list[int]:
        """Channels of the trunk's four stage outputs, shallow to deep."""
        return [self.blocks[i].dim_out for i in self.stage_ends]

    @property
    def input_multiple(self) -> int:
        """Input sides must be multiples of this (the trunk's total stride)."""
        return 32

    def encode(self, streams: Sequence[torch.Tensor | None]) -> tuple[list[torch.Tensor], tuple[int, ...]]:
        """Run the present streams through the trunk as one batch.

        streams[s] is stream s's image batch (N, 1|3, H, W) or None when absent. Returns the
        trunk's four stage features (shallow to deep) for the stacked batch (stream-major
        rows) and the indices of the streams it holds.
        """
        present = tuple(s for s, images in enumerate(streams) if images is not None)
        if not present:
            raise ValueError("at least one input stream is required")
        unit = {1} if self.config.thermal_input == "unit" else set()  # stream 1 is thermal
        batch = torch.cat([to_model_input(streams[s], imagenet=s not in unit) for s in present], dim=0)
        height, width = batch.shape[-2:]
        if height % self.input_multiple or width % self.input_multiple:
            raise ValueError(f"input size {height}x{width} must be a multiple of {self.input_multiple}")
        self.router.set_active(present)
        return self.image_encoder.trunk(batch), present

    def neck(self, stage_features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """SAM 2's FPN neck: 256-channel maps at strides 4, 8, 16 (the stride-32 level is dropped)."""
        features, _ = self.image_encoder.neck(list(stage_features))
        scalp = self.image_encoder.scalp
        return features[:-scalp] if scalp > 0 else features

    def decode(self, fpn: Sequence[torch.Tensor], mask_decoder: nn.Module | None = None,
               high_res: Sequence[torch.Tensor] | None = None, *, no_mem_embed: bool = True,
               dense_prompt: bool = True, not_a_point_tokens: int = 0,
               object_scores: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """SAM 2's mask decoder without prompts, as SAM 2's image predictor runs it.

        Returns the logits of every mask token, (N, num_mask_tokens, H/4, W/4), and with
        `object_scores` the object-score logits (N, 1) too. `mask_decoder` defaults to SAM 2's
        own (SARTM passes its per-class decoder); `high_res` replaces the decoder's conv_s0/conv_s1
        projections of fpn[0], fpn[1] (SARTM passes fused FFP, IFP). The keyword options give the
        authors' released models their exact computation: SARTM's SAM2Base._forward_sam_heads
        adds no `no_mem_embed` and prompts with two "not a point" tokens; SAMSOD's vendored
        decoder leaves the dense (no-mask) embedding out.
        """
        decoder = mask_decoder or self.sam_mask_decoder
        image_embed = fpn[-1] + self.no_mem_embed.view(1, -1, 1, 1) if no_mem_embed else fpn[-1]
        if high_res is None and decoder.use_high_res_features:
            high_res = [decoder.conv_s0(fpn[0]), decoder.conv_s1(fpn[1])]
        n, _, h, w = image_embed.shape
        prompts = self.sam_prompt_encoder
        image_pe = prompts.pe_layer((h, w)).unsqueeze(0)
        sparse = prompts.not_a_point_embed.weight.view(1, 1, -1).expand(n, not_a_point_tokens, -1)
        dense = (prompts.no_mask_embed.weight.view(1, -1, 1, 1).expand(n, -1, h, w) if dense_prompt
                 else image_embed.new_zeros(1, 1, 1, 1))
        masks, _, _, scores = decoder.predict_masks(
            image_embeddings=image_embed, image_pe=image_pe, sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense, repeat_image=False, high_res_features=high_res)
        return (masks, scores) if object_scores else masks


def freeze_unused_decoder_parts(decoder: nn.Module, used_mask_tokens: int) -> list[str]:
    """Freeze what of a SAM 2 mask decoder no loss reaches when only its first
    `used_mask_tokens` masks are used and no IoU or object score is: the IoU prediction head,
    the object-score head and the hypernetwork MLPs of the unused mask tokens. (Their tokens
    stay trainable: they take part in the transformer's attention.) Returns the frozen names."""
    frozen = ["iou_prediction_head"]
    decoder.iou_prediction_head.requires_grad_(False)
    if getattr(decoder, "pred_obj_scores", False):
        decoder.pred_obj_score_head.requires_grad_(False)
        frozen.append("pred_obj_score_head")
    for index, mlp in enumerate(decoder.output_hypernetworks_mlps):
        if index >= used_mask_tokens:
            mlp.requires_grad_(False)
            frozen.append(f"output_hypernetworks_mlps.{index}")
    return frozen


def upsample_to(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of logits to an image size (H, W)."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)

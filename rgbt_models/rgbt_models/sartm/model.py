"""The SARTM model: per-modality LoRA, per-level cross-modal fusion, class decoder + auxiliary head."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from rgbt_models.backbone import BackboneConfig, SAM2Backbone
from rgbt_models.backbone.sam2_backbone import freeze_unused_decoder_parts, upsample_to
from rgbt_models.checkpoint import CheckpointedModel
from rgbt_models.config import ConfigError, ConfigMapping, build_sections, check_keys
from rgbt_models.data.classes import ClassList, class_list
from rgbt_models.lora import add_qv_lora
from rgbt_models.losses.cmkd import class_prototypes, cmkd_loss, prototype_consistency_loss
from rgbt_models.losses.ohem import ohem_cross_entropy
from rgbt_models.sartm.fusion import CrossModalFusion
from rgbt_models.sartm.heads import AuxiliaryFPNHead
from rgbt_models.text import encode_class_names

INFERENCE_PATHS = ("decoder", "aux", "average")
# ours: the paper's model (per-modality LoRA, fusion of both modalities feeding the class decoder,
# a trained auxiliary head). authors: the computation of the authors' released weights as their
# evaluation (tools/val_mm.py) runs it: one LoRA set shared by both modalities; SAM 2's mask decoder
# with one token per class after token 0, its object score gating the whole image, run on each
# modality's unfused features and the two modalities' logits averaged (rgbt-import builds it).
VARIANTS = ("ours", "authors")
NO_OBJECT_LOGIT = -1024.0  # SAM 2's NO_OBJ_SCORE: every class logit where the object score is <= 0


# Named loss weightings (`loss: NAME` in a model config, or `loss: {preset: NAME, <overrides>}`).
# Every preset uses the authors' CMKD formulation (τ = 1, element mean: see cmkd_loss).
LOSS_PRESETS: dict[str, dict[str, float]] = {
    # The authors' released training script (tools/train_mm.py): every term weighted 1,
    # `loss = loss_sam + loss_aux + prototype_loss + kl_loss`.
    "authors_code": {"decoder_weight": 1.0, "aux_weight": 1.0, "cmkd_weight": 1.0, "prototype_weight": 1.0},
    # The paper's Table VII optimum on MFNet (Sec. IV-D4: 0.008, 10000 and 100, mIoU 60.03). The
    # paper's text lost the weights' symbols; we read them in the order of the released code's
    # terms after the decoder's: auxiliary CE 0.008, prototype term 10000, CMKD KL 100.
    "paper": {"decoder_weight": 1.0, "aux_weight": 0.008, "cmkd_weight": 100.0, "prototype_weight": 10000.0},
    # Ours: the authors' code without its undocumented prototype-memory term.
    "ours": {"decoder_weight": 1.0, "aux_weight": 1.0, "cmkd_weight": 1.0, "prototype_weight": 0.0},
}
# The default: the best decoder-path mIoU of the three in benchmarks/bench_fidelity.py (its figures:
# docs/models.md, ablations).
DEFAULT_LOSS_PRESET = "authors_code"


@dataclass
class SARTMLossConfig:
    preset: str = DEFAULT_LOSS_PRESET
    decoder_weight: float = 1.0
    aux_weight: float = 1.0
    cmkd_weight: float = 1.0
    prototype_weight: float = 1.0
    cmkd_temperature: float = 1.0
    ohem_keep_threshold: float = 0.7
    ohem_min_kept_divisor: int = 16

    @classmethod
    def from_value(cls, value: str | dict | None) -> SARTMLossConfig:
        """`loss:` of a config: a preset name, or a mapping with an optional `preset` and
        overrides of single fields (a checkpoint stores the full mapping)."""
        values = {"preset": value} if isinstance(value, str) else dict(value or {})
        check_keys("sartm model.loss", values, cls.__dataclass_fields__)
        preset = values.get("preset", DEFAULT_LOSS_PRESET)
        if preset not in LOSS_PRESETS:
            raise ConfigError(f"unknown loss preset {preset!r}; choose one of {sorted(LOSS_PRESETS)}")
        return cls(**{**LOSS_PRESETS[preset], **values, "preset": preset})


@dataclass
class SARTMConfig(ConfigMapping):
    """Everything that defines a SARTM model (stored in its checkpoints)."""

    SECTION = "sartm model"

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    classes: str | dict = "mfnet"
    lora_rank: int = 16
    lora_alpha: float | None = None
    loss: SARTMLossConfig = field(default_factory=SARTMLossConfig)
    text_encoder: str = "minilm"
    text_encoder_weights: str | None = None
    # Which prediction the model returns at test time: the class decoder, the auxiliary FPN head,
    # or the average of their probabilities. The authors' evaluation (tools/val_mm.py) uses the
    # decoder's; so do we: it scored best of the three in benchmarks/bench_fidelity.py
    # (docs/models.md, ablations). Checkpoints keep the path they were trained with.
    inference_path: str = "decoder"
    # Train the encoder too (only for the CI/demo micro backbone, which has no pre-trained weights).
    train_encoder: bool = False
    # Train the class decoder's two-way transformer; the paper keeps it frozen ("the frozen
    # Transformer block", Sec. III-A): False. The mask tokens, hypernetwork MLPs and upscaling train
    # (with train_encoder, i.e. no pre-trained weights at all, the transformer trains too).
    train_decoder_transformer: bool = False
    # See VARIANTS: "authors" reproduces the released weights' computation (rgbt-import sets it).
    variant: str = "ours"

    def __post_init__(self) -> None:
        build_sections(self)  # loss as a preset name or a mapping, as in YAML
        if self.inference_path not in INFERENCE_PATHS:
            raise ConfigError(f"inference_path must be one of {INFERENCE_PATHS}, got {self.inference_path!r}")
        if self.variant not in VARIANTS:
            raise ConfigError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.variant == "authors" and self.inference_path != "decoder":
            raise ConfigError("variant: authors has only the decoder path (its auxiliary head is rebuilt at random "
                              f"on every call in the authors' code), got inference_path {self.inference_path!r}")
        if int(self.lora_rank) < 1:
            raise ConfigError(f"lora_rank must be >= 1, got {self.lora_rank}")


class SARTM(CheckpointedModel, nn.Module):
    """RGB-T semantic segmentation. forward(rgb, thermal) -> {'decoder', 'aux'} class logits at
    input size (+ the fused deepest feature for distillation); predict() -> class ids and probabilities."""

    kind = "sartm"
    config_class = SARTMConfig
    input_size: tuple[int, int] | None = None  # (H, W) it was trained at, from its checkpoint

    def __init__(self, config: SARTMConfig | None = None, text_embeddings: torch.Tensor | None = None,
                 pretrained: bool = True) -> None:
        """text_embeddings: (C, d) class-name embeddings; computed with the configured text
        encoder when None and distillation is on. SARTM.load() restores them from the checkpoint.
        pretrained: read Meta's weights from backbone.checkpoint (False in SARTM.load)."""
        super().__init__()
        self.config = config or SARTMConfig()
        self.classes: ClassList = class_list(self.config.classes)
        num_classes = self.classes.num_classes
        self.backbone = SAM2Backbone(self.config.backbone, num_streams=2, pretrained=pretrained)
        authors = self.config.variant == "authors"
        add_qv_lora(self.backbone.blocks, self.backbone.router, self.config.lora_rank, self.config.lora_alpha,
                    shared=authors)
        if self.config.train_encoder:
            self.backbone.image_encoder.requires_grad_(True)
        if authors:
            self._build_authors_heads(num_classes)
            return

        dim = self.backbone.hidden_dim
        self.class_decoder = self._class_decoder(num_classes)
        # The pre-trained decoder's conv_s1 / conv_s0 give the IFP (dim/4) and FFP (dim/8)
        # reductions; each modality gets its own copy.
        source = self.backbone.sam_mask_decoder
        self.ifp_reduce = nn.ModuleList([self._copy_conv(source.conv_s1) for _ in range(2)])
        self.ffp_reduce = nn.ModuleList([self._copy_conv(source.conv_s0) for _ in range(2)])
        del self.backbone.sam_mask_decoder  # replaced by the per-class decoder
        self.fusion = nn.ModuleList([CrossModalFusion(c) for c in (dim // 8, dim // 4, dim)])
        self.aux_head = AuxiliaryFPNHead(dim, dim // 4, dim // 8, num_classes)

        if text_embeddings is None and self.config.loss.cmkd_weight > 0:
            text_embeddings = encode_class_names(self.classes.names, self.config.text_encoder,
                                                 self.config.text_encoder_weights)
        if text_embeddings is None:
            text_embeddings = torch.zeros(num_classes, 1)
        if text_embeddings.shape[0] != num_classes:
            raise ConfigError(f"{text_embeddings.shape[0]} text embeddings for {num_classes} classes")
        self.register_buffer("text_embeddings", text_embeddings.float())
        # The authors' prototype memory (loss.prototype_weight > 0): an EMA of the class prototypes.
        self.register_buffer("prototype_memory", torch.zeros(num_classes, dim))

    def _build_authors_heads(self, num_classes: int) -> None:
        """variant authors: SAM 2's own mask decoder with num_classes + 1 mask tokens (token 0 unused),
        its object-score head and conv_s0/conv_s1 (the authors' sam2_base builds it so)."""
        from sam2.modeling.sam.mask_decoder import MaskDecoder

        source = self.backbone.sam_mask_decoder
        decoder = MaskDecoder(
            transformer_dim=source.transformer_dim, transformer=source.transformer,
            num_multimask_outputs=num_classes, iou_head_depth=3, iou_head_hidden_dim=256,
            use_high_res_features=True,
            iou_prediction_use_sigmoid=bool(getattr(source.iou_prediction_head, "sigmoid_output", True)),
            pred_obj_scores=True, pred_obj_scores_mlp=True,
            use_multimask_token_for_obj_ptr=source.use_multimask_token_for_obj_ptr)
        del self.backbone.sam_mask_decoder
        decoder.requires_grad_(True)
        decoder.transformer.requires_grad_(self.config.train_decoder_transformer or self.config.train_encoder)
        freeze_unused_decoder_parts(decoder, used_mask_tokens=num_classes + 1)  # frozen by the authors too
        self.class_decoder = decoder
        self.register_buffer("text_embeddings", torch.zeros(num_classes, 1))  # no CMKD: CLIP was training-only
        self.register_buffer("prototype_memory", torch.zeros(num_classes, self.backbone.hidden_dim))

    def _authors_forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> dict[str, torch.Tensor]:
        """The authors' evaluation path (LoRA_Sam.forward's m_output with multimask_output=True)."""
        stages, _ = self.backbone.encode([rgb, thermal])
        masks, scores = self.backbone.decode(self.backbone.neck(stages), self.class_decoder, no_mem_embed=False,
                                             not_a_point_tokens=2, object_scores=True)
        logits = torch.where(scores[:, :, None, None] > 0, masks[:, 1:], NO_OBJECT_LOGIT)
        logits = upsample_to(logits.float(), tuple(rgb.shape[-2:]))
        per_modality = logits.chunk(2, dim=0)
        return {"decoder": (per_modality[0] + per_modality[1]) / 2}

    def _class_decoder(self, num_classes: int) -> nn.Module:
        """SAM 2's mask decoder with one mask token (and hypernetwork MLP) per class; the shared
        layers (two-way transformer, upscaling) start from the pre-trained decoder."""
        from sam2.modeling.sam.mask_decoder import MaskDecoder

        source = self.backbone.sam_mask_decoder
        decoder = MaskDecoder(
            transformer_dim=source.transformer_dim, transformer=source.transformer,
            num_multimask_outputs=num_classes - 1, iou_head_depth=3, iou_head_hidden_dim=256,
            use_high_res_features=True, pred_obj_scores=False)
        decoder.output_upscaling.load_state_dict(source.output_upscaling.state_dict())
        # conv_s0/conv_s1 are replaced by the per-modality IFP/FFP reductions.
        del decoder.conv_s0, decoder.conv_s1
        decoder.requires_grad_(True)
        decoder.transformer.requires_grad_(self.config.train_decoder_transformer or self.config.train_encoder)
        freeze_unused_decoder_parts(decoder, used_mask_tokens=num_classes)  # the IoU head: never read
        return decoder

    @staticmethod
    def _copy_conv(conv: nn.Conv2d) -> nn.Conv2d:
        copy = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size)
        copy.load_state_dict(conv.state_dict())
        copy.requires_grad_(True)
        return copy

    # -- model -------------------------------------------------------------------------------
    def forward(self, rgb: torch.Tensor, thermal: torch.Tensor) -> dict[str, torch.Tensor]:
        """Class logits (B, C, H, W) of both paths and 'sfm': the fused deepest feature (B, D, h, w)
        (variant authors: the decoder path only)."""
        if self.config.variant == "authors":
            return self._authors_forward(rgb, thermal)
        stages, _ = self.backbone.encode([rgb, thermal])
        ffp, ifp, sfm = self.backbone.neck(stages)  # strides 4, 8, 16; both modalities' rows
        ffp = [self.ffp_reduce[m](x) for m, x in enumerate(ffp.chunk(2))]
        ifp = [self.ifp_reduce[m](x) for m, x in enumerate(ifp.chunk(2))]
        sfm = sfm.chunk(2)
        fused_ffp, fused_ifp, fused_sfm = (fusion(*pair) for fusion, pair in zip(self.fusion, (ffp, ifp, sfm)))
        size = tuple(rgb.shape[-2:])
        decoder_logits = self.backbone.decode([fused_sfm], self.class_decoder, high_res=[fused_ffp, fused_ifp])
        aux_logits = self.aux_head(fused_sfm, fused_ifp, fused_ffp)
        return {"decoder": upsample_to(decoder_logits, size), "aux": upsample_to(aux_logits, size), "sfm": fused_sfm}

    def probabilities(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        path = self.config.inference_path
        if path == "average":
            return (F.softmax(outputs["decoder"], 1) + F.softmax(outputs["aux"], 1)) / 2
        return F.softmax(outputs[path], dim=1)

    @torch.no_grad()
    def predict(self, rgb: torch.Tensor, thermal: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class ids (B, H, W) int64 and per-class probabilities (B, C, H, W) at input size."""
        probabilities = self.probabilities(self(rgb, thermal))
        return probabilities.argmax(dim=1), probabilities

    # -- training ----------------------------------------------------------------------------
    def losses(self, outputs: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Weighted OHEM CE on both paths and the CMKD term (labels: (B, H, W), 255 ignored)."""
        cfg = self.config.loss
        ignore = self.classes.ignore_index

        def ohem(logits):
            return ohem_cross_entropy(logits, labels, ignore, cfg.ohem_keep_threshold, cfg.ohem_min_kept_divisor)

        losses = {"decoder": cfg.decoder_weight * ohem(outputs["decoder"])}
        if "aux" not in outputs:  # variant authors: the decoder path is all there is
            return losses
        losses["aux"] = cfg.aux_weight * ohem(outputs["aux"])
        if cfg.cmkd_weight > 0 or cfg.prototype_weight > 0:
            prototypes, present = class_prototypes(outputs["sfm"], labels, self.classes.num_classes, ignore)
            if cfg.cmkd_weight > 0:
                losses["cmkd"] = cfg.cmkd_weight * cmkd_loss(prototypes, self.text_embeddings, present,
                                                             cfg.cmkd_temperature)
            if cfg.prototype_weight > 0:
                losses["prototype"] = cfg.prototype_weight * prototype_consistency_loss(
                    prototypes, present, self.prototype_memory)
        return losses

    def backward(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        total = sum(losses.values())
        total.backward()
        return total.detach()

    # -- checkpoints -------------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, content: dict, pretrained: bool) -> SARTM:
        """The untrained model of a checkpoint, with its stored text embeddings (no text encoder)."""
        embeddings = content["state_dict"].get("text_embeddings")
        return cls(SARTMConfig.from_dict(content["config"]),
                   text_embeddings=embeddings if embeddings is not None else torch.zeros(1, 1), pretrained=pretrained)

"""The SAMSOD model: decoupled adapters per modality, stage-wise fusion, one shared decoder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from rgbt_models.backbone import BackboneConfig, PerStream, SAM2Backbone
from rgbt_models.backbone.sam2_backbone import freeze_unused_decoder_parts, upsample_to
from rgbt_models.checkpoint import CheckpointedModel
from rgbt_models.config import ConfigMapping
from rgbt_models.losses.structure import structure_loss
from rgbt_models.optim.pcgrad import pcgrad_backward
from rgbt_models.samsod.adapter import AdaptedBlock, DecoupledAdapter
from rgbt_models.samsod.domain_adapter import DomainAdapter

RGB, THERMAL = 0, 1
HEADS = ("fused", "rgb", "thermal")


@dataclass
class AdapterConfig:
    bottleneck: int = 32
    scale: float = 0.5
    ratio_fg: float = 0.45
    ratio_bg: float = 0.35
    temperature: float = 0.1
    # Straight-through gradient for the gate (see DecoupledAdapter); False: the gate never learns
    # (the paper's counts taken literally; the ablation).
    gate_learning: bool = True


@dataclass
class SAMSODConfig(ConfigMapping):
    """Everything that defines a SAMSOD model (stored in its checkpoints)."""

    SECTION = "samsod model"

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    # PCGrad inside the three parameter groups; False trains on the plain sum (paper ablation).
    pcgrad: bool = True
    # Train the encoder too (only for the CI/demo micro backbone, which has no pre-trained weights).
    train_encoder: bool = False
    # Hidden width of UUSOD's domain adapter on the deepest feature (0: none); rgbt-adapt sets it.
    domain_adapter: int = 0
    # Also one on each shallower encoder level (rgbt-adapt's adapter_levels: all), same width.
    domain_adapter_all_levels: bool = False
    # SAM 2's dense (no-mask) prompt embedding added to the image embedding in the decoder, as SAM 2
    # does. The authors' vendored decoder leaves it out: False in models imported from their weights.
    decoder_dense_prompt: bool = True


class SAMSOD(CheckpointedModel, nn.Module):
    """RGB-T salient object detection: forward(rgb, thermal) -> logits of the fused, RGB-only
    and thermal-only heads at input size; predict() -> saliency in [0, 1]."""

    kind = "samsod"
    config_class = SAMSODConfig
    input_size: tuple[int, int] | None = None  # (H, W) it was trained at, from its checkpoint

    def __init__(self, config: SAMSODConfig | None = None, pretrained: bool = True) -> None:
        """pretrained: read Meta's weights from backbone.checkpoint (False when a checkpoint of
        ours is about to supply every weight: SAMSOD.load)."""
        super().__init__()
        self.config = config or SAMSODConfig()
        self.backbone = SAM2Backbone(self.config.backbone, num_streams=2, pretrained=pretrained)
        blocks = self.backbone.blocks
        channels = self.backbone.stage_channels  # read before the blocks are wrapped
        deepest = channels[-1]
        a = self.config.adapter
        for index, block in enumerate(blocks):
            adapters = [DecoupledAdapter(block.dim_out, a.bottleneck, a.scale, a.ratio_fg, a.ratio_bg,
                                         a.temperature, a.gate_learning) for _ in (RGB, THERMAL)]
            blocks[index] = AdaptedBlock(block, PerStream(adapters, self.backbone.router))
        if self.config.train_encoder:
            self.backbone.image_encoder.requires_grad_(True)
        # SAMSOD reads mask token 0 only: what serves the other tokens, IoU and object scores
        # never gets a gradient, so it is frozen (and the trainable count is what trains).
        freeze_unused_decoder_parts(self.backbone.sam_mask_decoder, used_mask_tokens=1)
        hidden = self.config.domain_adapter
        self.domain_adapter = DomainAdapter(deepest, hidden) if hidden else None
        # Adapters on the shallower levels (before the FPN neck: each reaches the decoder directly).
        self.level_adapters = (nn.ModuleList(DomainAdapter(c, hidden) for c in channels[:-1])
                               if hidden and self.config.domain_adapter_all_levels else None)
        # The random stream of PCGrad's task order: seeded, and saved with a training run's state
        # (training/loop.py) so that a resumed run draws what the uninterrupted one draws.
        self.random_stream = torch.Generator().manual_seed(0)

    # -- model -------------------------------------------------------------------------------
    def forward(self, rgb: torch.Tensor | None, thermal: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Logits (B, 1, H, W) per head: 'fused', 'rgb', 'thermal' with both inputs, only the
        present modality's head with one."""
        reference = rgb if rgb is not None else thermal
        if reference is None:
            raise ValueError("SAMSOD needs at least one of rgb and thermal")
        stages, present = self.backbone.encode([rgb, thermal])
        if present == (RGB, THERMAL):
            heads = HEADS
            levels = []
            for feature in stages:
                f_rgb, f_thermal = feature.chunk(2, dim=0)
                levels.append(torch.cat([f_rgb + f_thermal, f_rgb, f_thermal], dim=0))
        else:
            heads = ("rgb",) if present == (RGB,) else ("thermal",)
            levels = list(stages)
        if self.domain_adapter is not None:
            levels[-1] = self.domain_adapter(levels[-1])
        if self.level_adapters is not None:
            levels[:-1] = [adapter(level) for adapter, level in zip(self.level_adapters, levels[:-1])]
        logits = self.backbone.decode(self.backbone.neck(levels), dense_prompt=self.config.decoder_dense_prompt)[:, :1]
        logits = upsample_to(logits, tuple(reference.shape[-2:]))
        return dict(zip(heads, logits.chunk(len(heads), dim=0)))

    @torch.no_grad()
    def predict(self, rgb: torch.Tensor | None, thermal: torch.Tensor | None) -> torch.Tensor:
        """Saliency (B, 1, H, W) in [0, 1]: sigmoid of the sum of the three heads with both
        inputs; the RGB-only (or thermal-only) head when the other modality is missing."""
        return self.predict_with_heads(rgb, thermal)[0]

    @torch.no_grad()
    def predict_with_heads(self, rgb: torch.Tensor | None,
                           thermal: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(the saliency `predict` gives, the logits of each head that ran): one forward pass, for a
        caller that also weighs the heads against each other (a label-free uncertainty)."""
        outputs = self(rgb, thermal)
        return torch.sigmoid(sum(outputs.values())), outputs

    # -- training ----------------------------------------------------------------------------
    def losses(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Unimodal supervision: the structure loss of every head against the same mask."""
        return {head: structure_loss(logits, target) for head, logits in outputs.items()}

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by PCGrad group: each modality's adapters and the decoder."""
        groups: dict[str, list[nn.Parameter]] = {"rgb_adapters": [], "thermal_adapters": [], "decoder": []}
        for block in self.backbone.blocks:
            groups["rgb_adapters"] += list(block.adapter.streams[RGB].parameters())
            groups["thermal_adapters"] += list(block.adapter.streams[THERMAL].parameters())
        groups["decoder"] = [p for p in self.backbone.sam_mask_decoder.parameters() if p.requires_grad]
        if self.config.train_encoder:
            adapters = {id(p) for p in groups["rgb_adapters"] + groups["thermal_adapters"]}
            encoder = self.backbone.image_encoder.parameters()
            groups["encoder"] = [p for p in encoder if id(p) not in adapters]
        return groups

    # Which losses feed each PCGrad group (the encoder group exists only with train_encoder).
    GROUP_TASKS: ClassVar[dict[str, tuple[str, ...]]] = {
        "rgb_adapters": ("fused", "rgb"), "thermal_adapters": ("fused", "thermal"),
        "decoder": HEADS, "encoder": HEADS}

    def backward(self, losses: dict[str, torch.Tensor]) -> torch.Tensor:
        """Fill .grad from the three losses, with PCGrad per group when configured; returns the total."""
        total = sum(losses.values())
        if self.config.pcgrad and len(losses) > 1:
            groups = {name: (params, self.GROUP_TASKS[name]) for name, params in self.parameter_groups().items()}
            pcgrad_backward(losses, groups, self.random_stream)
        else:
            total.backward()
        return total.detach()

    # -- checkpoints -------------------------------------------------------------------------

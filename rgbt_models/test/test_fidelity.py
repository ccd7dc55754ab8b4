"""Every trainable part learns: the SAMSOD gate through its straight-through counts, no dead
parameter in SAMSOD, SARTM or UUSOD's models, and the frozen parts the papers freeze."""

from __future__ import annotations

import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.data.synthetic import make_batch
from rgbt_models.samsod import SAMSOD, DecoupledAdapter, SAMSODConfig
from rgbt_models.sartm import SARTM, SARTMConfig
from rgbt_models.training.gradient_check import parameters_without_gradient
from rgbt_models.uusod.cue_extractor import SaliencyCueExtractor, SCEConfig
from rgbt_models.uusod.pcl_sd import pcl_sd_loss

BACKBONE = BackboneConfig(name="test", image_size=64)


def batch():
    rgb, thermal, labels, masks = make_batch([1, 2], 64, 64)
    return rgb, thermal, labels, masks


def test_the_gate_learns_and_the_forward_stays_the_papers():
    torch.manual_seed(0)
    adapter = DecoupledAdapter(dim=16)
    for up in (adapter.fg_up, adapter.bg_up):
        torch.nn.init.normal_(up.weight)
    x = torch.randn(2, 4, 4, 16)
    with torch.no_grad():
        hard = adapter(x)  # the paper's forward (no gradient: the hard selection)
    out = adapter(x)
    assert torch.equal(out, hard), "the straight-through forward must be the hard mask, bit for bit"
    before = adapter.gate.weight.detach().clone()
    out.pow(2).mean().backward()
    assert adapter.gate.weight.grad.abs().sum() > 0
    torch.optim.SGD(adapter.parameters(), lr=1.0).step()
    assert not torch.equal(adapter.gate.weight, before)

    ablation = DecoupledAdapter(dim=16, gate_learning=False)
    for up in (ablation.fg_up, ablation.bg_up):
        torch.nn.init.normal_(up.weight)
    ablation(x).pow(2).mean().backward()
    assert ablation.gate.weight.grad is None  # the paper's floor(): no gradient at all


def test_samsod_every_trainable_parameter_learns_and_the_unused_decoder_parts_are_frozen():
    torch.manual_seed(0)
    model = SAMSOD(SAMSODConfig(backbone=BACKBONE)).train()
    rgb, thermal, _, masks = batch()

    def step():
        model.backward(model.losses(model(rgb, thermal), masks))

    assert parameters_without_gradient(model, step) == []
    decoder = model.backbone.sam_mask_decoder
    assert not any(p.requires_grad for p in decoder.iou_prediction_head.parameters())
    assert not any(p.requires_grad for m in decoder.output_hypernetworks_mlps[1:] for p in m.parameters())
    assert all(p.requires_grad for p in decoder.output_hypernetworks_mlps[0].parameters())
    assert all(p.requires_grad for b in model.backbone.blocks for p in b.adapter.parameters())  # gates too


def test_the_check_finds_a_dead_parameter():
    """The helper can fail: an unfrozen IoU head gets no gradient from SAMSOD's losses."""
    torch.manual_seed(0)
    model = SAMSOD(SAMSODConfig(backbone=BACKBONE)).train()
    model.backbone.sam_mask_decoder.iou_prediction_head.requires_grad_(True)
    rgb, thermal, _, masks = batch()
    dead = parameters_without_gradient(model, lambda: model.backward(model.losses(model(rgb, thermal), masks)))
    assert dead and all("iou_prediction_head" in name for name in dead)


def test_sartm_every_trainable_parameter_learns_and_the_decoder_transformer_is_frozen():
    torch.manual_seed(0)
    config = SARTMConfig(backbone=BACKBONE, classes="synthetic", lora_rank=4)
    model = SARTM(config, text_embeddings=torch.randn(4, 8)).train()
    rgb, thermal, labels, _ = batch()

    def step():
        model.backward(model.losses(model(rgb, thermal), labels))

    assert parameters_without_gradient(model, step) == []
    assert not any(p.requires_grad for p in model.class_decoder.transformer.parameters())
    assert not any(p.requires_grad for p in model.class_decoder.iou_prediction_head.parameters())
    trainable = SARTM(SARTMConfig(backbone=BACKBONE, classes="synthetic", lora_rank=4,
                                  train_decoder_transformer=True), text_embeddings=torch.randn(4, 8))
    assert all(p.requires_grad for p in trainable.class_decoder.transformer.parameters())


def test_uusod_cue_extractor_every_trainable_parameter_learns():
    torch.manual_seed(0)
    model = SaliencyCueExtractor(SCEConfig(backbone=BACKBONE)).train()
    rgb, thermal, _, _ = batch()

    def step():
        pcl_sd_loss(model.saliency(rgb, thermal), 0.1).backward()

    assert parameters_without_gradient(model, step) == []

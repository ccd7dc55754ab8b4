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


def test_sartm_loss_presets_are_reachable_by_name_and_overridable():
    from rgbt_models.config import ConfigError
    from rgbt_models.sartm.model import LOSS_PRESETS, SARTMLossConfig

    paper = SARTMLossConfig.from_value("paper")
    assert (paper.decoder_weight, paper.aux_weight, paper.cmkd_weight, paper.prototype_weight) == (1.0, 0.008, 100.0,
                                                                                                   10000.0)
    tuned = SARTMLossConfig.from_value({"preset": "authors_code", "cmkd_temperature": 0.5})
    assert tuned.prototype_weight == 1.0 and tuned.cmkd_temperature == 0.5
    assert SARTMLossConfig.from_value(None).preset == SARTMLossConfig().preset
    assert set(LOSS_PRESETS) == {"ours", "paper", "authors_code"}
    try:
        SARTMLossConfig.from_value("papr")
    except ConfigError as error:
        assert "unknown loss preset 'papr'" in str(error)
    else:
        raise AssertionError("an unknown preset must be refused")


def test_cmkd_follows_the_authors_formulation_and_the_prototype_memory_moves():
    from rgbt_models.losses.cmkd import cmkd_loss, prototype_consistency_loss

    torch.manual_seed(0)
    prototypes, text = torch.randn(3, 8), torch.randn(3, 5)
    present = torch.tensor([True, True, True])
    p, t = (torch.nn.functional.normalize(x, dim=-1) for x in (prototypes, text))
    expected = torch.nn.functional.kl_div(torch.log_softmax(p @ p.T, -1), torch.softmax(t @ t.T, -1),
                                          reduction="none").mean()  # tau = 1, element mean (authors' code)
    assert torch.allclose(cmkd_loss(prototypes, text, present), expected)
    memory = torch.zeros(4, 8)
    loss = prototype_consistency_loss(prototypes, torch.tensor([True, True, False]), memory[:3])
    assert loss > 0 and torch.allclose(memory[:2], 0.1 * prototypes[:2]) and not memory[2:].any()

    config = SARTMConfig.from_dict({"backbone": {"name": "test", "image_size": 64}, "classes": "synthetic",
                                    "lora_rank": 4, "loss": "authors_code"})
    model = SARTM(config, text_embeddings=torch.randn(4, 8))
    rgb, thermal, labels, _ = batch()
    losses = model.losses(model(rgb, thermal), labels)
    assert set(losses) == {"decoder", "aux", "cmkd", "prototype"} and model.prototype_memory.any()

"""SARTM: q/v LoRA per modality, CMKD, OHEM, the two prediction paths, training, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.config import ConfigError
from rgbt_models.data.classes import class_list
from rgbt_models.data.synthetic import make_batch
from rgbt_models.losses.cmkd import class_prototypes, cmkd_loss
from rgbt_models.losses.ohem import ohem_cross_entropy
from rgbt_models.sartm import SARTM, SARTMConfig

NUM_CLASSES = 4


def small_sartm(checkpoint=None, text=True, **kwargs) -> SARTM:
    config = SARTMConfig(backbone=BackboneConfig(name="test", image_size=128, checkpoint=checkpoint),
                         classes="synthetic", lora_rank=4, **kwargs)
    embeddings = None if text else torch.randn(NUM_CLASSES, 8)
    return SARTM(config, text_embeddings=embeddings)


def test_lora_leaves_the_encoder_unchanged_at_init(official_checkpoint):
    path, source = official_checkpoint
    model = small_sartm(checkpoint=str(path), text=False)
    rgb, thermal = torch.rand(1, 3, 128, 128), torch.rand(1, 1, 128, 128)
    with torch.no_grad():
        expected, _ = source.encode([rgb, thermal])
        actual, _ = model.backbone.encode([rgb, thermal])
    for a, b in zip(expected, actual):
        assert torch.equal(a, b)


@pytest.mark.parametrize("transition", [False, True])
def test_a_gradient_step_changes_only_q_and_v(transition):
    model = small_sartm(text=False)
    blocks = model.backbone.blocks
    index = model.backbone.stage_ends[0] + 1 if transition else 0
    block = blocks[index]
    assert (block.dim != block.dim_out) == transition
    qkv = block.attn.qkv
    dim_out = block.dim_out
    x = torch.randn(2, 4, 4, block.dim)  # two rows: stream 0 then stream 1
    model.backbone.router.set_active((0, 1))
    before = qkv(x).detach()
    optimizer = torch.optim.SGD([p for p in qkv.parameters() if p.requires_grad], lr=0.1)
    qkv(x).pow(2).sum().backward()
    optimizer.step()
    after = qkv(x).detach()
    q, k, v = (slice(0, dim_out), slice(dim_out, 2 * dim_out), slice(2 * dim_out, 3 * dim_out))
    assert torch.equal(before[..., k], after[..., k]), "k must not change"
    assert not torch.allclose(before[..., q], after[..., q])
    assert not torch.allclose(before[..., v], after[..., v])
    assert not qkv.qkv.weight.requires_grad


def test_rgb_only_loss_moves_no_thermal_lora_parameter():
    model = small_sartm(text=False)
    for name, p in model.named_parameters():
        if ".lora." in name and ".b_" in name:
            torch.nn.init.normal_(p, std=0.01)
    stages, _ = model.backbone.encode([torch.rand(2, 3, 128, 128), torch.rand(2, 1, 128, 128)])
    rgb_rows = sum(s[:2].pow(2).mean() for s in stages)
    rgb_rows.backward()
    thermal = [p for n, p in model.named_parameters() if ".lora.streams.1." in n]
    rgb = [p for n, p in model.named_parameters() if ".lora.streams.0." in n]
    assert thermal and all(p.grad is None or not p.grad.any() for p in thermal)
    assert any(p.grad is not None and p.grad.any() for p in rgb)


def test_cmkd_is_zero_for_matching_similarities_and_positive_otherwise():
    text = torch.nn.functional.normalize(torch.randn(5, 16), dim=-1)
    present = torch.tensor([True, True, False, True, True])
    assert cmkd_loss(text.clone() * 3.0, text, present).abs() < 1e-6  # same cosine similarities
    prototypes = torch.randn(5, 16, requires_grad=True)
    loss = cmkd_loss(prototypes, text, present)
    assert loss > 0
    loss.backward()
    assert prototypes.grad[[0, 1, 3, 4]].abs().sum() > 0
    assert not prototypes.grad[2].any(), "absent classes take no part"
    changed_absent = prototypes.detach().clone()
    changed_absent[2] = torch.randn(16)
    assert torch.allclose(cmkd_loss(changed_absent, text, present), loss.detach())


def test_class_prototypes_are_masked_averages():
    features = torch.arange(2 * 2 * 4, dtype=torch.float32).view(1, 2, 2, 4)
    labels = torch.tensor([[[0, 0, 1, 1], [255, 0, 1, 1]]])
    prototypes, present = class_prototypes(features, labels, num_classes=3)
    assert present.tolist() == [True, True, False]
    assert torch.allclose(prototypes[0], features[0][:, [0, 0, 1], [0, 1, 1]].mean(dim=1))
    assert torch.allclose(prototypes[1], features[0][:, [0, 0, 1, 1], [2, 3, 2, 3]].mean(dim=1))


def test_ohem_keeps_the_pixels_the_rule_says():
    # 32 valid pixels: 3 hard (p(true) = 0.1 < 0.7), 29 easy (p = 0.95); min kept = 32 // 16 = 2.
    probs_true = torch.full((32,), 0.95)
    probs_true[:3] = 0.1
    logits = torch.stack([torch.log(probs_true), torch.log(1 - probs_true)], dim=0).view(1, 2, 4, 8)
    target = torch.zeros(1, 4, 8, dtype=torch.long)
    assert torch.allclose(ohem_cross_entropy(logits, target), torch.tensor(-math.log(0.1)), atol=1e-5)
    # Only 1 hard pixel: the 2 hardest are kept (min kept wins).
    probs_true[1:3] = 0.95
    logits = torch.stack([torch.log(probs_true), torch.log(1 - probs_true)], dim=0).view(1, 2, 4, 8)
    expected = (-math.log(0.1) - math.log(0.95)) / 2
    assert torch.allclose(ohem_cross_entropy(logits, target), torch.tensor(expected), atol=1e-5)
    # Ignored pixels never count.
    target[0, 0, 0] = 255
    assert torch.allclose(ohem_cross_entropy(logits, target), torch.tensor(-math.log(0.95)), atol=1e-5)


def test_auxiliary_head_is_registered_and_trained():
    model = small_sartm(text=False)
    aux = list(model.aux_head.parameters())
    assert aux and all(any(p is q for q in model.parameters()) for p in aux)
    before = [p.detach().clone() for p in aux]
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    rgb, thermal, labels, _ = make_batch(range(2), 128, 160)
    model.backward(model.losses(model(rgb, thermal), labels))
    optimizer.step()
    assert all(not torch.equal(a, b.detach()) for a, b in zip(before, aux))


def test_both_paths_give_class_logits_at_input_size():
    model = small_sartm(text=False).eval()
    rgb, thermal, _, _ = make_batch(range(2), 128, 160)
    with torch.no_grad():
        outputs = model(rgb, thermal)
    assert outputs["decoder"].shape == outputs["aux"].shape == (2, NUM_CLASSES, 128, 160)
    ids, probabilities = model.predict(rgb, thermal)
    assert ids.shape == (2, 128, 160) and probabilities.shape == (2, NUM_CLASSES, 128, 160)
    assert torch.allclose(probabilities.sum(1), torch.ones(2, 128, 160), atol=1e-5)


def test_class_lists():
    assert class_list("mfnet").num_classes == 9
    assert class_list("pst900").num_classes == 5
    assert class_list("fmb").num_classes == 15
    custom = class_list({"name": "farm", "classes": [{"id": 1, "name": "cow", "color": [1, 2, 3]},
                                                     {"id": 0, "name": "field", "color": [0, 0, 0]}]})
    assert custom.names == ("field", "cow")
    with pytest.raises(ConfigError, match="without gaps"):
        class_list({"classes": [{"id": 0, "name": "a", "color": [0, 0, 0]},
                                {"id": 2, "name": "b", "color": [0, 0, 0]}]})
    with pytest.raises(ConfigError, match="unknown class list"):
        class_list("cityscapes")


def _miou(model: SARTM, rgb, thermal, labels) -> float:
    ids, _ = model.predict(rgb, thermal)
    ious = []
    for c in range(NUM_CLASSES):
        inter = ((ids == c) & (labels == c)).sum().item()
        union = ((ids == c) | (labels == c)).sum().item()
        if union:
            ious.append(inter / union)
    return float(np.mean(ious))


def _train(model: SARTM, steps: int, use_thermal: bool) -> SARTM:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3, weight_decay=0.01)
    model.train()
    for step in range(steps):
        rgb, thermal, labels, _ = make_batch(range(step * 4, step * 4 + 4), 96, 128)
        if not use_thermal:
            thermal = torch.zeros_like(thermal)
        optimizer.zero_grad(set_to_none=True)
        model.backward(model.losses(model(rgb, thermal), labels))
        optimizer.step()
    return model.eval()


@pytest.mark.bench
def test_training_raises_miou(tmp_path):
    """In make bench (17 s), as SAMSOD's: make test trains SARTM through rgbt-train in
    test_field_configuration.py and fine-tunes one in test_mining.py."""
    # The smallest run that still proves it: 96x128, 140 steps.
    rgb, thermal, labels, _ = make_batch(range(5000, 5024), 96, 128)
    torch.manual_seed(0)
    untrained = small_sartm(train_encoder=True).eval()
    untrained_miou = _miou(untrained, rgb, thermal, labels)
    torch.manual_seed(0)
    rgbt = _train(small_sartm(train_encoder=True), 140, use_thermal=True)
    rgbt_miou = _miou(rgbt, rgb, thermal, labels)
    assert rgbt_miou > untrained_miou + 0.3, (untrained_miou, rgbt_miou)

    rgbt.save(tmp_path / "sartm.pt")
    restored = SARTM.load(tmp_path / "sartm.pt")
    assert torch.equal(restored.predict(rgb, thermal)[0], rgbt.predict(rgb, thermal)[0])


@pytest.mark.slow
@pytest.mark.bench
def test_thermal_helps():
    """The same training with the thermal image blanked ends lower (make bench: two trainings)."""
    rgb, thermal, labels, _ = make_batch(range(5000, 5024), 96, 128)
    torch.manual_seed(0)
    rgbt = _train(small_sartm(train_encoder=True), 140, use_thermal=True)
    torch.manual_seed(0)
    rgb_only = _train(small_sartm(train_encoder=True), 140, use_thermal=False)
    rgbt_miou = _miou(rgbt, rgb, thermal, labels)
    rgb_only_miou = _miou(rgb_only, rgb, torch.zeros_like(thermal), labels)
    assert rgbt_miou > rgb_only_miou + 0.05, (rgb_only_miou, rgbt_miou)


def test_inference_never_loads_a_text_model(tmp_path, monkeypatch):
    model = small_sartm(text=False)
    model.save(tmp_path / "m.pt")

    def refuse(*args, **kwargs):
        raise AssertionError("text encoder loaded at inference")

    monkeypatch.setattr("rgbt_models.sartm.model.encode_class_names", refuse)
    restored = SARTM.load(tmp_path / "m.pt")
    assert torch.equal(restored.text_embeddings, model.text_embeddings)


def test_class_names_are_embedded_offline_without_a_progress_bar(capfd):
    """rgbt-train --no-progress stays free of bars: the text model's own are off."""
    from rgbt_models.text import encode_class_names

    embeddings = encode_class_names(["person", "car"])
    assert embeddings.shape[0] == 2 and torch.allclose(embeddings.norm(dim=1), torch.ones(2), atol=1e-5)
    assert "%|" not in capfd.readouterr().err


def test_unknown_text_encoder_is_a_clear_error():
    from rgbt_models.text import TextEncoderError

    with pytest.raises(TextEncoderError, match="clip"):
        SARTM(SARTMConfig(backbone=BackboneConfig(name="test", image_size=128), classes="synthetic",
                          text_encoder="clip"))


def test_cross_context_exchange_mixes_the_other_modality():
    from rgbt_models.sartm.fusion import CrossContextExchange

    exchange = CrossContextExchange(16, heads=2)
    rgb, thermal = torch.randn(2, 16, 8, 10), torch.randn(2, 16, 8, 10)
    out_rgb, out_t = exchange(rgb, thermal)
    assert out_rgb.shape == rgb.shape and out_t.shape == thermal.shape
    # The RGB output depends on the thermal input (and only through the exchanged context).
    changed_rgb, _ = exchange(rgb, thermal + torch.randn_like(thermal))
    assert not torch.allclose(changed_rgb, out_rgb)
    # Images of a batch do not leak into each other.
    other = thermal.clone()
    other[1] += 1.0
    again, _ = exchange(rgb, other)
    assert torch.allclose(again[0], out_rgb[0], atol=1e-6)

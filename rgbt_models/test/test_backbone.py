"""SAM2Backbone: official checkpoint loading, input handling, per-stream routing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rgbt_models.backbone import BackboneConfig, PerStream, SAM2Backbone, StreamRouter
from rgbt_models.backbone.sam2_backbone import to_model_input
from rgbt_models.checkpoint import CheckpointError


def encode(backbone: SAM2Backbone, rgb, thermal):
    with torch.no_grad():
        stages, _ = backbone.encode([rgb, thermal])
        return stages, backbone.neck(stages)


def test_official_checkpoint_reproduces_encoder_exactly(official_checkpoint, test_backbone_config):
    path, source = official_checkpoint
    config = BackboneConfig(**{**test_backbone_config.to_dict(), "checkpoint": str(path)})
    torch.manual_seed(999)  # different random init: only the file can make them equal
    loaded = SAM2Backbone(config)
    fresh = SAM2Backbone(test_backbone_config)
    rgb, thermal = torch.rand(1, 3, 128, 128), torch.rand(1, 1, 128, 128)
    expected_stages, expected_fpn = encode(source, rgb, thermal)
    stages, fpn = encode(loaded, rgb, thermal)
    for a, b in zip(expected_stages + expected_fpn, stages + fpn):
        assert torch.equal(a, b)
    assert not torch.equal(encode(fresh, rgb, thermal)[0][-1], expected_stages[-1])
    assert torch.equal(loaded.sam_prompt_encoder.no_mask_embed.weight, source.sam_prompt_encoder.no_mask_embed.weight)


def test_truncated_checkpoint_names_the_file(official_checkpoint, tmp_path, test_backbone_config):
    path, _ = official_checkpoint
    broken = tmp_path / "truncated.pt"
    broken.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"truncated.pt: cut short or damaged \(1000 bytes.*download it again"):
        SAM2Backbone(BackboneConfig(**{**test_backbone_config.to_dict(), "checkpoint": str(broken)}))


def test_raw_state_dict_without_model_key_is_rejected(official_checkpoint, tmp_path, test_backbone_config):
    _, source = official_checkpoint
    raw = tmp_path / "raw.pt"
    torch.save(source.official_state_dict(), raw)
    with pytest.raises(CheckpointError, match=r"raw.pt.*\{'model': state_dict\}"):
        SAM2Backbone(BackboneConfig(**{**test_backbone_config.to_dict(), "checkpoint": str(raw)}))


def test_checkpoint_of_another_size_reports_what_did_not_match(official_checkpoint, tmp_path):
    path, _ = official_checkpoint
    with pytest.raises(CheckpointError, match="sam2.1_hiera_test.pt.*(missing|shape mismatch)"):
        SAM2Backbone(BackboneConfig(name="tiny", image_size=128, checkpoint=str(path)))


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pt: SAM 2 checkpoint file not found; set backbone.checkpoint"):
        SAM2Backbone(BackboneConfig(name="test", image_size=128, checkpoint=str(tmp_path / "nope.pt")))


def test_a_missing_relative_sam2_file_names_the_folder_it_was_looked_for_in(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError) as caught:
        SAM2Backbone(BackboneConfig(name="test", image_size=128, checkpoint="checkpoints/sam2.1_hiera_tiny.pt"))
    message = str(caught.value)
    assert message.startswith("checkpoints/sam2.1_hiera_tiny.pt: SAM 2 checkpoint file not found")
    assert f"working directory {tmp_path}" in message and "model.backbone.checkpoint" in message
    assert "\n" not in message


def test_encoder_is_frozen(test_backbone_config):
    backbone = SAM2Backbone(test_backbone_config)
    assert not any(p.requires_grad for p in backbone.image_encoder.parameters())
    assert not any(p.requires_grad for p in backbone.sam_prompt_encoder.parameters())


def test_thermal_single_channel_and_uint8_inputs():
    gray = torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8)
    as_float = to_model_input(gray.float() / 255)
    assert torch.allclose(to_model_input(gray), as_float)
    assert torch.allclose(as_float, to_model_input(gray.float().div(255).repeat(1, 3, 1, 1)))
    with pytest.raises(ValueError, match="expected images of shape"):
        to_model_input(torch.rand(1, 2, 32, 32))


def test_input_size_must_be_a_multiple_of_32(test_backbone_config):
    backbone = SAM2Backbone(test_backbone_config)
    with pytest.raises(ValueError, match="multiple of 32"):
        backbone.encode([torch.rand(1, 3, 100, 128), None])


def test_per_stream_modules_see_only_their_rows():
    router = StreamRouter(2)
    add = [nn.Identity(), nn.Identity()]
    per_stream = PerStream(add, router)
    per_stream.streams[0].forward = lambda x: x + 1
    per_stream.streams[1].forward = lambda x: x + 100
    x = torch.zeros(4, 3)
    assert per_stream(x)[:, 0].tolist() == [1, 1, 100, 100]
    router.set_active((1,))  # thermal alone (degraded mode)
    assert per_stream(torch.zeros(2, 3))[:, 0].tolist() == [100, 100]
    with pytest.raises(ValueError):
        router.set_active((2,))


@pytest.mark.parametrize("name", ["tiny", "small", "base_plus", "large"])
def test_sam2_sizes_build_from_sam2_configs(name):
    from rgbt_models.backbone.builder import sam2_config_path

    config = BackboneConfig(name=name)
    assert sam2_config_path(config).is_file()
    if name == "tiny":
        backbone = SAM2Backbone(config)
        count = sum(p.numel() for p in backbone.image_encoder.parameters())
        assert 27.0e6 < count < 27.5e6  # Meta's tiny image encoder: 27.2 M

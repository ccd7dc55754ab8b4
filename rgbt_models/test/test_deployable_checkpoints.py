"""Checkpoints that go to a robot: self-contained (every weight, no SAM 2 file, any working
directory), made from a Meta-format SAM 2.1 file; older trained-subset files still load where
their SAM 2 file is, and are converted with rgbt-export --format checkpoint."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch

from rgbt_models.backbone import BackboneConfig
from rgbt_models.checkpoint import FORMAT, CheckpointError
from rgbt_models.samsod import SAMSOD, SAMSODConfig
from rgbt_models.testing import official_sam2_file


def test_the_official_format_files_have_metas_layout():
    tiny = torch.load(official_sam2_file("tiny"), weights_only=True)
    micro = torch.load(official_sam2_file("micro"), weights_only=True)
    assert set(tiny) == set(micro) == {"model"}
    def layout(state):  # the micro trunk has fewer blocks; everything else has the same names
        return {re.sub(r"trunk\.blocks\.\d+\.", "trunk.blocks.N.", key) for key in state}

    assert layout(tiny["model"]) == layout(micro["model"])
    prefixes = {key.split(".")[0] for key in tiny["model"]}
    assert {"image_encoder", "sam_mask_decoder", "memory_attention", "memory_encoder", "obj_ptr_proj",
            "maskmem_tpos_enc", "no_mem_embed"} <= prefixes
    # SAM 2.1 hiera tiny: 38,962,498 parameters plus 256 values of persistent buffers
    assert sum(v.numel() for v in tiny["model"].values()) == 38_962_754


def write_v1_checkpoint(model: SAMSOD, path: Path) -> None:
    """What rgbt_models wrote before version 2: only the weights that trained."""
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    state = {k: v for k, v in model.state_dict().items() if k in trainable}
    torch.save({"format": FORMAT, "kind": "samsod", "version": 1, "config": model.config.to_dict(),
                "state_dict": state, "extra": {"input_size": [96, 128]}}, path)


def test_train_and_adapt_from_the_official_tiny_file_then_run_on_a_robot_without_it(tmp_path, monkeypatch):
    """rgbt-train from Meta's tiny layout (one step at 64x64), the checkpoint copied to a robot
    folder, the SAM 2 file renamed, rgbt-adapt adapter there from another working directory,
    and both files loaded from a third."""
    import yaml

    from rgbt_models.cli.adapt import main as adapt
    from rgbt_models.cli.train import main as train

    workstation, robot, elsewhere = (tmp_path / name for name in ("workstation", "robot", "elsewhere"))
    for folder in (workstation / "checkpoints", robot, elsewhere):
        folder.mkdir(parents=True)
    shutil.copy(official_sam2_file("tiny"), workstation / "checkpoints" / "sam2.1_hiera_tiny.pt")
    backbone = {"name": "tiny", "image_size": 64, "checkpoint": "checkpoints/sam2.1_hiera_tiny.pt"}
    small = {"height": 64, "width": 64}
    (workstation / "train.yaml").write_text(yaml.safe_dump({
        "task": "samsod", "model": {"backbone": backbone},
        "data": {"train_count": 2, "val_count": 2, **small}, "train": {"epochs": 1, "batch_size": 2}}))
    monkeypatch.chdir(workstation)
    assert train(["samsod", "--config", "train.yaml", "--output-dir", "runs", "--no-progress"]) == 0
    shutil.copy(workstation / "runs" / "best.pt", robot / "samsod.pt")
    (workstation / "checkpoints" / "sam2.1_hiera_tiny.pt").rename(workstation / "checkpoints" / "moved.pt")

    monkeypatch.chdir(robot)
    (robot / "adapter.yaml").write_text(yaml.safe_dump({
        "stage": "adapter", "source_checkpoint": "samsod.pt", "adapter_hidden": 8,
        "data": {"sources": ["synthetic:2:500:night"], **small}, "train": {"epochs": 1, "batch_size": 2}}))
    assert adapt(["adapter", "--config", "adapter.yaml", "--output-dir", "adapted", "--no-progress"]) == 0

    monkeypatch.chdir(elsewhere)
    source, adapted = SAMSOD.load(robot / "samsod.pt"), SAMSOD.load(robot / "adapted" / "samsod.pt")
    official = torch.load(workstation / "checkpoints" / "moved.pt", weights_only=True)["model"]
    neck = source.backbone.image_encoder.neck.state_dict()
    assert all(torch.equal(v, official[f"image_encoder.neck.{k}"]) for k, v in neck.items())
    decoder = "backbone.sam_mask_decoder.transformer.layers.0.mlp.layers.0.weight"
    assert not torch.equal(source.state_dict()[decoder], official[decoder.removeprefix("backbone.")])  # trained
    own = adapted.state_dict()
    assert all(torch.equal(own[k], v) for k, v in source.state_dict().items())  # adapted keeps every weight
    x = torch.rand(1, 3, 64, 64)
    assert adapted.predict(x, x[:, :1]).shape == (1, 1, 64, 64)
    size_mb = (robot / "samsod.pt").stat().st_size / 1e6
    assert 100 < size_mb < 200  # the frozen tiny encoder travels with the model


def test_a_version_1_checkpoint_needs_its_sam2_file_and_converts_to_a_self_contained_one(tmp_path, monkeypatch,
                                                                                            capsys):
    from rgbt_models.cli.export import main as export

    sam2 = tmp_path / "sam2.1_hiera_micro.pt"
    shutil.copy(official_sam2_file("micro"), sam2)
    model = SAMSOD(SAMSODConfig(backbone=BackboneConfig(name="test", image_size=128, checkpoint=str(sam2))))
    write_v1_checkpoint(model, tmp_path / "old.pt")
    assert torch.equal(SAMSOD.load(tmp_path / "old.pt").backbone.no_mem_embed, model.backbone.no_mem_embed)
    assert export(["--checkpoint", str(tmp_path / "old.pt"), "--format", "checkpoint"]) == 0
    assert "old.deploy.pt" in capsys.readouterr().out
    sam2.rename(tmp_path / "elsewhere.pt")
    with pytest.raises(CheckpointError) as caught:
        SAMSOD.load(tmp_path / "old.pt")
    message = str(caught.value)
    assert str(tmp_path / "old.pt") in message and str(sam2) in message and "--format checkpoint" in message
    monkeypatch.chdir(tmp_path.parent)
    converted = SAMSOD.load(tmp_path / "old.deploy.pt")
    assert converted.input_size == (96, 128)
    expected = model.state_dict()
    assert all(torch.equal(expected[k], v) for k, v in converted.state_dict().items())


def test_a_self_contained_checkpoint_with_a_missing_weight_is_refused(tmp_path):
    model = SAMSOD(SAMSODConfig(backbone=BackboneConfig(name="test", image_size=128)))
    model.save(tmp_path / "m.pt")
    content = torch.load(tmp_path / "m.pt", weights_only=True)
    del content["state_dict"]["backbone.no_mem_embed"]
    torch.save(content, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=r"m.pt: does not fit .*missing \['backbone.no_mem_embed'\]"):
        SAMSOD.load(tmp_path / "m.pt")

"""rgbt-import against the authors' own code: the committed fixtures (fixtures/authors/, written
by scripts/make_authors_fixtures.py from liuzywen/SAMSOD and wahaha-debug/SARTM) hold the keys and
shapes of their state dicts and their models' outputs on seeded weights and inputs; here the same
weights are rebuilt, imported and run through our models."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from rgbt_models.cli.import_weights import main as rgbt_import
from rgbt_models.importing.seeded import seeded_images, seeded_state_dict

FIXTURES = Path(__file__).parent / "fixtures" / "authors"
TOLERANCE = 1e-4  # max |ours - theirs| in fp32 on the CPU


def authors_state(method: str, seed: int = 0) -> tuple[dict, dict]:
    manifest = json.loads((FIXTURES / f"{method}_manifest.json").read_text())
    return manifest, seeded_state_dict(manifest["shapes"], seed, manifest["dtypes"])


def reference(method: str, size: int, seed: int = 0) -> dict:
    name = f"{method}_reference_{size}" + (f"_seed{seed}" if seed else "") + ".pt"
    return torch.load(FIXTURES / name, weights_only=True)


def write_sartm(folder: Path, seed: int) -> tuple[Path, dict]:
    """The authors' SARTM (Hiera-B+) state dict with seeded weights, saved as their training saves it."""
    manifest, state = authors_state("sartm", seed)
    path = folder / f"SARTM_seeded_{seed}.pth"
    torch.save(state, path)
    return path, manifest


@pytest.fixture(scope="module")
def sartm_file(tmp_path_factory) -> tuple[Path, dict]:
    return write_sartm(tmp_path_factory.mktemp("authors"), 0)


def test_the_authors_sartm_imports_and_matches_their_code(sartm_file, tmp_path, capsys):
    from rgbt_models.runtime import load_model

    path, manifest = sartm_file
    output = tmp_path / "sartm.pt"
    assert rgbt_import(["sartm-authors", str(path), "--dataset", "pst900", "--output", str(output)]) == 0
    content = torch.load(output, weights_only=True)
    record = content["extra"]["imported"]
    # every key of their file consumed once: loaded, or dropped for a stated reason
    assert record["keys"] == len(manifest["shapes"]) == record["loaded"] + sum(record["dropped"].values())
    assert any("CLIP" in reason for reason in record["dropped"]) is False  # the seeded model had no CLIP
    assert content["extra"]["input"] == {"geometry": "pad", "height": 1280, "width": 1280}
    model = load_model(None, output)
    assert model.config.variant == "authors" and model.config.lora_rank == 48
    assert model.classes.names[1] == "fire_extinguisher" and model.classes.names[3] == "hand_drill"
    assert model.input_geometry.mode == "pad"
    assert_matches(model, reference("sartm", 256))


def assert_matches(model, expected: dict) -> None:
    rgb, thermal = seeded_images(expected["size"], expected["size"], expected["seed"])
    with torch.inference_mode():
        logits = model(rgb, thermal)["decoder"]
    stride = expected["stride"]
    difference = (logits[..., ::stride, ::stride] - expected["output"]).abs().max().item()
    assert difference <= TOLERANCE, difference
    assert abs(logits.mean().item() - expected["mean"].item()) <= TOLERANCE


def test_with_the_thermal_object_score_below_0_the_thermal_logits_are_shut_as_theirs():
    """Seed 10: the object score is above 0 for RGB and below 0 for thermal in the authors' model:
    thermal's class logits become -1024 before the two modalities are averaged."""
    from rgbt_models.importing.sartm_authors import authors_config, describe_file, fill_sartm
    from rgbt_models.sartm import SARTM

    expected = reference("sartm", 256, seed=10)
    assert float(expected["output"].max()) < -500  # (RGB + (-1024)) / 2: the gate shut thermal
    _, state = authors_state("sartm", 10)
    model = SARTM(authors_config("pst900", describe_file("seeded", state)), pretrained=False)
    model.load_state_dict(fill_sartm(model, state, "seeded").state)
    assert_matches(model.eval(), expected)


def test_the_authors_samsod_file_maps_key_for_key_onto_ours_at_hiera_l():
    """Their SAMSOD-large file's every key (the committed manifest's shapes, as meta tensors)
    lands in exactly one tensor of ours of the same shape, or is dropped as SAM 2's video memory;
    every tensor of ours is filled. (The numbers, Hiera-L at 512x512, are benchmarks/bench_authors.py's:
    20 s of CPU is too much for make test.)"""
    from rgbt_models.importing.samsod_authors import VIDEO_MEMORY, authors_config, fill_samsod
    from rgbt_models.samsod import SAMSOD

    manifest = json.loads((FIXTURES / "samsod_manifest.json").read_text())
    state = {key: torch.empty(shape, device="meta") for key, shape in manifest["shapes"].items()}
    model = SAMSOD(authors_config(), pretrained=False)
    ledger = fill_samsod(model, state, "sam_rgbt.pth")
    summary = ledger.summary()
    assert summary["loaded"] == len(model.state_dict()) == 1895
    assert summary["dropped"] == {VIDEO_MEMORY: len(state) - 1895}
    assert set(ledger.consumed) == set(state)


def run_import(capsys, *args: str) -> tuple[int, str]:
    code = rgbt_import(list(args))
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def test_wrong_or_damaged_files_are_refused_with_one_line_and_nothing_written(sartm_file, tmp_path, capsys):
    path, _ = sartm_file
    output = tmp_path / "out.pt"
    code, text = run_import(capsys, "samsod-authors", str(path), "--output", str(output))
    assert code == 1 and "use rgbt-import sartm-authors" in text
    code, text = run_import(capsys, "sartm-authors", str(path), "--dataset", "mfnet", "--output", str(output))
    assert code == 1 and "5 classes, --dataset mfnet has 9" in text and "pst900" in text

    state = torch.load(path, weights_only=True)
    damaged = dict(state)
    lost = [k for k in damaged if k.startswith("sam.sam_mask_decoder.transformer.")][:4]
    for key in lost:
        del damaged[key]
    damaged["sam.sam_mask_decoder.extra_head.weight"] = torch.zeros(2)
    torch.save(damaged, tmp_path / "damaged.pth")
    code, text = run_import(capsys, "sartm-authors", str(tmp_path / "damaged.pth"), "--dataset", "pst900",
                            "--output", str(output))
    assert code == 1 and "1 unexpected key(s) (sam.sam_mask_decoder.extra_head.weight)" in text
    assert "4 tensor(s) of ours not in it (class_decoder.transformer." in text
    assert len(text.strip().splitlines()) == 1

    class Payload:  # a pickle that would run code: weights_only refuses it before anything runs
        def __reduce__(self):
            return (print, ("executed",))

    with open(tmp_path / "code.pth", "wb") as handle:
        pickle.dump({"x": Payload()}, handle)
    code, text = run_import(capsys, "sartm-authors", str(tmp_path / "code.pth"), "--dataset", "pst900",
                            "--output", str(output))
    assert code == 1 and "not a readable PyTorch checkpoint" in text and "executed" not in text
    assert not output.exists() and not list(tmp_path.glob(".out.pt.*"))


def test_verify_prints_the_digest_and_contents_and_writes_nothing(sartm_file, tmp_path, capsys):
    from rgbt_models.importing.source_file import sha256

    path, manifest = sartm_file
    code, text = run_import(capsys, "sartm-authors", str(path), "--dataset", "pst900", "--verify")
    assert code == 0
    shown = json.loads(text)
    assert shown["sha256"] == sha256(path) and shown["keys"] == len(manifest["shapes"])
    assert shown["classes"][1] == "fire_extinguisher" and shown["backbone"] == "SAM 2 base_plus"
    assert list(tmp_path.iterdir()) == []


def test_the_object_score_gates_the_whole_image_and_the_modalities_are_averaged():
    """variant authors on the micro backbone: a negative object score sets every class logit to
    SAM 2's NO_OBJ_SCORE for that modality; the output is the mean of the two modalities."""
    from rgbt_models.backbone import BackboneConfig
    from rgbt_models.sartm import SARTM, SARTMConfig

    model = SARTM(SARTMConfig(backbone=BackboneConfig(name="test", image_size=64), classes="pst900",
                              variant="authors", loss={"preset": "ours", "cmkd_weight": 0.0}), pretrained=False).eval()
    rgb, thermal = seeded_images(64, 64, 1)
    head = model.class_decoder.pred_obj_score_head.layers[-1]
    with torch.inference_mode():
        torch.nn.init.constant_(head.bias, -1e4)
        gated = model(rgb, thermal)["decoder"]
        torch.nn.init.constant_(head.bias, 1e4)
        open_ = model(rgb, thermal)["decoder"]
    assert torch.all(gated == -1024.0)
    assert not torch.any(open_ == -1024.0) and open_.shape == (1, 5, 64, 64)

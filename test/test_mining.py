"""The frames most worth labelling (rgbt_perception/replay/mining.py): the selection, the mined
folder a replay writes, and CVAT's labels back as a data set folder rgbt-train reads
(rgbt-labels). Serial against Ray: test_fleet.py."""

from __future__ import annotations

import csv
import json
import zipfile

import cv2
import numpy as np
import pytest

from rgbt_perception.replay.mining import select
from rgbt_perception.testing.cvat_exports import write_cvat_export


def rows(*values):
    return [{"bag": bag, "stamp_ns": int(seconds * 1e9), "uncertainty": u} for bag, seconds, u in values]


def test_the_most_uncertain_frames_at_most_one_per_gap_of_a_bag():
    frames = rows(("a", 0.0, 0.9), ("a", 0.5, 0.95), ("a", 3.0, 0.5), ("b", 0.2, 0.8), ("b", 0.3, float("nan")),
                  ("a", 1.9, 0.7), ("b", 9.0, 0.1))
    chosen = select(frames, 3, gap=2.0)
    assert [(r["bag"], r["stamp_ns"] / 1e9) for r in chosen] == [("a", 0.5), ("b", 0.2), ("a", 3.0)]
    assert [r["stamp_ns"] for r in select(frames, 10, gap=0.0)][:2] == [500_000_000, 0]  # no gap: by rank alone
    assert len(select(frames, 10, gap=2.0)) == 4  # every bag's frames spaced: a 0.5, 3.0; b 0.2, 9.0


def test_frames_without_live_thermal_are_not_mined():
    frames = rows(("a", 0.0, 0.9), ("a", 5.0, 0.8), ("a", 10.0, 0.7))
    frames[0]["degraded"], frames[1]["thermal_frozen"] = 1, 1  # thermal missing; the shutter closed
    assert select(frames, 3, 0.0) == [frames[2]]


def test_ties_are_broken_by_bag_and_stamp_whatever_the_order_rows_came_in():
    frames = rows(("b", 1.0, 0.5), ("a", 5.0, 0.5), ("a", 1.0, 0.5))
    assert select(frames, 2, 0.0) == select(list(reversed(frames)), 2, 0.0) == [frames[2], frames[1]]


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    """A replay of a short synthetic drive with --mine 3, with the test checkpoints."""
    from rgbt_models.data.drive import main as synthetic_drive
    from rgbt_perception.replay import main as replay
    from rgbt_perception.testing.node_fixtures import write_test_checkpoints

    root = tmp_path_factory.mktemp("mining")
    assert synthetic_drive([str(root / "drive"), "--seconds", "4", "--fps", "2.5", "--size", "96x128"]) == 0
    checkpoints = write_test_checkpoints(root / "ckpt")
    assert replay([str(root / "drive"), *checkpoints, "-p", "model_height:=96", "-p", "model_width:=128",
                   "--mask-topic", "/ground_truth/saliency", "--label-topic", "/ground_truth/semantic",
                   "--no-video", "--overlay-every", "0", "--no-progress", "--mine", "3", "--mine-gap", "1.0",
                   "--output", str(root / "out")]) == 0
    return root


def test_a_replay_reports_the_uncertainty_and_mines_the_frames(mined):
    out = mined / "out"
    summary = json.loads((out / "summary.json").read_text())
    with (out / "frames.csv").open() as handle:
        frames = list(csv.DictReader(handle))
    values = np.array([float(r["uncertainty"]) for r in frames])
    assert {"uncertainty", "uncertainty_saliency", "uncertainty_semantic"} <= set(frames[0])
    assert ((values >= 0) & (values <= 1)).all() and values.std() > 0
    for row in frames:  # combined: the mean of the models' parts
        parts = (float(row["uncertainty_saliency"]), float(row["uncertainty_semantic"]))
        assert float(row["uncertainty"]) == pytest.approx(sum(parts) / 2, abs=1e-5)  # csv: 6 places
    part = summary["per_bag"][str(mined / "drive")]["uncertainty"]
    assert part["median"] == pytest.approx(float(np.median(values))) and part["frames"] == len(frames) == 10
    assert part["share_above_warn"] == pytest.approx(float((values > part["warn"]).mean()))
    with (out / "mined" / "manifest.csv").open() as handle:
        manifest = list(csv.DictReader(handle))
    assert float(manifest[0]["uncertainty"]) == pytest.approx(values.max())  # the most uncertain frame first
    assert len(manifest) == 3 == summary["mined"]["frames"]
    for row in manifest:
        rgb = cv2.imread(str(out / "mined" / row["rgb"]), cv2.IMREAD_UNCHANGED)
        thermal = cv2.imread(str(out / "mined" / row["thermal"]), cv2.IMREAD_UNCHANGED)
        assert rgb.shape == (96, 128, 3) and thermal.dtype == np.uint16 and thermal.shape == (96, 128)
    with zipfile.ZipFile(out / "mined" / "cvat" / "task.zip") as task:
        names = set(task.namelist())
    stem = manifest[0]["rgb"][4:-4]
    assert {f"{stem}.png", f"related_images/{stem}_png/thermal.png"} <= names
    labels = json.loads((out / "mined" / "cvat" / "labels.json").read_text())
    assert [label["name"] for label in labels] == ["background", "sky", "person", "vehicle", "salient"]
    assert labels[0]["color"] == "#000000"


def first_mined_frame(mined):
    """(the mined folder, the name of its most uncertain frame, the CVAT task's labels)."""
    out = mined / "out" / "mined"
    with (out / "manifest.csv").open() as handle:
        stem = next(csv.DictReader(handle))["rgb"][4:-4]
    return out, stem, json.loads((out / "cvat" / "labels.json").read_text())


def test_labels_drawn_in_cvat_come_back_as_a_folder_data_set(mined, tmp_path, capsys):
    from rgbt_models.cli.labels import main as rgbt_labels
    from rgbt_models.data.datasets import open_spec

    out, stem, labels = first_mined_frame(mined)
    drawn = np.zeros((96, 128), np.uint8)
    drawn[20:60, 30:70] = 2  # a person
    drawn[:10] = 1  # sky
    drawn[70:90, 100:120] = 4  # drawn as `salient`: a saliency label, not a class
    export = write_cvat_export(tmp_path / "cvat_export", labels, {stem: drawn})
    assert rgbt_labels(["cvat", str(export), "--mined", str(out), "--output", str(tmp_path / "labelled")]) == 0
    assert "1 labelled frames" in capsys.readouterr().out
    _, dataset = open_spec(f"folder:{tmp_path / 'labelled'}")  # the loader rgbt-train's folder data set uses
    (sample,) = list(dataset)
    assert np.array_equal(sample.label, np.where(drawn == 4, 255, drawn))  # `salient`: unlabelled for SARTM
    assert np.array_equal(sample.thermal, cv2.imread(str(out / "thermal" / f"{stem}.png"), cv2.IMREAD_UNCHANGED))
    assert rgbt_labels(["cvat", str(export), "--mined", str(out), "--output", str(tmp_path / "masks"),
                        "--task", "saliency"]) == 0
    (mask_sample,) = list(open_spec(f"folder:{tmp_path / 'masks'}")[1])
    assert np.array_equal(mask_sample.mask, np.where(drawn > 0, 255, 0))
    assert rgbt_labels(["cvat", str(export), "--mined", str(out), "--output", str(tmp_path / "partial"),
                        "--undrawn", "ignore"]) == 0  # only some classes drawn: the rest is no class
    (partial,) = list(open_spec(f"folder:{tmp_path / 'partial'}")[1])
    assert np.array_equal(partial.label, np.where((drawn == 0) | (drawn == 4), 255, drawn))


@pytest.mark.parametrize(("dtype", "suffix"), [(np.uint8, ".png"), (np.uint16, ".png"), (np.float32, ".tiff")])
def test_mined_thermal_keeps_the_bags_bits_through_the_labels(mined, tmp_path, dtype, suffix):
    """mono8 stays 8-bit, mono16 16-bit (PNG), 32FC1 float (TIFF, NaN kept); rgbt-labels copies
    it and the folder data set reads it back bit for bit."""
    from rgbt_models.cli.labels import main as rgbt_labels
    from rgbt_models.data.datasets import open_spec
    from rgbt_perception.replay.mining import write_thermal

    out, stem, labels = first_mined_frame(mined)
    folder = tmp_path / "mined"
    (folder / "rgb").mkdir(parents=True)
    (folder / "thermal").mkdir()
    (folder / "rgb" / f"{stem}.png").write_bytes((out / "rgb" / f"{stem}.png").read_bytes())
    thermal = (np.arange(96 * 128).reshape(96, 128) * (0.01 if dtype == np.float32 else 1)).astype(dtype)
    if dtype == np.float32:
        thermal[0, 0] = np.nan  # a dead pixel of a radiometric float camera
    written = write_thermal(folder / "thermal" / f"{stem}.png", thermal)
    assert written.suffix == suffix
    assert np.array_equal(cv2.imread(str(written), cv2.IMREAD_UNCHANGED), thermal, equal_nan=True)
    export = write_cvat_export(tmp_path / "cvat_export", labels, {stem: np.ones((96, 128), np.uint8)})
    assert rgbt_labels(["cvat", str(export), "--mined", str(folder), "--output", str(tmp_path / "labelled")]) == 0
    (sample,) = list(open_spec(f"folder:{tmp_path / 'labelled'}")[1])
    assert sample.thermal.dtype == dtype and np.array_equal(sample.thermal, thermal, equal_nan=True)


def test_a_mask_in_colours_of_no_label_is_refused_naming_it(mined, tmp_path, capsys):
    from rgbt_models.cli.labels import main as rgbt_labels

    out, stem, labels = first_mined_frame(mined)
    write_cvat_export(tmp_path / "other_task", labels[:2], {stem: np.ones((96, 128), np.uint8)})
    cv2.imwrite(str(tmp_path / "other_task" / "SegmentationClass" / f"{stem}.png"), np.full((96, 128, 3), 7, np.uint8))
    code = rgbt_labels(["cvat", str(tmp_path / "other_task"), "--mined", str(out), "--output", str(tmp_path / "x")])
    assert code == 2 and f"SegmentationClass/{stem}.png has colours that are no label" in capsys.readouterr().err


def test_a_deployed_model_is_fine_tuned_on_the_labelled_frames(mined, tmp_path):
    """rgbt-train with init_checkpoint (the deployed SARTM) on the folder rgbt-labels wrote: it
    starts from the checkpoint's weights and model config, and writes a checkpoint of the same kind."""
    import torch
    import yaml

    from rgbt_models.cli.labels import main as rgbt_labels
    from rgbt_models.cli.train import main as rgbt_train
    from rgbt_models.runtime import load_model

    out, stem, labels = first_mined_frame(mined)
    drawn = np.zeros((96, 128), np.uint8)
    drawn[30:70, 40:80] = 3  # a vehicle
    export = write_cvat_export(tmp_path / "export", labels, {stem: drawn})
    assert rgbt_labels(["cvat", str(export), "--mined", str(out), "--output", str(tmp_path / "labelled")]) == 0
    deployed = mined / "ckpt" / "a.pt"
    config = tmp_path / "finetune.yaml"
    config.write_text(yaml.safe_dump({
        "task": "sartm", "init_checkpoint": str(deployed),
        "data": {"dataset": "folder", "root": str(tmp_path / "labelled"), "height": 96, "width": 128},
        "train": {"epochs": 1, "batch_size": 1, "lr": 1.0e-3, "seed": 0}, "output_dir": str(tmp_path / "run")}))
    assert rgbt_train(["sartm", "--config", str(config), "--no-progress", "--threads", "1"]) == 0
    before, after = load_model("sartm", str(deployed)), load_model("sartm", str(tmp_path / "run" / "final.pt"))
    assert after.config.to_dict() == before.config.to_dict()
    changed = [name for name, tensor in after.state_dict().items()
               if not torch.equal(tensor, before.state_dict()[name])]
    assert changed and len(changed) < len(before.state_dict())  # trained where it trains, from the deployed weights


def test_an_export_that_is_not_there_is_named_as_not_found(mined, tmp_path, capsys):
    from rgbt_models.cli.labels import main as rgbt_labels

    code = rgbt_labels(["cvat", str(tmp_path / "missing.zip"), "--mined", str(mined / "out" / "mined"),
                        "--output", str(tmp_path / "x")])
    assert code == 2 and f"{tmp_path / 'missing.zip'}: not found" in capsys.readouterr().err

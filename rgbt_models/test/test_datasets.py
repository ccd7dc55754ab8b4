"""Each loader on a tiny folder written in the data set's real layout, and the error cases."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rgbt_models.data.datasets import (
    FMB,
    PST900,
    DatasetError,
    FolderDataset,
    MFNet,
    RGBTSaliency,
    SyntheticDataset,
    open_dataset,
)
from rgbt_models.data.transforms import TransformConfig, TransformedDataset

rng = np.random.default_rng(0)
H, W = 12, 16


def write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image), path


def rgb_image():
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_mfnet_four_channel_png_and_split_files(tmp_path):
    rgb, thermal = rgb_image(), rng.integers(0, 256, (H, W), dtype=np.uint8)
    label = rng.integers(0, 9, (H, W), dtype=np.uint8)
    bgra = np.dstack([cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), thermal])
    for name in ("00001D", "00002N"):
        write(tmp_path / "images" / f"{name}.png", bgra)
        write(tmp_path / "labels" / f"{name}.png", label)
    (tmp_path / "test_night.txt").write_text("00002N\n")
    (tmp_path / "train.txt").write_text("00001D\n00002N\n")
    dataset = MFNet(tmp_path, "test_night")
    assert len(dataset) == 1
    sample = dataset[0]
    assert sample.name == "00002N"
    assert np.array_equal(sample.rgb, rgb) and np.array_equal(sample.thermal, thermal)
    assert np.array_equal(sample.label, label)
    assert len(MFNet(tmp_path, "train")) == 2


def test_mfnet_rejects_a_three_channel_image(tmp_path):
    write(tmp_path / "images" / "a.png", rgb_image())
    write(tmp_path / "labels" / "a.png", np.zeros((H, W), np.uint8))
    (tmp_path / "train.txt").write_text("a\n")
    with pytest.raises(DatasetError, match=r"a.png: MFNet images have 4 channels .* found 3"):
        MFNet(tmp_path, "train")[0]


def test_mfnet_split_naming_a_missing_file(tmp_path):
    write(tmp_path / "images" / "a.png", np.zeros((H, W, 4), np.uint8))
    write(tmp_path / "labels" / "a.png", np.zeros((H, W), np.uint8))
    (tmp_path / "val.txt").write_text("a\nb\n")
    with pytest.raises(DatasetError, match=r"images/b\.\* \(missing\)"):
        MFNet(tmp_path, "val")


def test_pst900_with_16_bit_raw_thermal(tmp_path):
    raw = rng.integers(0, 65535, (H, W), dtype=np.uint16)
    base = tmp_path / "test"
    write(base / "rgb" / "x.png", cv2.cvtColor(rgb_image(), cv2.COLOR_RGB2BGR))
    write(base / "thermal" / "x.png", (raw >> 8).astype(np.uint8))
    write(base / "thermal_raw" / "x.png", raw)
    write(base / "labels" / "x.png", rng.integers(0, 5, (H, W), dtype=np.uint8))
    sample = PST900(tmp_path, "test", raw_thermal=True)[0]
    assert sample.thermal.dtype == np.uint16 and np.array_equal(sample.thermal, raw)
    assert PST900(tmp_path, "test")[0].thermal.dtype == np.uint8


def test_fmb_layout_and_unpaired_file(tmp_path):
    base = tmp_path / "train"
    for name in ("a", "b"):
        write(base / "Visible" / f"{name}.png", rgb_image())
        write(base / "Infrared" / f"{name}.png", rng.integers(0, 256, (H, W), dtype=np.uint8))
    label = np.full((H, W), 255, np.uint8)
    write(base / "Label" / "a.png", label)
    with pytest.raises(DatasetError, match=r"Label/b\.\* \(missing\)"):
        FMB(tmp_path, "train")
    write(base / "Label" / "b.png", label)
    assert len(FMB(tmp_path, "train")) == 2


@pytest.mark.parametrize(("name", "split", "exts"), [("vt5000", "Test", (".jpg", ".jpg", ".png")),
                                                     ("vt1000", None, (".jpg", ".bmp", ".jpg")),
                                                     ("vt821", None, (".jpg", ".jpg", ".jpg"))])
def test_saliency_sets_pair_mixed_extensions_by_name(tmp_path, name, split, exts):
    base = tmp_path / split if split else tmp_path
    # File names chosen so that sorted order differs between folders if paired by position.
    for stem in ("10", "9", "100"):
        write(base / "RGB" / f"{stem}{exts[0]}", np.full((H, W, 3), int(stem) % 256, np.uint8))
        write(base / "T" / f"{stem}{exts[1]}", np.full((H, W, 3), int(stem) % 256, np.uint8))
        write(base / "GT" / f"{stem}{exts[2]}", np.full((H, W), 255, np.uint8))
    dataset = open_dataset(name, tmp_path, split)
    assert isinstance(dataset, RGBTSaliency) and len(dataset) == 3
    for index in range(3):
        sample = dataset[index]
        value = int(sample.name) % 256
        assert abs(int(sample.rgb.mean()) - value) <= 2 and abs(int(sample.thermal.mean()) - value) <= 2
        assert sample.mask.ndim == 2


def test_two_files_with_one_name_are_an_error(tmp_path):
    write(tmp_path / "RGB" / "a.jpg", rgb_image())
    write(tmp_path / "RGB" / "a.png", rgb_image())
    write(tmp_path / "T" / "a.jpg", rgb_image())
    write(tmp_path / "GT" / "a.png", np.zeros((H, W), np.uint8))
    with pytest.raises(DatasetError, match="two files share the name 'a'"):
        RGBTSaliency(tmp_path)


def test_generic_folder_layout(tmp_path):
    write(tmp_path / "rgb" / "f1.png", rgb_image())
    write(tmp_path / "thermal" / "f1.png", rng.integers(0, 65535, (H, W), dtype=np.uint16))
    write(tmp_path / "masks" / "f1.png", np.zeros((H, W), np.uint8))
    dataset = FolderDataset(tmp_path)
    assert dataset.task == "saliency" and dataset[0].thermal.dtype == np.uint16
    with pytest.raises(DatasetError, match="needs labels/"):
        FolderDataset(tmp_path / "rgb")


def test_a_thermal_camera_of_another_size_reads_and_a_label_of_another_size_is_reported(tmp_path):
    """Thermal is brought onto the RGB image as the node does (resized, or data.homography); a
    label is scored on the RGB image's pixels."""
    write(tmp_path / "rgb" / "f1.png", rgb_image())
    write(tmp_path / "thermal" / "f1.png", np.zeros((H // 2, W // 2), np.uint16))
    write(tmp_path / "labels" / "f1.png", np.zeros((H, W), np.uint8))
    assert FolderDataset(tmp_path)[0].thermal.shape == (H // 2, W // 2)
    write(tmp_path / "labels" / "f1.png", np.zeros((H + 1, W), np.uint8))
    with pytest.raises(DatasetError, match=r"labels/f1.png: size \(\d+, \d+\) differs from .*rgb/f1.png"):
        FolderDataset(tmp_path)[0]


def test_transforms_are_joint_and_deterministic():
    dataset = TransformedDataset(SyntheticDataset(2), TransformConfig(height=96, width=128), seed=3)
    a, b = dataset[0], dataset[0]
    assert all(torch_equal(a[k], b[k]) for k in ("rgb", "thermal", "label", "mask"))
    dataset.set_epoch(1)
    c = dataset[0]
    assert not torch_equal(a["rgb"], c["rgb"])
    # Saliency mask and semantic label stay aligned through scale, crop/pad and flip (padding is
    # ignore in the label, background in the mask).
    salient, valid = c["mask"][0] > 0.5, c["label"] != 255
    assert ((c["label"] >= 2) == salient)[valid].float().mean() > 0.97
    assert c["rgb"].shape == (3, 96, 128) and c["thermal"].shape == (1, 96, 128)


def torch_equal(x, y) -> bool:
    import torch

    return torch.equal(x, y)


# -- a user's folder: splits, and validation held out from training ----------------------------------
def write_user_folder(root, names):
    for name in names:
        write(root / "rgb" / f"{name}.png", rgb_image())
        write(root / "thermal" / f"{name}.png", rng.integers(0, 256, (H, W), dtype=np.uint8))
        write(root / "masks" / f"{name}.png", rng.integers(0, 2, (H, W), dtype=np.uint8) * 255)


def test_folder_splits_are_sub_folders_or_name_lists_never_the_whole_folder(tmp_path):
    from rgbt_models.data.datasets import open_dataset

    write_user_folder(tmp_path / "a", ["x", "y", "z"])
    (tmp_path / "a" / "val.txt").write_text("z\n")
    (tmp_path / "a" / "train.txt").write_text("x\ny\n")
    assert [n for n, _ in open_dataset("folder", tmp_path / "a", "val").entries] == ["z"]
    assert len(open_dataset("folder", tmp_path / "a", "train")) == 2
    assert len(open_dataset("folder", tmp_path / "a")) == 3
    write_user_folder(tmp_path / "b" / "val", ["v"])
    assert len(open_dataset("folder", tmp_path / "b", "val")) == 1
    with pytest.raises(DatasetError, match=r"a: the folder data set has no split 'test' \(neither .*test/ .*test\.txt"):
        open_dataset("folder", tmp_path / "a", "test")


def test_training_refuses_a_validation_split_that_is_the_training_data(tmp_path):
    from rgbt_models.data.datasets import open_dataset
    from rgbt_models.training.config import DataConfig
    from rgbt_models.training.trainer import check_held_out

    write_user_folder(tmp_path, ["x", "y", "z"])
    (tmp_path / "val.txt").write_text("z\n")
    d = DataConfig(dataset="folder", root=str(tmp_path), val_split="val")
    with pytest.raises(DatasetError, match=r"val_split 'val' shares 1 of its 1 samples with data.train_split None"):
        check_held_out(open_dataset("folder", tmp_path), open_dataset("folder", tmp_path, "val"), d)
    (tmp_path / "train.txt").write_text("x\ny\n")
    check_held_out(open_dataset("folder", tmp_path, "train"), open_dataset("folder", tmp_path, "val"), d)


# One description of each layout: UUSOD opens the same loaders with labels off.
LAYOUTS = {  # name: (split folder, {role: folder}, what its label folder holds)
    "pst900": ("train", {"rgb": "rgb", "thermal": "thermal", "label": "labels"}, "label"),
    "fmb": ("train", {"rgb": "Visible", "thermal": "Infrared", "label": "Label"}, "label"),
    "vt5000": ("Train", {"rgb": "RGB", "thermal": "T", "label": "GT"}, "mask"),
    "vt821": ("", {"rgb": "RGB", "thermal": "T", "label": "GT"}, "mask"),
    "folder": ("", {"rgb": "rgb", "thermal": "thermal", "label": "masks"}, "mask"),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_uusod_opens_each_layout_with_its_labelled_loader_and_no_label_folder(tmp_path, name):
    from rgbt_models.uusod.data import open_labelled, open_unlabeled

    split, folders, truth = LAYOUTS[name]
    for stem in ("a", "b"):
        write(tmp_path / split / folders["rgb"] / f"{stem}.png", rgb_image())
        write(tmp_path / split / folders["thermal"] / f"{stem}.png", np.zeros((H, W), np.uint8))
        write(tmp_path / split / folders["label"] / f"{stem}.png", np.zeros((H, W), np.uint8))
    labelled = open_labelled(f"{name}:{tmp_path}")  # the default split, as rgbt-eval opens it
    other = {"label": "mask", "mask": "label"}[truth]
    assert len(labelled) == 2 and getattr(labelled[0], other) is None  # a semantic set's labels, a SOD set's masks
    assert getattr(labelled[0], truth) is not None and not np.asarray(getattr(labelled[0], truth)).any()
    for path in (tmp_path / split / folders["label"]).iterdir():
        path.unlink()
    (tmp_path / split / folders["label"]).rmdir()
    unlabeled = open_unlabeled(f"{name}:{tmp_path}", 32, 32)
    assert type(unlabeled) is type(labelled)
    assert [s.name for s in (unlabeled[0], unlabeled[1])] == ["a", "b"]
    assert unlabeled[0].label is None and unlabeled[0].mask is None


def test_a_data_set_spec_is_read_one_way():
    from rgbt_models.data.datasets import open_spec, parse_spec

    assert parse_spec("vt5000:/data/VT5000:Test") == ("vt5000", ["/data/VT5000", "Test"])
    assert parse_spec("synthetic") == ("synthetic", [])
    assert open_spec("synthetic", synthetic_count=3)[0] == "synthetic[3]"
    with pytest.raises(DatasetError, match="needs a root folder"):
        open_spec("mfnet")
    with pytest.raises(DatasetError, match=r"expected NAME\[:ROOT\[:SPLIT\]\]"):
        open_spec("mfnet:a:b:c")

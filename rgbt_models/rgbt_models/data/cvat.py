"""Labels drawn in CVAT on mined frames, back as a data set folder rgbt-train reads.

CVAT's "Segmentation mask 1.1" export (a zip or its unpacked folder) holds labelmap.txt
(`name:r,g,b::` per label, the first one black: unlabelled pixels) and SegmentationClass/NAME.png,
each pixel painted in its label's colour. With the mined frames (rgbt-replay --mine: rgb/ and
thermal/ under the same NAME) it becomes the folder layout of rgbt_models.data.datasets:

    DATASET/rgb/NAME.png, DATASET/thermal/NAME.png (as mined: 16-bit kept), and
    semantic: DATASET/labels/NAME.png (class ids in the labelmap's order) + DATASET/classes.yaml;
              pixels drawn as `salient` are left unlabelled (255); pixels nobody drew are the
              first class (CVAT paints them black), or unlabelled with undrawn="ignore" (frames
              where only some classes were drawn)
    saliency: DATASET/masks/NAME.png (255 where any label but the first was drawn)

A colour that is no label of the labelmap is an error naming the file (a mask from another task).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import cv2
import numpy as np
import yaml

from rgbt_models.data.datasets import DatasetError

TASKS = ("semantic", "saliency")
UNDRAWN = ("first", "ignore")  # what a pixel nobody drew is for SARTM: the first class, or unlabelled
SALIENT = "salient"  # the label of a salient object in a mined task: masks/, never a class of labels/


class CvatExport:
    """A "Segmentation mask 1.1" export: `labels` [(name, (r, g, b))] and `masks` {NAME: path in it}."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DatasetError(f"{self.path}: not found (export the CVAT task as 'Segmentation mask 1.1')")
        self.archive = zipfile.ZipFile(self.path) if self.path.is_file() else None
        self.labels = parse_labelmap(self.read("labelmap.txt").decode(), self.path)
        names = (self.archive.namelist() if self.archive else
                 [str(p.relative_to(self.path)) for p in (self.path / "SegmentationClass").glob("*.png")])
        self.masks = {Path(n).stem: n for n in names if n.startswith("SegmentationClass/") and n.endswith(".png")}
        if not self.masks:
            raise DatasetError(f"{self.path}: no SegmentationClass/*.png (export the task as 'Segmentation mask 1.1')")

    def read(self, name: str) -> bytes:
        try:
            return self.archive.read(name) if self.archive else (self.path / name).read_bytes()
        except (KeyError, FileNotFoundError) as error:
            raise DatasetError(f"{self.path}: no {name} (export the task as 'Segmentation mask 1.1')") from error

    def label_ids(self, stem: str) -> np.ndarray:
        """(H, W) uint8 label index (the labelmap's order) of one mask."""
        colour = cv2.imdecode(np.frombuffer(self.read(self.masks[stem]), np.uint8), cv2.IMREAD_COLOR)
        if colour is None:
            raise DatasetError(f"{self.path}: {self.masks[stem]} is not an image")
        rgb = colour[..., ::-1].astype(np.int32)
        code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        ids = np.full(code.shape, 255, np.uint8)
        for index, (_, (r, g, b)) in enumerate(self.labels):
            ids[code == ((r << 16) | (g << 8) | b)] = index
        if (ids == 255).any():
            raise DatasetError(f"{self.path}: {self.masks[stem]} has colours that are no label of labelmap.txt")
        return ids


def parse_labelmap(text: str, source: Path) -> list[tuple[str, tuple[int, int, int]]]:
    labels = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        try:
            r, g, b = (int(v) for v in rest.split(":")[0].split(","))
        except ValueError as error:
            raise DatasetError(f"{source}: labelmap.txt line {line!r} is not 'name:r,g,b::'") from error
        labels.append((name, (r, g, b)))
    if not labels:
        raise DatasetError(f"{source}: labelmap.txt names no label")
    return labels


def import_cvat(export: str | Path, mined: str | Path, output: str | Path, task: str = "semantic",
                undrawn: str = "first") -> dict:
    """Write the data set folder; {"frames", "task", "classes"}. Frames without a mask are left
    out (not labelled yet); a mask without its mined images is an error. undrawn (semantic only;
    for saliency an undrawn pixel is not salient): "first", a pixel nobody drew is the first class
    (every region was drawn); "ignore", it is left out of training (255)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if undrawn not in UNDRAWN:
        raise ValueError(f"undrawn must be one of {UNDRAWN}, got {undrawn!r}")
    source, mined, output = CvatExport(export), Path(mined), Path(output)
    if output.exists():
        raise DatasetError(f"{output} exists; name a new folder")
    folders = {"rgb": output / "rgb", "thermal": output / "thermal",
               "truth": output / ("labels" if task == "semantic" else "masks")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    kept = [(name, color) for name, color in source.labels if task == "saliency" or name != SALIENT]
    # labelmap index -> class id (semantic: the labels but `salient`, in order; `salient` unlabelled)
    lookup = np.full(256, 255, np.uint8)
    for index, (name, _) in enumerate(source.labels):
        if name != SALIENT:
            lookup[index] = [n for n, _ in kept].index(name)
    if undrawn == "ignore":
        lookup[0] = 255  # CVAT's first label is the black one every undrawn pixel gets
    for stem in sorted(source.masks):
        rgb = mined / "rgb" / f"{stem}.png"
        thermal = next(iter(sorted((mined / "thermal").glob(f"{stem}.*"))), None)
        if not rgb.is_file() or thermal is None:
            raise DatasetError(f"{source.path}: mask {stem} has no mined images in {mined} (rgb/ and thermal/)")
        ids = source.label_ids(stem)
        shutil.copy(rgb, folders["rgb"] / rgb.name)
        shutil.copy(thermal, folders["thermal"] / thermal.name)
        truth = lookup[ids] if task == "semantic" else np.where(ids > 0, 255, 0).astype(np.uint8)
        cv2.imwrite(str(folders["truth"] / f"{stem}.png"), truth)
    names = [name for name, _ in kept]
    if task == "semantic":
        classes = {"name": output.name, "classes": [{"id": i, "name": name, "color": list(color)}
                                                    for i, (name, color) in enumerate(kept)]}
        (output / "classes.yaml").write_text(yaml.safe_dump(classes, sort_keys=False))
    return {"frames": len(source.masks), "task": task, "classes": names}

"""CVAT's "Segmentation mask 1.1" export, written as CVAT writes it, for tests and the documents'
commands: what a person's labelling of mined frames comes back as (rgbt_models.data.cvat reads it)."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np


def write_cvat_export(folder: Path, labels: list[dict], masks: dict[str, np.ndarray]) -> Path:
    """labelmap.txt and SegmentationClass/<stem>.png (each label index of `masks` painted in its
    label's colour; `labels` as in a task's labels.json) in `folder`, and the same zipped beside
    it, as CVAT hands it out; the zip's path."""
    folder.mkdir(parents=True)
    colours = np.array([[int(label["color"][i:i + 2], 16) for i in (1, 3, 5)] for label in labels], np.uint8)
    (folder / "labelmap.txt").write_text("# label:color_rgb:parts:actions\n" + "".join(
        f"{label['name']}:{','.join(str(int(v)) for v in colour)}::\n" for label, colour in zip(labels, colours)))
    (folder / "SegmentationClass").mkdir()
    for stem, ids in masks.items():
        cv2.imwrite(str(folder / "SegmentationClass" / f"{stem}.png"), colours[ids][..., ::-1])
    with zipfile.ZipFile(folder.with_suffix(".zip"), "w") as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, path.relative_to(folder))
    return folder.with_suffix(".zip")


def labelled_by_a_person(mined: Path, output: Path) -> Path:
    """A stand-in for a person labelling every mined frame in CVAT: a box of the task's third label
    (a person, in the synthetic classes) on background; the export's zip at `output`."""
    labels = json.loads((mined / "cvat" / "labels.json").read_text())
    masks = {}
    with (mined / "manifest.csv").open() as handle:
        for row in csv.DictReader(handle):
            height, width = cv2.imread(str(mined / row["rgb"])).shape[:2]
            ids = np.zeros((height, width), np.uint8)
            ids[height // 3: 2 * height // 3, width // 3: width // 2] = min(2, len(labels) - 1)
            masks[Path(row["rgb"]).stem] = ids
    with tempfile.TemporaryDirectory() as scratch:  # CVAT hands out the zip alone
        zipped = write_cvat_export(Path(scratch) / "export", labels, masks)
        shutil.move(zipped, output)
    return output


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3:
        sys.exit("usage: python -m rgbt_perception.testing.cvat_exports MINED_FOLDER EXPORT.zip")
    print(f"wrote {labelled_by_a_person(Path(sys.argv[1]), Path(sys.argv[2]))}: a box of the task's third label on "
          "each mined frame, in CVAT's 'Segmentation mask 1.1' export format")

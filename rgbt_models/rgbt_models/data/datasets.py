"""Loaders of the standard RGB-T data sets in their real on-disk layouts, and of a user's folders.

Every loader pairs files by base name (never by sorted order) and reports a missing or
unpaired file with its path instead of skipping it. A sample is a `Sample` of numpy arrays:
rgb (H, W, 3) uint8 RGB; thermal (H, W) uint8 or uint16 (raw); label (H, W) uint8 class ids
(255 = ignore) for segmentation; mask (H, W) uint8 0..255 for saliency. With labels=False
(UUSOD's unlabeled sources) a loader never lists its label folder nor opens a label file: its
samples have none.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rgbt_models.data.sample import DatasetError, Sample

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def read_image(path: Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise DatasetError(f"{path}: cannot be read as an image")
    return image


def read_rgb(path: Path) -> np.ndarray:
    image = read_image(path, cv2.IMREAD_COLOR)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_gray(path: Path) -> np.ndarray:
    """One channel, keeping 16-bit depth; a 3-channel file (e.g. a thermal JPEG) is converted."""
    image = read_image(path)
    if image.ndim == 3:
        image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY)
    return image


def index_by_stem(folder: Path, extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> dict[str, Path]:
    """stem -> file for the images of a folder; two files with one stem is an error."""
    if not folder.is_dir():
        raise DatasetError(f"{folder}: folder not found")
    index: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in extensions:
            continue
        if path.stem in index:
            raise DatasetError(f"{path}: two files share the name {path.stem!r} ({index[path.stem].name})")
        index[path.stem] = path
    return index


def pair_by_stem(folders: dict[str, Path], names: list[str] | None = None) -> list[tuple[str, dict[str, Path]]]:
    """Entries present in every folder, by stem (all stems, or `names` from a split file).
    A stem missing from any folder raises DatasetError listing the missing paths."""
    indexes = {key: index_by_stem(folder) for key, folder in folders.items()}
    wanted = names if names is not None else sorted(set().union(*indexes.values()))
    missing = [f"{folders[key] / name}.* (missing)" for name in wanted for key, index in indexes.items()
               if name not in index]
    if missing:
        shown = "\n  ".join(missing[:10]) + (f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise DatasetError(f"unpaired files:\n  {shown}")
    return [(name, {key: indexes[key][name] for key in folders}) for name in wanted]


class PairedFolderDataset:
    """Base of the loaders: a list of (name, {role: path}) entries and a reader per role."""

    def __init__(self, entries: list[tuple[str, dict[str, Path]]]) -> None:
        if not entries:
            raise DatasetError("no samples found")
        self.entries = entries

    def __len__(self) -> int:
        return len(self.entries)

    def read(self, name: str, paths: dict[str, Path]) -> Sample:
        rgb = read_rgb(paths["rgb"])
        thermal = read_gray(paths["thermal"])
        label = read_gray(paths["label"]) if "label" in paths else None
        mask = read_gray(paths["mask"]) if "mask" in paths else None
        return Sample(name, rgb, thermal, label, mask)

    def __getitem__(self, index: int) -> Sample:
        name, paths = self.entries[index]
        sample = self.read(name, paths)
        # A thermal image of another size is brought onto the RGB one as the node does (resized, or
        # registered by data.homography); a label is scored on the RGB image's pixels, so must match.
        for key, image in (("label", sample.label), ("mask", sample.mask)):
            if image is not None and image.shape[:2] != sample.rgb.shape[:2]:
                raise DatasetError(f"{paths[key]}: size {image.shape[:2]} differs from "
                                   f"{paths['rgb']} {sample.rgb.shape[:2]}")
        return sample


def read_split(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"{path}: split file not found")
    return [Path(line.strip()).stem for line in path.read_text().splitlines() if line.strip()]


class MFNet(PairedFolderDataset):
    """MFNet: images/<name>.png with 4 channels (RGB + thermal), labels/<name>.png ids 0-8,
    split files <split>.txt (train, val, test, test_day, test_night)."""

    task = "semantic"
    classes = "mfnet"

    def __init__(self, root: str | Path, split: str = "train", labels: bool = True) -> None:
        root = Path(root)
        names = read_split(root / f"{split}.txt")
        folders = {"image": root / "images"} | ({"label": root / "labels"} if labels else {})
        super().__init__(pair_by_stem(folders, names))

    def read(self, name: str, paths: dict[str, Path]) -> Sample:
        image = read_image(paths["image"])
        if image.ndim != 3 or image.shape[2] != 4:
            channels = 1 if image.ndim == 2 else image.shape[2]
            raise DatasetError(f"{paths['image']}: MFNet images have 4 channels (RGB + thermal), found {channels}")
        rgb = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2RGB)
        label = read_gray(paths["label"]) if "label" in paths else None
        return Sample(name, rgb, np.ascontiguousarray(image[..., 3]), label)


class PST900(PairedFolderDataset):
    """PST900: <split>/{rgb,thermal,labels}/<name>.png; raw_thermal=True reads the 16-bit thermal_raw/."""

    task = "semantic"
    classes = "pst900"

    def __init__(self, root: str | Path, split: str = "train", raw_thermal: bool = False, labels: bool = True) -> None:
        base = Path(root) / split
        thermal = base / ("thermal_raw" if raw_thermal else "thermal")
        folders = {"rgb": base / "rgb", "thermal": thermal} | ({"label": base / "labels"} if labels else {})
        super().__init__(pair_by_stem(folders))


class FMB(PairedFolderDataset):
    """FMB: <split>/{Visible,Infrared,Label}/<name>.png, 255 = ignore."""

    task = "semantic"
    classes = "fmb"

    def __init__(self, root: str | Path, split: str = "train", labels: bool = True) -> None:
        base = Path(root) / split
        folders = {"rgb": base / "Visible", "thermal": base / "Infrared"}
        folders |= {"label": base / "Label"} if labels else {}
        super().__init__(pair_by_stem(folders))


class RGBTSaliency(PairedFolderDataset):
    """VT5000 (Train|Test/{RGB,T,GT}), VT1000 and VT821 ({RGB,T,GT}) with their mixed
    extensions (.jpg/.bmp/.png), paired by base name."""

    task = "saliency"

    def __init__(self, root: str | Path, split: str | None = None, labels: bool = True) -> None:
        base = Path(root) / split if split else Path(root)
        folders = {"rgb": base / "RGB", "thermal": base / "T"} | ({"mask": base / "GT"} if labels else {})
        super().__init__(pair_by_stem(folders))


class FolderDataset(PairedFolderDataset):
    """A user's own data: <root>/{rgb,thermal}/ plus labels/ (segmentation) or masks/ (saliency).
    A segmentation folder names its classes in <root>/classes.yaml (the class-list YAML format);
    without it the labels are taken to use the model's class list (and checked id by id).

    Splits: `split` names a sub-folder <root>/<split>/ of the same layout, or a file
    <root>/<split>.txt listing sample names of <root>; no split means every sample of <root>.
    A split that is neither is an error (never silently the whole folder). labels=False: rgb/
    and thermal/ alone (UUSOD's unlabeled folder), labels/ and masks/ not looked at."""

    def __init__(self, root: str | Path, split: str | None = None, labels: bool = True) -> None:
        root = Path(root)
        names = None
        if split:
            if (root / split / "rgb").is_dir():
                root = root / split
            elif (root / f"{split}.txt").is_file():
                names = read_split(root / f"{split}.txt")
            else:
                raise DatasetError(f"{root}: the folder data set has no split {split!r} (neither {root / split}/ "
                                   f"with rgb/ and thermal/ nor {root / split}.txt listing sample names)")
        self.classes = str(root / "classes.yaml") if (root / "classes.yaml").is_file() else None
        folders = {"rgb": root / "rgb", "thermal": root / "thermal"}
        if not labels:
            self.task = None
        elif (root / "labels").is_dir():
            folders["label"], self.task = root / "labels", "semantic"
        elif (root / "masks").is_dir():
            folders["mask"], self.task = root / "masks", "saliency"
        else:
            raise DatasetError(f"{root}: needs labels/ (segmentation) or masks/ (saliency) beside rgb/ and thermal/")
        super().__init__(pair_by_stem(folders, names))


class SyntheticDataset:
    """`count` deterministic synthetic scenes (seed = first_seed + index), see data.synthetic;
    each has both a semantic label and a saliency mask."""

    task = "both"
    classes = "synthetic"

    def __init__(self, count: int, first_seed: int = 0, height: int = 128, width: int = 160) -> None:
        self.count, self.first_seed, self.height, self.width = count, first_seed, height, width

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Sample:
        from rgbt_models.data.synthetic import make_scene

        if not 0 <= index < self.count:
            raise IndexError(index)
        scene = make_scene(self.first_seed + index, self.height, self.width)
        return Sample(f"synthetic_{self.first_seed + index:06d}", scene.rgb, scene.thermal_raw, scene.label,
                      scene.saliency)


TASK_OF_MODEL = {"sartm": "semantic", "samsod": "saliency"}


def check_task(dataset, model_kind: str, name: str) -> None:
    """Refuse a saliency data set for SARTM (or a segmentation one for SAMSOD) before a KeyError does."""
    wanted, has = TASK_OF_MODEL[model_kind], getattr(dataset, "task", None)
    if has not in (wanted, "both"):
        raise DatasetError(f"data set {name!r} is a {has} data set, but {model_kind.upper()} needs a {wanted} "
                           f"one ({'labels' if wanted == 'semantic' else 'saliency masks'})")


def classes_of(dataset):
    """The data set's class list (ClassList) or None when it does not name one."""
    from rgbt_models.data.classes import class_list

    spec = getattr(dataset, "classes", None)
    return class_list(spec) if spec else None


DATASETS = {"mfnet": MFNet, "pst900": PST900, "fmb": FMB, "vt5000": RGBTSaliency, "vt1000": RGBTSaliency,
            "vt821": RGBTSaliency, "folder": FolderDataset}
# The split a layout is opened with when none is given (VT1000, VT821 and a folder have none).
DEFAULT_SPLITS = {"mfnet": "train", "pst900": "train", "fmb": "train", "vt5000": "Train"}


def open_dataset(name: str, root: str | Path | None = None, split: str | None = None, labels: bool = True,
                 **kwargs):
    """A loader by data set name; 'synthetic' needs no root (kwargs: count, first_seed, height,
    width); 'bag' reads a rosbag2 bag: root is the bag, or with a split the folder holding the
    bag named split (kwargs: rgb_topic, thermal_topic, label_topic, mask_topic, slop). labels=False:
    the layout's RGB and thermal files only (see the module docstring)."""
    if name == "synthetic":
        return SyntheticDataset(**kwargs)
    if name not in (*DATASETS, "bag"):
        raise DatasetError(f"unknown data set {name!r}; choose one of {sorted([*DATASETS, 'bag', 'synthetic'])}")
    if root is None:
        raise DatasetError(f"data set {name!r} needs a root folder ({name}:ROOT[:SPLIT])")
    if name == "bag":
        from rgbt_models.data.rosbag import BagDataset

        return BagDataset(Path(root) / split if split else Path(root), **kwargs)
    return DATASETS[name](root, split or DEFAULT_SPLITS.get(name), labels=labels, **kwargs)


def parse_spec(spec: str) -> tuple[str, list[str]]:
    """NAME[:FIELD[:FIELD...]] -> (NAME, [FIELD, ...]): how a data set argument is read,
    rgbt-eval's --dataset NAME[:ROOT[:SPLIT]] and UUSOD's sources and evaluation sets (whose bag:
    and synthetic: take fields of their own)."""
    name, _, rest = spec.partition(":")
    return name, rest.split(":") if rest else []


def open_spec(spec: str, labels: bool = True, synthetic_count: int = 32,
              bag_options: dict | None = None) -> tuple[str, object]:
    """(label for tables, loader) for NAME[:ROOT[:SPLIT]]; 'synthetic' (no root) is the built-in
    synthetic scenes, `synthetic_count` of them from seed 2,000,000 (apart from training's);
    'bag' opens with `bag_options` (its topics, as open_dataset takes them)."""
    name, fields = parse_spec(spec)
    if name == "synthetic":
        return f"synthetic[{synthetic_count}]", open_dataset(name, count=synthetic_count, first_seed=2_000_000)
    if len(fields) > 2:
        raise DatasetError(f"{spec!r}: expected NAME[:ROOT[:SPLIT]]")
    root, split = [*fields, "", ""][:2]
    options = (bag_options or {}) if name == "bag" else {}
    return name + (f" ({split})" if split else ""), open_dataset(name, root or None, split or None, labels,
                                                                 **options)


def sample_ids(dataset) -> list[str] | None:
    """What identifies each sample of a data set without reading it (a file: its resolved
    path; a bag frame: bag and stamp), where the data set knows; for telling splits apart."""
    if isinstance(dataset, PairedFolderDataset):
        return [str(next(iter(paths.values())).resolve()) for _, paths in dataset.entries]
    ids = getattr(dataset, "sample_ids", None)
    return list(ids) if ids is not None else None

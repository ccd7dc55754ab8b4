"""Class lists of the semantic models: presets for the standard RGB-T data sets and user YAML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rgbt_models.config import ConfigError, load_yaml


@dataclass(frozen=True)
class ClassList:
    """Class ids (0..C-1, in order), names and overlay colours; `ignore_index` marks unlabelled pixels."""

    name: str
    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    ignore_index: int = 255

    def __post_init__(self) -> None:
        if not self.names:
            raise ConfigError(f"class list {self.name!r} is empty")
        if len(self.colors) != len(self.names):
            raise ConfigError(f"class list {self.name!r}: {len(self.names)} names but {len(self.colors)} colours")
        if len(set(self.names)) != len(self.names):
            raise ConfigError(f"class list {self.name!r}: duplicated class names")
        if 0 <= self.ignore_index < len(self.names):
            raise ConfigError(f"class list {self.name!r}: ignore_index {self.ignore_index} is a class id")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def to_dict(self) -> dict:
        return {"name": self.name, "classes": [{"id": i, "name": n, "color": list(c)}
                                               for i, (n, c) in enumerate(zip(self.names, self.colors))],
                "ignore_index": self.ignore_index}

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> ClassList:
        try:
            rows = sorted(values["classes"], key=lambda row: int(row["id"]))
            ids = [int(row["id"]) for row in rows]
            if ids != list(range(len(ids))):
                raise ConfigError(f"{source}: class ids must be 0..{len(ids) - 1} without gaps, got {ids}")
            colors = tuple(tuple(int(c) for c in row["color"]) for row in rows)
            if any(len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in colors):
                raise ConfigError(f"{source}: every colour must be three integers 0..255")
            return cls(str(values.get("name", "custom")), tuple(str(row["name"]) for row in rows), colors,
                       int(values.get("ignore_index", 255)))
        except (KeyError, TypeError) as error:
            raise ConfigError(f"{source}: a class list needs classes: [{{id, name, color}}, ...] ({error})") from error


# Each preset follows the data set's own definition of its label ids (where the authors' code of a
# method differs, the data set wins; the README's deviations table lists those cases):
# - mfnet: the MFNet data set (Ha et al., IROS 2017; its label README and every MFNet results
#   table): 0 unlabeled, 1 car, 2 person, 3 bike, 4 curve, 5 car_stop, 6 guardrail, 7 color_cone, 8 bump.
# - pst900: ShreyasSkandanS/pst900_thermal_rgb -- the results tables of its README (and the
#   SARTM paper's PST900 table) list background, fire extinguisher, backpack, hand drill,
#   survivor in id order, and toolkit/utilities.py's colormap gives ids 0..4 the colours below
#   (its BGR entries read as RGB: black, red, green, blue, white). The SARTM authors' code
#   names ids 1 and 3 the other way round (1 hand_drill, 3 fire_extinguisher).
# - fmb: the FMB benchmark of SegMiF (Liu et al., ICCV 2023): 0 unlabeled/background, then its
#   14 classes in the paper's order road, sidewalk, building, traffic lamp, traffic sign,
#   vegetation, sky, person, car, truck, bus, motorcycle, bicycle, pole; 255 = ignore.
# - synthetic: this project's synthetic scenes (rgbt_models.data.synthetic).
_PRESETS = {
    "mfnet": ("unlabeled", "car", "person", "bike", "curve", "car_stop", "guardrail", "color_cone", "bump"),
    "pst900": ("background", "fire_extinguisher", "backpack", "hand_drill", "survivor"),
    "fmb": ("background", "road", "sidewalk", "building", "lamp", "sign", "vegetation", "sky", "person", "car",
            "truck", "bus", "motorcycle", "bicycle", "pole"),
    "synthetic": ("background", "sky", "person", "vehicle"),
}
_PALETTE = ((0, 0, 0), (64, 0, 128), (64, 64, 0), (0, 128, 192), (0, 0, 192), (128, 128, 0), (64, 64, 128),
            (192, 128, 128), (192, 64, 0), (70, 130, 180), (220, 20, 60), (0, 0, 142), (107, 142, 35),
            (250, 170, 30), (153, 153, 153))
_PRESET_COLORS = {
    "synthetic": ((0, 0, 0), (70, 130, 180), (220, 20, 60), (0, 0, 142)),
    "pst900": ((0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)),  # the PST900 toolkit's
}
PRESETS = tuple(_PRESETS)


def class_list(spec: str | dict) -> ClassList:
    """A preset name (mfnet, pst900, fmb, synthetic), a path to a YAML file, or an inline mapping."""
    if isinstance(spec, dict):
        return ClassList.from_dict(spec)
    if spec in _PRESETS:
        names = _PRESETS[spec]
        colors = _PRESET_COLORS.get(spec, _PALETTE[: len(names)])
        return ClassList(spec, names, colors)
    path = Path(spec)
    if path.suffix in (".yaml", ".yml"):
        return ClassList.from_dict(load_yaml(path), source=str(path))
    raise ConfigError(f"unknown class list {spec!r}: use one of {PRESETS} or a YAML file")


class ClassListMismatch(ConfigError):
    """A model and a data set whose class lists differ, with no mapping to reconcile them."""


def describe(classes: ClassList) -> str:
    return f"{classes.name} ({classes.num_classes}): " + ", ".join(f"{i} {n}" for i, n in enumerate(classes.names))


def label_lookup(model: ClassList, data: ClassList | None, mapping: str | dict | None = None,
                 what: str = "data set") -> np.ndarray | None:
    """Compare a model's class list with a data set's; return the label lookup table to apply.

    - Same names in the same order: None (labels are used as they are).
    - A `mapping` (YAML path or dict, see `read_class_mapping`): a 256-entry uint8 table that
      turns the data set's ids into the model's ids (ignore_index for 'ignore' and unlisted ids).
    - Otherwise ClassListMismatch, showing both lists.
    `data` None means the data set does not say (a bag's label topic, a folder without
    classes.yaml): the labels are taken to use the model's list, which `check_label_ids` enforces."""
    if mapping is not None:
        if data is None:
            raise ConfigError(f"a class mapping needs the {what}'s class list (give it with its classes option)")
        return read_class_mapping(mapping, data, model)
    if data is None or data.names == model.names:
        return None
    raise ClassListMismatch(
        f"the model's class list and the {what}'s differ:\n  model:    {describe(model)}\n  {what}: {describe(data)}\n"
        "Give a class mapping (YAML 'mapping: {data-set class: model class | ignore}', see the README's "
        "evaluation section) to compare them.")


def read_class_mapping(spec: str | dict, data: ClassList, model: ClassList) -> np.ndarray:
    """YAML (or dict) `mapping: {data-set class (id or name): model class (id or name) | ignore}`.
    Data-set ids not listed map to the model's ignore index; so does the data set's own ignore."""
    source = spec if isinstance(spec, str) else "class mapping"
    content = load_yaml(spec) if isinstance(spec, str | Path) else spec
    rows = content.get("mapping") if isinstance(content, dict) else None
    if not isinstance(rows, dict) or not rows:
        raise ConfigError(f"{source}: expected 'mapping: {{data-set class: model class | ignore}}'")

    def resolve(value, classes: ClassList, role: str) -> int:
        if isinstance(value, int) and 0 <= value < classes.num_classes:
            return value
        if isinstance(value, str) and value in classes.names:
            return classes.names.index(value)
        raise ConfigError(f"{source}: {value!r} is not a {role} class; the {role} has {describe(classes)}")

    lut = np.full(256, model.ignore_index, np.uint8)
    for key, value in rows.items():
        data_id = resolve(key, data, "data set")
        lut[data_id] = model.ignore_index if value in ("ignore", None) else resolve(value, model, "model")
    return lut


def check_label_ids(label: np.ndarray, classes: ClassList, source: str) -> None:
    """A label with ids the model does not have cannot be scored: say which and show the list."""
    ids = np.unique(label)
    unknown = [int(i) for i in ids if i >= classes.num_classes and i != classes.ignore_index]
    if unknown:
        raise ClassListMismatch(f"{source}: label ids {unknown} are not classes of the model ({describe(classes)}); "
                                "give the labels' class list and a class mapping")

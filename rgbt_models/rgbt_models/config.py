"""Reading model / training YAML files with errors that name the file and the problem."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A configuration file or value that cannot be used."""


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML ({error})") from error
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, found {type(content).__name__}")
    return content


STRIDE = 32  # the SAM 2 encoder's deepest stride: model input sides must be multiples of it


def nearest_multiple(value, stride: int = STRIDE) -> int:
    try:
        return max(stride, round(float(value) / stride) * stride)
    except (TypeError, ValueError):
        return stride


def check_input_size(height: int, width: int, source: str) -> None:
    """ConfigError naming `source` and the nearest valid values when a side is not a multiple of 32."""
    bad = {name: value for name, value in (("height", height), ("width", width))
           if not isinstance(value, int) or value < STRIDE or value % STRIDE}
    if bad:
        hints = ", ".join(f"{name} {value!r} -> use {nearest_multiple(value)}" for name, value in bad.items())
        raise ConfigError(f"{source}: model input sides must be multiples of {STRIDE} ({hints})")


def check_data(data, path: str | Path) -> None:
    """ConfigError naming `path` where a config's data section cannot be used: an input size that is
    not a multiple of 32, or a data.homography that cannot (a missing or bad params file, not 9
    numbers, singular). At start, before any training."""
    from rgbt_models.data.registration import homography_setting

    check_input_size(data.height, data.width, f"{path}: data.height/width")
    try:
        homography_setting(data.homography, "data.homography")
    except ValueError as error:
        raise ConfigError(f"{path}: {error}") from error


def sections_of(cls: type) -> dict[str, type]:
    """The fields of config dataclass `cls` that are config dataclasses themselves (its sections)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)
            if isinstance(hints.get(f.name), type) and dataclasses.is_dataclass(hints[f.name])}


def from_mapping(cls: type, values, section: str, top: bool = False):
    """How a mapping becomes a config dataclass (a YAML file, a section of one, the config
    a checkpoint stores, or a mapping given in code): unknown keys refused naming `section` and the
    allowed ones; each section field built the same way from its sub-mapping (or through its
    class's `from_value`, e.g. a preset name); values checked by the class's __post_init__, the
    error named by its section. `top`: `section` is a file, whose sections are named alone."""
    if isinstance(values, cls):
        return values
    if values is None:
        values = {}
    if hasattr(cls, "from_value"):
        return cls.from_value(values)
    if not isinstance(values, dict):
        raise ConfigError(f"{section} must be a mapping, got {values!r}")
    check_keys(section, values, cls.__dataclass_fields__)
    sections = sections_of(cls)
    built = {name: from_mapping(sections[name], value, name if top else f"{section}.{name}")
             if name in sections else value for name, value in values.items()}
    try:
        return cls(**built)
    except (TypeError, ValueError) as error:  # named by its section unless it names itself
        text = str(error)
        raise ConfigError(text if top or text.startswith(section) else f"{section}: {text}") from error


def build_sections(config) -> None:
    """A config dataclass made in code with some sections given as mappings: those built (and
    checked) as `from_mapping` builds them from a file."""
    for name, kind in sections_of(type(config)).items():
        value = getattr(config, name)
        if not isinstance(value, kind):
            setattr(config, name, from_mapping(kind, value, name))


def read_config(path: str | Path, cls: type, defaults: dict | None = None):
    """The reader of the project's YAML configs: a dataclass `cls` from the file's top-level
    keys (`from_mapping`), `defaults` for keys the file leaves out. Any bad key or value is a
    ConfigError naming the file."""
    content = {**(defaults or {}), **load_yaml(path)}
    try:
        return from_mapping(cls, content, Path(path).name, top=True)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{path}: {error}") from error


def check_keys(section: str, values: dict, allowed: set[str] | tuple[str, ...]) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown option(s) in {section}: {unknown}; allowed: {sorted(allowed)}")


class ConfigMapping:
    """Mixin of the config dataclasses: `from_dict` (`from_mapping`, errors naming SECTION),
    `to_dict` (every field, sections as mappings: what a checkpoint stores), and `from_yaml`,
    which reads a model config file's `model:` section (or the whole file), naming the file."""

    SECTION = "config"

    @classmethod
    def from_dict(cls, values: dict | None):
        return from_mapping(cls, values, cls.SECTION)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_yaml(cls, path: str | Path):
        content = load_yaml(path)
        try:
            return cls.from_dict(content.get("model", content))
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{path}: {error}") from error

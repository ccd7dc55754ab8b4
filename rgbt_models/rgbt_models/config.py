"""Reading model / training YAML files with errors that name the file and the problem."""

from __future__ import annotations

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


def read_sections(content: dict, sections: dict[str, type]) -> dict[str, object]:
    """Each named sub-mapping of a config (absent: empty) checked against its dataclass's fields
    and built: {"data": DataConfig(...), "train": OptimConfig(...)}. `content` is not changed."""
    built = {}
    for name, kind in sections.items():
        values = dict(content.get(name) or {})
        check_keys(name, values, kind.__dataclass_fields__)
        built[name] = kind(**values)
    return built


def check_keys(section: str, values: dict, allowed: set[str] | tuple[str, ...]) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown option(s) in {section}: {unknown}; allowed: {sorted(allowed)}")


class ModelConfigFile:
    """Mixin for model config dataclasses: `from_yaml` reads the file's `model:` section (or the
    whole file) through the class's own `from_dict`, naming the file in any error."""

    @classmethod
    def from_yaml(cls, path: str | Path):
        content = load_yaml(path)
        try:
            return cls.from_dict(content.get("model", content))
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{path}: {error}") from error

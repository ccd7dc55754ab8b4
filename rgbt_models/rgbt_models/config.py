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
        values = content.get(name) or {}
        if isinstance(values, kind):  # already built (a config made in code)
            built[name] = values
            continue
        if not isinstance(values, dict):
            raise ValueError(f"{name} must be a mapping, got {values!r}")
        check_keys(name, values, kind.__dataclass_fields__)
        try:
            built[name] = kind(**values)
        except (TypeError, ValueError) as error:  # named by its section unless it names itself
            raise ValueError(str(error) if str(error).startswith(f"{name}.") else f"{name}: {error}") from error
    return built


def read_config(path: str | Path, cls: type, sections: dict[str, type], defaults: dict | None = None):
    """The one reader of the project's YAML configs: a dataclass `cls` from the file's top-level
    keys (unknown ones refused), its typed `sections` built from their sub-mappings, `defaults`
    for keys the file leaves out. Any bad key or value is a ConfigError naming the file."""
    content = {**(defaults or {}), **load_yaml(path)}
    try:
        check_keys(f"{Path(path).name}", content, cls.__dataclass_fields__)
        built = read_sections(content, sections)
        return cls(**{k: v for k, v in content.items() if k not in built}, **built)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{path}: {error}") from error


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

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

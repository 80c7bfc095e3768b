"""Read a YAML or JSON file into a validated :class:`RunConfig`; errors name the file and the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tunesmith.config.schema import RunConfig
from tunesmith.errors import ConfigError

DATA_PATHS = ("train", "valid", "test")


def load_config(path: str | Path) -> RunConfig:
    """Load and validate a run config.

    Relative data paths are taken relative to the config file's own folder (so a config travels with its data);
    a relative runs folder is taken relative to the current directory, where the user runs the command.

    Raises:
        ConfigError: the file is missing, unreadable, or a key is unknown, mistyped or out of range.
    """
    path = Path(path)
    raw = _read_mapping(path)
    config = config_from_dict(raw, source=str(path))
    return _resolve_paths(config, path.parent)


def config_from_dict(raw: dict[str, Any], source: str = "<config>") -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, source)) from None


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(json.loads(config.model_dump_json()), sort_keys=False)


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    text = path.read_text(encoding="utf-8")
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(raw).__name__}")
    return raw


def _describe(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid config"]
    for problem in err.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = "unknown key" if problem["type"] == "extra_forbidden" else problem["msg"]
        given = problem.get("input")
        shown = (
            "" if problem["type"] in ("missing", "extra_forbidden") or isinstance(given, dict) else f" (got {given!r})"
        )
        lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)


def _resolve_paths(config: RunConfig, base: Path) -> RunConfig:
    for field in DATA_PATHS:
        value = getattr(config.data, field)
        if value is not None and not value.is_absolute():
            setattr(config.data, field, (base / value).resolve())
    config.output.runs_dir = config.output.runs_dir.expanduser().resolve()
    return config

"""Read a YAML or JSON file into a validated :class:`RunConfig`; errors name the file and the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tunesmith.config.schema import NOT_FOR_TASK, NotForTaskError, RunConfig
from tunesmith.errors import ConfigError
from tunesmith.textfiles import read_text

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
    return resolve_paths(config, path.parent)


def config_from_dict(raw: dict[str, Any], source: str = "<config>", *, saved: bool = False) -> RunConfig:
    """Validate ``raw``; ``saved``: it is a run folder's config.yaml, whose settings that do not apply to its task
    (written by tunesmith versions that saved every section) are dropped instead of rejected."""
    if saved:
        raw = drop_not_for_task(raw)
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, source)) from None


def section_from_dict(section: type[BaseModel], raw: dict[str, Any], source: str) -> Any:
    """One section validated on its own (command-line options that mirror it), with the config's error format."""
    try:
        return section.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, source).replace("invalid config", "invalid options")) from None


def dump_config(config: RunConfig) -> str:
    """The config as YAML, every default written out except the settings that do not apply to its task (nor, for
    a full fine-tune, the LoRA section)."""
    raw = drop_not_for_task(json.loads(config.model_dump_json()))
    if config.training.method == "full":
        raw.pop("lora", None)
    return yaml.safe_dump(raw, sort_keys=False)


def drop_not_for_task(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``raw`` without the keys NOT_FOR_TASK lists for its task (sections emptied by it stay, empty)."""
    task = raw.get("task", "causal_lm")
    keys = NOT_FOR_TASK.get(task, ()) if isinstance(task, str) else ()
    kept = dict(raw)
    for key in keys:
        *sections, name = key.split(".")
        parent = kept
        for section in sections:
            if not isinstance(parent.get(section), dict):
                break
            parent[section] = dict(parent[section])  # copy on the way down: ``raw`` stays as it was
            parent = parent[section]
        else:
            parent.pop(name, None)
    return kept


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    text = read_text(path, error=ConfigError, fix="save the config file as UTF-8")  # a UTF-8 BOM is skipped
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, RecursionError, yaml.YAMLError) as err:  # ValueError: also YAML dates like 2024-13-01
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(raw).__name__}")
    return raw


def _describe(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid config"]
    for problem in err.errors():
        error = problem.get("ctx", {}).get("error")
        if isinstance(error, NotForTaskError):  # one line per key, as if each were a field's own error
            lines += [f"  {key}: {message}" for key, message in error.problems]
            continue
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        elif problem["type"] == "value_error" and error is not None:
            message = str(error)  # the validator's own words, without pydantic's "Value error, " in front
        else:
            message = problem["msg"]
        given = problem.get("input")
        shown = (
            "" if problem["type"] in ("missing", "extra_forbidden") or isinstance(given, dict) else f" (got {given!r})"
        )
        lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)


def resolve_paths(config: RunConfig, base: Path) -> RunConfig:
    """The config's relative file paths (data, documents) taken relative to ``base``, the runs folder to the
    current directory."""
    for field in DATA_PATHS:
        value = getattr(config.data, field)
        if value is not None and not value.is_absolute():
            setattr(config.data, field, (base / value).resolve())
    for section, field in ((config.retrieval, "documents"), (config.documents, "files")):
        paths = getattr(section, field)
        setattr(section, field, [path if path.is_absolute() else (base / path).resolve() for path in paths])
    config.output.runs_dir = config.output.runs_dir.expanduser().resolve()
    return config

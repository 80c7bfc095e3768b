"""A finished run, read-only: what export and serve need from its folder (task, base model, adapter, settings)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tunesmith.errors import ExportError, RunError, TunesmithError
from tunesmith.runs import RunFolder

GENERATIVE_TASKS = ("causal_lm", "summarization")  # a LoRA adapter on a text generation model


@dataclass(frozen=True)
class FinishedRun:
    path: Path
    name: str
    task: str
    config: dict[str, Any]
    plan: dict[str, Any]
    base_dir: Path | None
    adapter_dir: Path

    @property
    def system_prompt(self) -> str | None:
        return (self.config.get("model") or {}).get("system_prompt")

    @property
    def max_new_tokens(self) -> int | None:
        return (self.plan.get("choices", {}).get("max_new_tokens") or {}).get("value")


def open_finished_run(run_path: Path) -> FinishedRun:
    """Read a run folder without changing it.

    Raises:
        RunError: not a run folder, the run did not finish, or its adapter is missing.
    """
    run = RunFolder.open(run_path)
    record = run.read_json("run.json")
    if record.get("status") != "done":
        raise RunError(f"{run.path}: the run has status '{record.get('status')}', not 'done'; finish it first")
    config = yaml.safe_load((run.path / "config.yaml").read_text()) or {}
    plan = run.read_json("plan.json") if (run.path / "plan.json").is_file() else {}
    task = config.get("task", "causal_lm")
    if task in GENERATIVE_TASKS and not (run.adapter_dir / "adapter_config.json").is_file():
        raise RunError(f"{run.path}: the run has no adapter (adapter/adapter_config.json is missing)")
    return FinishedRun(
        path=run.path,
        name=config.get("name") or run.path.name,
        task=task,
        config=config,
        plan=plan,
        base_dir=_base_dir(record, config) if task in GENERATIVE_TASKS else None,
        adapter_dir=run.adapter_dir,
    )


def _base_dir(record: dict, config: dict) -> Path:
    """The model folder the run's adapter was trained on: the base model, or for a run that continued another,
    its parent's lineage merged. Taken from run.json when that folder is still there, else rebuilt from the config.
    """
    parent = record.get("parent") or {}
    recorded = parent.get("model_path") if parent.get("kind") == "run" else parent.get("path")
    if recorded and (Path(recorded) / "config.json").is_file():
        return Path(recorded)
    from tunesmith.config import config_from_dict
    from tunesmith.continual import model_dir_for

    try:
        return model_dir_for(config_from_dict(config, "config.yaml"))
    except TunesmithError as err:
        raise ExportError(f"cannot find the model the run was trained on: {err}") from err

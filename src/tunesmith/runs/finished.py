"""A finished run, read-only: what export and serve need from its folder (base model, adapter, settings).

What a run trained is read off its folder, not off its task's name: ``model/`` holding a sentence-transformers
folder (``modules.json``) is a sentence model, ready as it is; ``model/`` holding a transformers folder is a
text-generation model fine-tuned in full, also ready; otherwise ``adapter/`` is a LoRA adapter on a
text-generation base model, which export and serve merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tunesmith.errors import ExportError, RunError, TunesmithError
from tunesmith.runs.folder import RunFolder
from tunesmith.runs.lineage import model_dir_from_parent


@dataclass(frozen=True)
class FinishedRun:
    path: Path
    name: str
    task: str
    config: dict[str, Any]
    plan: dict[str, Any]
    base_dir: Path | None
    trained_dir: Path  # the LoRA adapter (adapter/), or the whole model of a full fine-tune (model/)
    sentence_model: Path | None = None  # the trained sentence-transformers folder (embedding runs)
    record: dict[str, Any] = field(default_factory=dict)  # run.json

    @property
    def system_prompt(self) -> str | None:
        return (self.config.get("model") or {}).get("system_prompt")

    @property
    def trust_remote_code(self) -> bool:
        """Whether the run's config let its model folder's own code run (``model.trust_remote_code``)."""
        return bool((self.config.get("model") or {}).get("trust_remote_code"))

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
    sentence_model = run.model_dir
    is_sentence_model = (sentence_model / "modules.json").is_file()
    trained = run.trained_dir
    if not is_sentence_model and not (trained / "adapter_config.json").is_file() and trained != run.model_dir:
        raise RunError(
            f"{run.path}: the run has no trained model (neither adapter/adapter_config.json nor model/config.json)"
        )
    return FinishedRun(
        path=run.path,
        name=config.get("name") or run.path.name,
        task=config.get("task", "causal_lm"),
        config=config,
        plan=plan,
        base_dir=None if is_sentence_model else _base_dir(record, config),
        trained_dir=trained,
        sentence_model=sentence_model if is_sentence_model else None,
        record=record,
    )


def _base_dir(record: dict, config: dict) -> Path:
    """The model folder the run's adapter was trained on: the base model, or for a run that continued another,
    its parent's lineage merged. Taken from run.json when that folder is still there, else rebuilt from run.json's
    parent record (a run.json without one: the config's model).
    """
    parent = record.get("parent") or _parent_from_config(config)
    recorded = parent.get("model_path") if parent.get("kind") == "run" else parent.get("path")
    if recorded and (Path(recorded) / "config.json").is_file():
        return Path(recorded)
    try:
        return model_dir_from_parent(parent)
    except TunesmithError as err:
        raise ExportError(f"cannot find the model the run was trained on: {err}") from err


def _parent_from_config(config: dict) -> dict:
    from tunesmith.config import config_from_dict

    try:
        return {"kind": "base_model", "name": config_from_dict(config, "config.yaml").model.name}
    except TunesmithError as err:
        raise ExportError(f"cannot find the model the run was trained on: {err}") from err

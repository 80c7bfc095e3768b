"""Run lineage for continual learning: a run's ancestors, the model a child starts from (every ancestor's
adapter merged, cached once under ``$TUNESMITH_HOME/merged``), and retention of earlier stages."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tunesmith.errors import RunError
from tunesmith.runs.folder import RunFolder


def open_parent(path: str | Path) -> RunFolder:
    """The finished run a new run continues from.

    Raises:
        RunError: the folder is not a run, or the run did not finish.
    """
    run = RunFolder.open(Path(path))
    record = run.read_json("run.json")
    if record.get("status") != "done":
        raise RunError(f"{run.path}: continue_from needs a finished run (status {record.get('status')})")
    return run


def ancestors(run: RunFolder) -> list[RunFolder]:
    """The runs ``run`` descends from, nearest first (its parent, then the parent's parent, ...)."""
    found, seen = [], {run.path.resolve()}
    parent = run.read_json("run.json").get("parent", {})
    while parent.get("kind") == "run":
        folder = RunFolder.open(Path(parent["path"]))
        if folder.path.resolve() in seen:
            raise RunError(f"{folder.path}: the lineage loops back on itself")
        seen.add(folder.path.resolve())
        found.append(folder)
        parent = folder.read_json("run.json").get("parent", {})
    return found


def root_model(run: RunFolder) -> str:
    """The base model name at the root of ``run``'s lineage."""
    chain = [run, *ancestors(run)]
    return chain[-1].read_json("run.json")["parent"]["name"]


def merged_model_dir(run: RunFolder, cache_dir: Path) -> Path:
    """A model folder holding ``run``'s base with every adapter of its lineage merged, built once and cached; for a
    run that fine-tuned every weight, its own ``model/`` folder (nothing to merge).

    The cache key is a hash of the adapters' bytes along the chain, so a changed run never reuses stale weights.
    """
    from tunesmith.models import resolve_model
    from tunesmith.models.merge import merge_adapter

    if run.trained_dir == run.model_dir:
        return run.model_dir
    parent = run.read_json("run.json")["parent"]
    base = (
        resolve_model(parent["name"])
        if parent["kind"] != "run"
        else merged_model_dir(RunFolder.open(Path(parent["path"])), cache_dir)
    )
    target = Path(cache_dir) / f"{run.path.name}-{_fingerprint(base, run.adapter_dir)}"
    if not (target / "config.json").is_file():
        try:
            merge_adapter(base, run.adapter_dir, target, run.trust_remote_code)
        except OSError:  # FileExistsError, or a rename onto it: another process (a child run, export) built it
            if not (target / "config.json").is_file():
                raise
    return target


def model_dir_from_parent(parent: dict) -> Path:
    """The model folder a run was trained on, rebuilt from its run.json ``parent`` record: the base model
    (resolved again by name), or for a run that continued another, that run's lineage merged (the cache under
    ``$TUNESMITH_HOME/merged``, built again if it is gone)."""
    from tunesmith.models import home_dir, resolve_model

    if parent.get("kind") == "run":
        return merged_model_dir(RunFolder.open(Path(parent["path"])), home_dir() / "merged")
    return resolve_model(parent["name"])


def retention(before: float | None, after: float | None) -> float | None:
    """Share of an earlier stage's score that is still there: after / before (None when undefined)."""
    if before is None or after is None or before <= 0:
        return None
    return round(after / before, 4)


def _fingerprint(base: Path, adapter: Path) -> str:
    digest = hashlib.sha256(str(Path(base).name).encode())
    for file in sorted(Path(adapter).rglob("*")):
        if file.is_file():
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]

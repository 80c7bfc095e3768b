"""The runs folder as a registry: every run with its parent, a tree of lineages, the *current* run (what
``serve`` and ``export`` use; switched atomically by ``rollback``), and pruning that never breaks a lineage."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tunesmith.atomic import write_json
from tunesmith.errors import RunError
from tunesmith.metrics.results import primary, read_metrics, reference_label
from tunesmith.runs.status import effective_status, stop_reason

CURRENT_FILE = "current.json"
KEY_METRICS = ("token_f1", "exact_match", "fact_recall")  # also listed for the tasks that generate answers
ANSWER_TASKS = ("causal_lm", "summarization")


@dataclass
class RunInfo:
    name: str
    path: Path
    status: str  # as it stands now (runs.folder.effective_status): a killed run is "interrupted", not "running"
    parent: dict
    metrics: dict = field(default_factory=dict)  # the primary metric first, then KEY_METRICS for answers
    started_at: str = ""
    primary: str = ""  # the primary metric's name ("" for an unscored run)
    reason: str = ""  # why and where a failed or interrupted run stopped

    @property
    def parent_path(self) -> Path | None:
        return Path(self.parent["path"]).resolve() if self.parent.get("kind") == "run" else None


def scan(runs_dir: Path) -> list[RunInfo]:
    """Every run folder directly under ``runs_dir``, oldest first."""
    runs = []
    for folder in sorted(Path(runs_dir).glob("*/run.json")):
        record = json.loads(folder.read_text())
        metric, scores = _key_metrics(folder.parent)
        status = effective_status(record)
        runs.append(
            RunInfo(
                name=folder.parent.name,
                path=folder.parent.resolve(),
                status=status,
                reason=stop_reason(record, status),
                parent=record.get("parent", {}),
                metrics=scores,
                started_at=record.get("started_at", ""),
                primary=metric,
            )
        )
    return sorted(runs, key=lambda run: (run.started_at, run.name))


def _key_metrics(run_path: Path) -> tuple[str, dict]:
    """The primary metric's name and the tuned model's ``{metric: value}``: the primary metric, then for the
    tasks that generate answers the other KEY_METRICS."""
    if not (run_path / "metrics.json").is_file():
        return "", {}
    metrics = read_metrics(run_path)
    name, _ = primary(metrics)
    label = reference_label(metrics)
    overall = metrics[label]["overall"] if label else {}
    wanted = (name, *KEY_METRICS) if metrics.get("task") in ANSWER_TASKS else (name,)
    return name, {metric: overall.get(metric) for metric in dict.fromkeys(wanted) if metric in overall}


def children(runs: list[RunInfo]) -> dict[Path | None, list[RunInfo]]:
    """Runs by parent run path (``None``: runs that start from a base model)."""
    tree: dict[Path | None, list[RunInfo]] = {}
    for run in runs:
        tree.setdefault(run.parent_path, []).append(run)
    return tree


def descendants(runs: list[RunInfo], root: Path) -> list[RunInfo]:
    tree, found, stack = children(runs), [], [Path(root).resolve()]
    while stack:
        for child in tree.get(stack.pop(), []):
            found.append(child)
            stack.append(child.path)
    return found


def current_run(runs_dir: Path) -> Path | None:
    pointer = Path(runs_dir) / CURRENT_FILE
    if not pointer.is_file():
        return None
    return (Path(runs_dir) / json.loads(pointer.read_text())["run"]).resolve()


def set_current(runs_dir: Path, run_path: Path) -> None:
    """Point *current* at a finished run (one atomic file replace: readers see the old or the new, never half)."""
    run_path = Path(run_path).resolve()
    record = json.loads((run_path / "run.json").read_text()) if (run_path / "run.json").is_file() else {}
    if record.get("status") != "done":
        raise RunError(f"{run_path}: only a finished run can be current (status {record.get('status', 'unknown')})")
    if run_path.parent != Path(runs_dir).resolve():
        raise RunError(f"{run_path}: not a run of {runs_dir}")
    previous = current_run(runs_dir)
    write_json(
        Path(runs_dir) / CURRENT_FILE,
        {
            "run": run_path.name,
            "switched_at": datetime.now().isoformat(timespec="seconds"),
            "previous": previous.name if previous else None,
        },
    )


def resolve_run(reference: str | Path, runs_dir: Path) -> Path:
    """A run folder from a path, a run name in ``runs_dir``, or ``current``."""
    if str(reference) == "current":
        found = current_run(runs_dir)
        if found is None:
            raise RunError(f"{runs_dir}: no current run yet (finish a run, or `tunesmith rollback RUN`)")
        return found
    for candidate in (Path(reference), Path(runs_dir) / str(reference)):
        if (candidate / "run.json").is_file():
            return candidate.resolve()
    raise RunError(f"{reference}: no such run (looked for a folder, and for a run of that name in {runs_dir})")


def prune(runs_dir: Path, targets: list[Path], checkpoints_only: bool = False) -> list[Path]:
    """Delete the targets' checkpoints (or whole folders); refuse if a kept run descends from a target, or a
    target is current. Returns what was deleted."""
    runs = scan(runs_dir)
    targets = [Path(target).resolve() for target in targets]
    if not checkpoints_only:
        doomed = set(targets)
        for target in targets:
            kept = [run for run in descendants(runs, target) if run.path not in doomed]
            if kept:
                names = ", ".join(run.name for run in kept)
                raise RunError(f"{target.name}: refusing to delete it: {names} descend from it (prune them too)")
        current = current_run(runs_dir)
        if current in doomed:
            raise RunError(f"{current.name}: refusing to delete the current run (`tunesmith rollback` another first)")
    statuses = {run.path: run.status for run in runs}
    unfinished = [target.name for target in targets if statuses.get(target) not in ("done", "failed")]
    if checkpoints_only and unfinished:
        raise RunError(f"{', '.join(unfinished)}: not finished; its checkpoints are what `train --resume` needs")
    deleted = []
    for target in targets:
        victim = target / "checkpoints" if checkpoints_only else target
        if victim.exists():
            # Renamed first, so a crash mid-delete leaves a hidden leftover, never a half-deleted run.
            trash = victim.with_name(f".deleting-{victim.name}")
            victim.rename(trash)
            shutil.rmtree(trash)
            deleted.append(victim)
    return deleted

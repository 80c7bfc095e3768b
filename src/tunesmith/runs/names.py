"""Finding a run by what a user calls it: a folder path, a folder's name in the runs folder, or the name the run
was configured with (``name: cont-r1`` gives folders ``cont-r1-<timestamp>``), which means its newest finished run.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import yaml

from tunesmith.errors import RunError

CLOSEST = 5


def find_run(reference: str | Path, runs_dir: Path) -> tuple[Path, str]:
    """The run folder ``reference`` names, and how it was found (said in the plan).

    Raises:
        RunError: nothing matches; the message lists the runs whose names come closest.
    """
    runs_dir = Path(runs_dir)
    for candidate, how in ((Path(reference).expanduser(), "the run folder given"), (runs_dir / str(reference), "")):
        if (candidate / "run.json").is_file():
            return candidate.resolve(), how or f"the run folder {candidate.name} in {runs_dir}"
    named = [run for run in _runs(runs_dir) if run["name"] == str(reference)]
    finished = [run for run in named if run["status"] == "done"]
    if finished:
        newest = max(finished, key=lambda run: (run["started_at"], run["path"].name))
        others = f" (of {len(finished)} finished)" if len(finished) > 1 else ""
        return newest["path"].resolve(), f"the newest finished run named '{reference}'{others}"
    if named:
        statuses = ", ".join(f"{run['path'].name} ({run['status']})" for run in named)
        raise RunError(f"{reference}: no finished run of that name in {runs_dir}: {statuses}")
    raise RunError(f"{reference}: no such run in {runs_dir}{_closest(str(reference), runs_dir)}")


def _runs(runs_dir: Path) -> list[dict]:
    runs = []
    for record_path in sorted(runs_dir.glob("*/run.json")) if runs_dir.is_dir() else []:
        folder = record_path.parent
        try:
            record = json.loads(record_path.read_text())
            config = yaml.safe_load((folder / "config.yaml").read_text()) if (folder / "config.yaml").is_file() else {}
        except (OSError, ValueError, yaml.YAMLError):
            continue  # a damaged folder is no candidate
        name = (config or {}).get("name") or folder.name
        runs.append(
            {"path": folder, "name": name, "status": record.get("status"), "started_at": record.get("started_at", "")}
        )
    return runs


def _closest(reference: str, runs_dir: Path) -> str:
    runs = _runs(runs_dir)
    names = sorted({run["name"] for run in runs} | {run["path"].name for run in runs})
    close = difflib.get_close_matches(reference, names, n=CLOSEST, cutoff=0.4)
    if close:
        return "; the closest: " + ", ".join(close)
    return f"; it holds: {', '.join(names[:CLOSEST])}" if names else " (no runs there yet)"

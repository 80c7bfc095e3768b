"""Several runs side by side: their settings (differences highlighted) and their scores, for runs of any task
(metrics.json read through :mod:`tunesmith.metrics.results`): the task and primary metric, then every model's
overall scores as ``<metric> (<label>)``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tunesmith.errors import RunError
from tunesmith.metrics.results import is_score, model_labels, primary, read_metrics
from tunesmith.runs.status import effective_status

TIMING_KEYS = (("train_seconds", "training minutes", 1 / 60), ("peak_memory_gb", "peak memory GiB", 1.0))


def collect(run_paths: list[Path]) -> dict:
    """``{"runs": [names], "rows": [(section, key, [values], differs)]}`` for the given run folders."""
    runs = [_read_run(Path(path)) for path in run_paths]
    rows = []
    for section in ("config", "plan"):
        keys = sorted({key for run in runs for key in run[section]})
        for key in keys:
            values = [run[section].get(key) for run in runs]
            rows.append((section, key, values, len({json.dumps(v, sort_keys=True) for v in values}) > 1))
    metric_keys = list(dict.fromkeys(key for run in runs for key in run["metrics"]))
    last = [label for _, label, _ in TIMING_KEYS] + ["status"]  # after every run's scores
    metric_keys = [key for key in metric_keys if key not in last] + [key for key in last if key in metric_keys]
    for key in metric_keys:
        values = [run["metrics"].get(key) for run in runs]
        rows.append(("metrics", key, values, False))
    return {"runs": [run["name"] for run in runs], "rows": rows}


def print_comparison(comparison: dict, console=None, show_all: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(title="Runs side by side (differing settings in yellow)", title_justify="left")
    table.add_column("section")
    table.add_column("setting")
    for name in comparison["runs"]:
        table.add_column(name, justify="right")
    for section, key, values, differs in comparison["rows"]:
        if section == "config" and not differs and not show_all:
            continue  # the plan rows show the values in effect; equal config entries are noise
        style = "bold yellow" if differs else None
        table.add_row(section, key, *(_format(value) for value in values), style=style)
    console.print(table)


def to_markdown(comparison: dict) -> str:
    header = "| section | setting | " + " | ".join(comparison["runs"]) + " |"
    lines = [header, "|" + "---|" * (len(comparison["runs"]) + 2)]
    for section, key, values, differs in comparison["rows"]:
        mark = "**" if differs else ""
        cells = " | ".join(f"{mark}{_format(value)}{mark}" for value in values)
        lines.append(f"| {section} | {mark}{key}{mark} | {cells} |")
    return "\n".join(lines) + "\n"


def _read_run(path: Path) -> dict:
    if not (path / "run.json").is_file():
        raise RunError(f"{path}: not a run folder (no run.json)")
    config = yaml.safe_load((path / "config.yaml").read_text()) if (path / "config.yaml").is_file() else {}
    plan = _json(path / "plan.json")
    record = _json(path / "run.json")
    return {
        "name": path.name,
        "config": _flatten(config or {}),
        "plan": {name: choice["value"] for name, choice in plan.get("choices", {}).items()},
        "metrics": _metrics(read_metrics(path) if (path / "metrics.json").is_file() else {}, record),
    }


def _metrics(metrics: dict, record: dict) -> dict:
    found = {}
    if metrics:
        name, greater = primary(metrics)
        found["task"] = metrics.get("task")
        found["primary metric"] = f"{name} ({'higher' if greater else 'lower'} is better)"
    for label in model_labels(metrics):
        for name, value in metrics[label]["overall"].items():
            if is_score(name):
                found[f"{name} ({label})"] = value
    training = record.get("training", {})
    for key, label, scale in TIMING_KEYS:
        if isinstance(training.get(key), int | float):
            found[label] = round(training[key] * scale, 2)
    found["status"] = effective_status(record)  # a killed run shows as interrupted, as in `tunesmith runs`
    return found


def _flatten(mapping: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _format(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}

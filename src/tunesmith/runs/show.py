"""Terminal views of the registry: the lineage tree with each run's primary metric (and the key Q&A metrics),
and one run in detail, for runs of any task. Statuses are as they stand now: a run whose process was killed shows
as ``interrupted``, with the command that finishes it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from tunesmith.metrics.results import models, primary, read_metrics
from tunesmith.runs.registry import RunInfo, children, current_run, scan
from tunesmith.runs.status import INTERRUPTED, UNKNOWN_PROCESS, effective_status, stop_reason


def print_runs(runs_dir: Path, console: Console | None = None) -> None:
    console = console or Console()
    runs = scan(runs_dir)
    if not runs:
        console.print(f"no runs in {runs_dir}")
        return
    current = current_run(runs_dir)
    tree = children(runs)
    known = {run.path for run in runs}
    roots = [run for run in runs if run.parent_path is None or run.parent_path not in known]
    by_model: dict[str, list[RunInfo]] = {}
    for run in roots:
        by_model.setdefault(run.parent.get("root_model") or run.parent.get("name", "?"), []).append(run)
    top = Tree(f"[bold]{runs_dir}[/bold]")
    for model, members in by_model.items():
        branch = top.add(f"{model}")
        for run in members:
            _add(branch, run, tree, current, Path(runs_dir))
    console.print(top)


def print_run(run_path: Path, runs_dir: Path, console: Console | None = None) -> None:
    console = console or Console()
    record = json.loads((run_path / "run.json").read_text())
    metrics = read_metrics(run_path) if (run_path / "metrics.json").is_file() else {}
    is_current = current_run(runs_dir) == run_path.resolve()
    status = effective_status(record)
    reason = stop_reason(record, status)
    console.print(
        f"[bold]{run_path.name}[/bold]{'  (current)' if is_current else ''}  status {escape(status)}"
        + (f" ({escape(reason)})" if reason else "")
    )
    hint = resume_hint(status, run_path)
    if hint:
        console.print(hint)
    parent = record.get("parent", {})
    console.print(f"parent: {parent.get('kind')} {parent.get('name')}  ({parent.get('path')})")
    if parent.get("source"):
        console.print(f"weights from: {parent['source']}", markup=False, highlight=False)
    for split, info in record.get("data_files", {}).items():
        console.print(f"data {split}: {info['path']}  sha256 {info['sha256'][:16]}")
    training = record.get("training", {})
    if training:
        console.print(
            f"training: {training.get('steps')} steps, {training.get('train_seconds', 0) / 60:.1f} min, "
            f"peak {training.get('peak_memory_gb')} GiB"
        )
    if metrics:
        from tunesmith.metrics.show import print_metrics

        metric, greater = primary(metrics)
        shape = f", data {metrics['data_shape']}" if metrics.get("data_shape") else ""
        direction = "higher" if greater else "lower"
        console.print(f"task {metrics.get('task')}{shape}; primary metric {metric} ({direction} is better)")
        print_metrics(models(metrics), console, metric)
        int8 = metrics.get("int8_export")
        if isinstance(int8, dict) and "speedup" in int8:
            console.print(
                f"INT8 copy: {int8['speedup']:.2f}x the fp32 encoding speed, "
                f"{int8.get('metric', metric)} {int8.get('change', 0):+.4f} at full size"
            )
        if metrics.get("earlier_stages"):
            console.print(retention_table(metrics["earlier_stages"], metric))


def retention_table(stages: list[dict], metric: str = "token_f1") -> Table:
    from tunesmith.metrics.tables import RETENTION_HEADERS, retention_rows

    table = Table(title=f"Earlier stages: {metric} before and after this run", title_justify="left")
    for index, column in enumerate(RETENTION_HEADERS):
        table.add_column(column, justify="left" if index == 0 else "right")
    for row in retention_rows(stages, metric):
        table.add_row(*row)
    return table


def resume_command(run_path: Path) -> str:
    """The command that finishes a stopped run (with ``--processes N`` when it was planned for several)."""
    shown = Path(run_path)
    if shown.is_absolute() and shown.is_relative_to(Path.cwd()):
        shown = shown.relative_to(Path.cwd())
    command = f"tunesmith train --resume {shlex.quote(str(shown))}"
    try:
        processes = json.loads((Path(run_path) / "plan.json").read_text()).get("hardware", {}).get("world_size", 1)
    except (OSError, ValueError, AttributeError):
        processes = 1
    return f"{command} --processes {processes}" if isinstance(processes, int) and processes > 1 else command


def resume_hint(status: str, run_path: Path) -> str:
    """What to do about a run in ``status`` (rich markup): the resume command for an interrupted run, "" else."""
    if status == INTERRUPTED:
        return f"[yellow]interrupted: finish it with[/yellow] {escape(resume_command(run_path))}"
    if status == UNKNOWN_PROCESS:
        return f"[dim]if it was stopped, finish it with[/dim] {escape(resume_command(run_path))}"
    return ""


def _add(branch, run: RunInfo, tree, current, runs_dir: Path) -> None:
    scores = "  ".join(f"{name} {value:.3f}" for name, value in run.metrics.items() if value is not None)
    marker = " [green](current)[/green]" if run.path == current else ""
    reason = f" [dim]({escape(_shortened(run.reason))})[/dim]" if run.reason else ""
    status, action = f"[dim]{escape(run.status)}[/dim]{reason}", ""
    if run.status == INTERRUPTED:
        status = f"[yellow]{INTERRUPTED}[/yellow]{reason}"
        action = f"  resume: {escape(resume_command(runs_dir / run.name))}"
    elif run.status == UNKNOWN_PROCESS:
        action = f"  [dim]if stopped:[/dim] {escape(resume_command(runs_dir / run.name))}"
    node = branch.add("  ".join(part for part in (run.name, status, scores) if part) + marker + action)
    for child in tree.get(run.path, []):
        _add(node, child, tree, current, runs_dir)


def _shortened(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."

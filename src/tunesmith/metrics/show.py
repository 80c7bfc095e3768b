"""Terminal tables of evaluation results: base vs tuned overall, then per category and difficulty."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tunesmith.metrics.evaluate import OVERALL_METRICS


def print_metrics(summary: dict, console: Console | None = None, primary: str = "token_f1") -> None:
    console = console or Console()
    labels = list(summary)
    overall = Table(title=f"Test set ({summary[labels[-1]]['overall']['n']} examples)", title_justify="left")
    overall.add_column("metric")
    for label in labels:
        overall.add_column(label, justify="right")
    if "base" in summary:
        overall.add_column("change", justify="right")
    for name in OVERALL_METRICS:
        values = [summary[label]["overall"].get(name) for label in labels]
        if all(value is None for value in values):
            continue
        change = [_change(values[0], values[-1])] if "base" in summary else []
        overall.add_row(name, *(_format(value) for value in values), *change)
    console.print(overall)
    for group_by in ("category", "difficulty"):
        key = f"by_{group_by}"
        if key not in summary[labels[-1]]:
            continue
        table = Table(title=f"{primary} by {group_by}", title_justify="left")
        table.add_column(group_by)
        table.add_column("n", justify="right")
        for label in labels:
            table.add_column(label, justify="right")
        for group, scores in summary[labels[-1]][key].items():
            values = [_format(summary[label][key][group][primary]) for label in labels]
            table.add_row(group, str(scores["n"]), *values)
        console.print(table)


def _format(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _change(before: float | None, after: float | None) -> str:
    return "-" if before is None or after is None else f"{after - before:+.3f}"

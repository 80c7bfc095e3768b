"""Terminal tables of evaluation results: base vs tuned overall, then per category and difficulty."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tunesmith.metrics.text import METRICS


def print_metrics(summary: dict, console: Console | None = None, primary: str = "token_f1") -> None:
    console = console or Console()
    labels = list(summary)
    overall = Table(title=f"Test set ({summary[labels[-1]]['overall']['n']} examples)", title_justify="left")
    overall.add_column("metric")
    for label in labels:
        overall.add_column(label, justify="right")
    if "base" in summary:
        overall.add_column("change", justify="right")
    for name in METRICS:
        values = [summary[label]["overall"][name] for label in labels]
        change = [f"{values[-1] - values[0]:+.3f}"] if "base" in summary else []
        overall.add_row(name, *(f"{value:.3f}" for value in values), *change)
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
            values = [f"{summary[label][key][group][primary]:.3f}" for label in labels]
            table.add_row(group, str(scores["n"]), *values)
        console.print(table)

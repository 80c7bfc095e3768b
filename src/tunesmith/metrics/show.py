"""Terminal tables of evaluation results: base vs tuned overall, then per category and difficulty."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tunesmith.metrics.tables import format_score, overall_rows


def print_metrics(summary: dict, console: Console | None = None, primary: str = "token_f1") -> None:
    console = console or Console()
    labels = list(summary)
    overall = Table(title=f"Test set ({summary[labels[-1]]['overall']['n']} examples)", title_justify="left")
    headers, rows = overall_rows(summary)
    for index, header in enumerate(headers):
        overall.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        overall.add_row(*row)
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
            values = [format_score(summary[label][key][group][primary]) for label in labels]
            table.add_row(group, str(scores["n"]), *values)
        console.print(table)

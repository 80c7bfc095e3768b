"""Terminal tables of evaluation results for any task: every model's overall scores side by side, then the primary
metric per group of each breakdown (category, difficulty, dimension)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tunesmith.metrics.results import group_names, models, reference_label
from tunesmith.metrics.tables import group_rows, overall_rows


def print_metrics(summary: dict, console: Console | None = None, primary: str = "token_f1") -> None:
    """``summary``: ``{label: {"overall": ..., "by_<group>": ...}}`` (a whole metrics.json works too)."""
    console = console or Console()
    summary = models(summary)
    reference = reference_label(summary)
    if reference is None:
        console.print("no scores")
        return
    n = summary[reference]["overall"].get("n")
    title = "Test set" if n is None else f"Test set ({n} examples)"
    _print_table(console, title, *overall_rows(summary))
    for group_by in group_names(summary):
        headers, rows = group_rows(summary, group_by, primary)
        if rows:
            _print_table(console, f"{primary} by {group_by}", headers, rows)


def _print_table(console: Console, title: str, headers: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)

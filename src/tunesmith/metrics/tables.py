"""Result tables as plain rows of text, shared by the terminal views and the reports."""

from __future__ import annotations

from tunesmith.metrics.evaluate import OVERALL_METRICS

RETENTION_HEADERS = ["earlier stage", "test n", "before", "after", "retention"]


def format_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_change(before: float | None, after: float | None) -> str:
    return "-" if before is None or after is None else f"{after - before:+.3f}"


def overall_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: each overall metric per model (base, tuned), and the change when both are there;
    metrics no model has (fact recall without facts) are left out."""
    labels = list(summary)
    compared = "base" in summary
    headers = ["metric", *labels, *(["change"] if compared else [])]
    rows = []
    for name in OVERALL_METRICS:
        values = [summary[label]["overall"].get(name) for label in labels]
        if all(value is None for value in values):
            continue
        change = [format_change(values[0], values[-1])] if compared else []
        rows.append([name, *map(format_score, values), *change])
    return headers, rows


def retention_rows(stages: list[dict], metric: str) -> list[list[str]]:
    """Per earlier stage: its test size, ``metric`` after that stage and after this run, and the share kept."""
    rows = []
    for stage in stages:
        kept = stage["retention"].get(metric)
        before, after = stage["before"].get(metric), stage["after"].get(metric)
        share = "-" if kept is None else f"{kept:.0%}"
        rows.append([stage["run"], str(stage["n"]), format_score(before), format_score(after), share])
    return rows

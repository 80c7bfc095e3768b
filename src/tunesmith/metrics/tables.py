"""Result tables as plain rows of text, shared by the terminal views and the reports. They read the models of a
metrics.json (``{label: {"overall": ..., "by_<group>": ...}}``, see :mod:`tunesmith.metrics.results`) for any task."""

from __future__ import annotations

from tunesmith.metrics.evaluate import OVERALL_METRICS
from tunesmith.metrics.results import model_labels, reference_label, score_names

RETENTION_HEADERS = ["earlier stage", "metric", "test n", "before", "after", "retention"]


def format_score(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_change(before: float | None, after: float | None) -> str:
    return "-" if before is None or after is None else f"{after - before:+.3f}"


def overall_metric_names(summary: dict) -> list[str]:
    """Every score some model has overall: the Q&A metrics in their usual order, then the others (embedding
    scores) in the order they appear."""
    return score_names([summary[label]["overall"] for label in model_labels(summary)], first=OVERALL_METRICS)


def change_columns(labels: list[str]) -> list[tuple[str, str, str]]:
    """``(header, before, after)`` per change shown: tuned against base, and int8 against tuned."""
    pairs = [("change", "base", "tuned"), ("int8 change", "tuned", "int8")]
    return [(header, before, after) for header, before, after in pairs if before in labels and after in labels]


def overall_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: each overall metric per model (base, tuned, int8), and the changes when both sides are
    there; metrics no model has (fact recall without facts) are left out."""
    labels = model_labels(summary)
    changes = change_columns(labels)
    headers = ["metric", *labels, *(header for header, _, _ in changes)]
    rows = []
    for name in overall_metric_names(summary):
        values = {label: summary[label]["overall"].get(name) for label in labels}
        if all(value is None for value in values.values()):
            continue
        moved = [format_change(values[before], values[after]) for _, before, after in changes]
        rows.append([name, *(format_score(values[label]) for label in labels), *moved])
    return headers, rows


def group_rows(
    summary: dict, group_by: str, metric: str, extra: dict[str, dict[str, str]] | None = None
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows for one breakdown (``by_<group_by>``): per group, its test size, ``metric`` per model and
    the changes. ``extra`` adds columns: ``{header: {group: text}}`` (a group without an entry shows "-")."""
    key = f"by_{group_by}"
    labels = [label for label in model_labels(summary) if key in summary[label]]
    reference = reference_label({label: summary[label] for label in labels})
    if reference is None:
        return [], []
    changes = change_columns(labels)
    extra = extra or {}
    headers = [group_by, "test n", *extra, *labels, *(header for header, _, _ in changes)]
    rows = []
    for group, scores in summary[reference][key].items():
        values = {label: summary[label][key].get(group, {}).get(metric) for label in labels}
        moved = [format_change(values[before], values[after]) for _, before, after in changes]
        added = [column.get(group, "-") for column in extra.values()]
        n = scores.get("n")
        rows.append([group, "-" if n is None else str(n), *added, *map(format_score, values.values()), *moved])
    return headers, rows


def retention_rows(stages: list[dict], metric: str) -> list[list[str]]:
    """Per earlier stage: its test size, its metric (the stage's own primary one when it names one, else
    ``metric``) after that stage and after this run, and the share kept."""
    rows = []
    for stage in stages:
        name = stage.get("primary_metric") or metric
        kept = stage.get("retention", {}).get(name)
        before, after = stage.get("before", {}).get(name), stage.get("after", {}).get(name)
        share = "-" if kept is None else f"{kept:.0%}"
        rows.append(
            [stage.get("run", "?"), name, str(stage.get("n", "-")), format_score(before), format_score(after), share]
        )
    return rows

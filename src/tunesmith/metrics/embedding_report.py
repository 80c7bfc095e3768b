"""Write and show embedding scores: base vs tuned (and int8), at every dimension (metrics.json, metrics.csv, a
table). metrics.json follows :mod:`tunesmith.metrics.results`: each model's "overall" holds its full-size scores and
"by_dimension" every scored dimension."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tunesmith.atomic import write_text
from tunesmith.metrics.embedding import PRIMARY_METRIC
from tunesmith.metrics.results import embedding_summary, write_metrics

__all__ = [
    "embedding_csv",
    "embedding_summary",
    "primary_metric",
    "print_embedding_metrics",
    "write_embedding_results",
]


def primary_metric(shape: str) -> str:
    return PRIMARY_METRIC["retrieval"] if shape in ("triplets", "classes") else PRIMARY_METRIC.get(shape, "")


def write_embedding_results(folder: Path, scores: dict, shape: str, extra: dict | None = None) -> None:
    """metrics.json: ``{task: "embedding", primary_metric, greater_is_better, data_shape, <model>: {overall,
    by_dimension}, **extra}``; metrics.csv: one row a model and dimension.

    Args:
        scores: ``{model: {dim: {metric: value}}}`` as :func:`~tunesmith.metrics.embedding_eval.evaluate_embeddings`
            returns per model, the full size first.
        extra: more entries for metrics.json, such as ``int8_export``.
    """
    folder = Path(folder)
    by_dim = _by_dimension(scores)
    models = {label: embedding_summary(dims) for label, dims in by_dim.items()}
    write_metrics(folder, "embedding", primary_metric(shape), True, models, {"data_shape": shape, **(extra or {})})
    write_text(folder / "metrics.csv", embedding_csv(by_dim))


def embedding_csv(scores: dict) -> str:
    scores = _by_dimension(scores)
    names = _metric_names(scores)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["model", "dim", *names])
    for label, by_dim in scores.items():
        for dim, metrics in by_dim.items():
            writer.writerow([label, dim, *(_round(metrics.get(name)) for name in names)])
    return buffer.getvalue()


def print_embedding_metrics(scores: dict, shape: str, console: Console | None = None) -> None:
    """One row per dimension and metric, the models side by side."""
    console = console or Console()
    scores = _by_dimension(scores)
    models = list(scores)
    table = Table(title=f"Scores (primary: {primary_metric(shape)})", title_justify="left")
    table.add_column("dim")
    table.add_column("metric")
    for label in models:
        table.add_column(label, justify="right")
    dims = list(next(iter(scores.values()), {}))
    for dim in dims:
        for name in _metric_names(scores):
            if name == "n" or name.endswith("threshold"):
                continue
            table.add_row(dim, name, *(_format(scores[label].get(dim, {}).get(name)) for label in models))
    console.print(table)


def _by_dimension(scores: dict) -> dict[str, dict]:
    """``{model: {dim: scores}}``, also from models already summarised as ``{overall, by_dimension}``."""
    return {
        label: value["by_dimension"] if isinstance(value, dict) and "by_dimension" in value else value
        for label, value in scores.items()
    }


def _metric_names(scores: dict) -> list[str]:
    names: dict[str, None] = {}
    for by_dim in scores.values():
        for metrics in by_dim.values():
            names.update(dict.fromkeys(metrics))
    return list(names)


def _round(value):
    return round(value, 4) if isinstance(value, float) else value


def _format(value) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)

"""Write and show embedding scores: base vs tuned, at every dimension (metrics.json, metrics.csv, a table)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tunesmith.metrics.embedding import PRIMARY_METRIC
from tunesmith.runs import write_json, write_text


def primary_metric(shape: str) -> str:
    return PRIMARY_METRIC["retrieval"] if shape in ("triplets", "classes") else PRIMARY_METRIC.get(shape, "")


def write_embedding_results(folder: Path, scores: dict, shape: str, extra: dict | None = None) -> None:
    """metrics.json: ``{primary_metric, data_shape, <model>: {<dim>: {metric: value}}}``; metrics.csv: one row a
    model and dimension."""
    folder = Path(folder)
    write_json(
        folder / "metrics.json",
        {"primary_metric": primary_metric(shape), "data_shape": shape, **scores, **(extra or {})},
    )
    write_text(folder / "metrics.csv", embedding_csv(scores))


def embedding_csv(scores: dict) -> str:
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

"""The report's PNGs: loss curves, learning rate, and base vs fine-tuned by category. Written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from tunesmith.runs import write_bytes


def plot_losses(log_rows: list[dict], path: Path) -> Path | None:
    """Training loss per logged step and validation loss per evaluation, on one set of axes."""
    train = [(row["step"], row["loss"]) for row in log_rows if "loss" in row]
    valid = [(row["step"], row["eval_loss"]) for row in log_rows if "eval_loss" in row]
    if not train and not valid:
        return None
    figure, axes = new_figure()
    if train:
        axes.plot(*zip(*train), label="training loss", color="#1f77b4")
    if valid:
        axes.plot(*zip(*valid), label="validation loss", color="#d62728", marker="o")
    axes.set_xlabel("optimiser step")
    axes.set_ylabel("loss")
    axes.legend()
    return save_figure(figure, path)


def plot_learning_rate(log_rows: list[dict], path: Path) -> Path | None:
    points = [(row["step"], row["learning_rate"]) for row in log_rows if "learning_rate" in row]
    if not points:
        return None
    figure, axes = new_figure()
    axes.plot(*zip(*points), color="#2ca02c")
    axes.set_xlabel("optimiser step")
    axes.set_ylabel("learning rate")
    axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    return save_figure(figure, path)


def plot_groups(by_group: dict[str, dict[str, dict]], metric: str, group_by: str, path: Path) -> Path | None:
    """Horizontal bars per group, one bar per model (base, tuned)."""
    labels = list(by_group)
    groups = list(next(iter(by_group.values()), {}))
    if not groups:
        return None
    figure, axes = new_figure(height=max(2.5, 0.32 * len(groups) * len(labels) + 1))
    height = 0.8 / len(labels)
    for offset, label in enumerate(labels):
        values = [by_group[label][group][metric] or 0.0 for group in groups]
        positions = [index + offset * height for index in range(len(groups))]
        axes.barh(positions, values, height=height, label=label)
    axes.set_yticks([index + height * (len(labels) - 1) / 2 for index in range(len(groups))], groups)
    axes.invert_yaxis()
    axes.set_xlabel(f"{metric} by {group_by}")
    axes.legend()
    return save_figure(figure, path)


def new_figure(height: float = 3.5):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, height), dpi=100)
    axes.grid(alpha=0.3)
    return figure, axes


def save_figure(figure, path: Path) -> Path:
    from matplotlib import pyplot

    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    write_bytes(path, buffer.getvalue())
    return path

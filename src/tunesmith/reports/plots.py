"""The report's PNGs: loss curves, validation scores, learning rate, and the models side by side per group
(category, difficulty, dimension). Written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from tunesmith.atomic import write_bytes


def plot_losses(log_rows: list[dict], path: Path) -> Path | None:
    """Training loss per logged step and validation loss per evaluation, on one set of axes. Rows carrying a
    "stage" (embedding runs: simcse, curriculum phases) are drawn one line per stage, the stages end to end."""
    train = _series(log_rows, "loss")
    valid = _series(log_rows, "eval_loss")
    if not train and not valid:
        return None
    figure, axes = new_figure()
    colours = _stage_colours(log_rows)
    _draw(axes, train, "training loss", marker=None, colours=colours or {None: "#1f77b4"})
    _draw(axes, valid, "validation loss", marker="o", colours=colours or {None: "#d62728"}, dashed=bool(colours))
    axes.set_xlabel("optimiser step" if not _staged(log_rows) else "optimiser step (stages end to end)")
    axes.set_ylabel("loss")
    axes.legend()
    return save_figure(figure, path)


def plot_validation(log_rows: list[dict], metric: str, path: Path) -> Path | None:
    """A validation score (``eval_<metric>`` in the log) per evaluation."""
    points = _series(log_rows, f"eval_{metric}")
    if not points:
        return None
    figure, axes = new_figure()
    _draw(axes, points, f"validation {metric}", marker="o", colours=_stage_colours(log_rows) or {None: "#d62728"})
    axes.set_xlabel("optimiser step" if not _staged(log_rows) else "optimiser step (stages end to end)")
    axes.set_ylabel(metric)
    axes.legend()
    return save_figure(figure, path)


def log_steps(log_rows: list[dict]) -> list[int | float]:
    """Each row's step on one axis: a stage's steps continue where the previous stage's ended (each stage's
    trainer counts from 1 again)."""
    steps, offset, last_stage, last_step = [], 0, None, 0
    for row in log_rows:
        stage, step = row.get("stage"), row.get("step", 0) or 0
        if stage != last_stage and last_stage is not None:
            offset += last_step
            last_step = 0
        last_stage, last_step = stage, max(last_step, step)
        steps.append(offset + step)
    return steps


def _staged(log_rows: list[dict]) -> bool:
    return len({row.get("stage") for row in log_rows} - {None}) > 1


def _series(log_rows: list[dict], key: str) -> dict[str | None, list[tuple]]:
    """``{stage: [(step, value)]}`` for the rows holding ``key`` (stage None when the log has no stages)."""
    series: dict[str | None, list[tuple]] = {}
    staged = _staged(log_rows)
    for step, row in zip(log_steps(log_rows), log_rows):
        if row.get(key) is not None:
            series.setdefault(row.get("stage") if staged else None, []).append((step, row[key]))
    return series


def _stage_colours(log_rows: list[dict]) -> dict[str | None, str]:
    """One colour per stage, training and validation alike (empty when the log has no stages)."""
    if not _staged(log_rows):
        return {}
    stages = dict.fromkeys(row.get("stage") for row in log_rows)
    return {stage: f"C{index % 10}" for index, stage in enumerate(stages)}


def _draw(axes, series, label: str, marker: str | None, colours: dict, dashed: bool = False) -> None:
    for stage, points in series.items():
        name = label if stage is None else f"{label} ({stage})"
        axes.plot(
            *zip(*points), label=name, marker=marker, color=colours.get(stage), linestyle="--" if dashed else "-"
        )


def plot_learning_rate(log_rows: list[dict], path: Path) -> Path | None:
    points = [
        (step, row["learning_rate"]) for step, row in zip(log_steps(log_rows), log_rows) if "learning_rate" in row
    ]
    if not points:
        return None
    figure, axes = new_figure()
    axes.plot(*zip(*points), color="#2ca02c")
    axes.set_xlabel("optimiser step")
    axes.set_ylabel("learning rate")
    axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    return save_figure(figure, path)


def plot_groups(by_group: dict[str, dict[str, dict]], metric: str, group_by: str, path: Path) -> Path | None:
    """Horizontal bars per group, one bar per model (base, tuned, ...); a missing score draws no bar."""
    labels = list(by_group)
    groups = list(dict.fromkeys(group for scores in by_group.values() for group in scores))
    if not groups:
        return None
    figure, axes = new_figure(height=max(2.5, 0.32 * len(groups) * len(labels) + 1))
    height = 0.8 / len(labels)
    for offset, label in enumerate(labels):
        values = [by_group[label].get(group, {}).get(metric) or 0.0 for group in groups]
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

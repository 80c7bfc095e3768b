"""Draw a plan's learning-rate schedule over its optimiser steps as a PNG, phases shaded and named."""

from __future__ import annotations

import io
from pathlib import Path

from tunesmith.atomic import write_bytes
from tunesmith.schedules import phase_name, to_lambda

PHASE_COLOURS = {"warmup": "#f2d7d5", "exploration": "#d6eaf8", "exploitation": "#d5f5e3", "refinement": "#fcf3cf"}


def plot_path(name: str, out: Path | None = None) -> Path:
    """Where ``tunesmith plan --plot`` draws: ``out``, or ``<name>-lr.png`` inside ``out`` when it is an existing
    folder, or ``<name>-lr.png`` in the current folder when no ``out`` is given. Missing parent folders of ``out``
    are created when the plot is written, as for the other commands' ``--out``."""
    default = f"{name}-lr.png"
    if out is None:
        return Path(default)
    out = Path(out).expanduser()
    return out / default if out.is_dir() else out


def plot_schedule(settings: dict, total_steps: int, peak_lr: float, path: Path) -> Path:
    """Write the rate at every step of ``settings`` (a schedule's name, warmup, floor, shape) to ``path`` as a PNG,
    atomically (parent folders are created)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    multiplier = to_lambda(total=total_steps, **settings)
    steps = list(range(total_steps + 1))
    rates = [peak_lr * multiplier(step) for step in steps]
    figure, axes = plt.subplots(figsize=(8, 3.5), dpi=120)
    for phase, start, end in _phase_spans(settings, total_steps):
        axes.axvspan(start, end, color=PHASE_COLOURS.get(phase, "#eeeeee"), alpha=0.8, lw=0)
        axes.text((start + end) / 2, peak_lr * 1.04, phase, ha="center", va="bottom", fontsize=8)
    axes.plot(steps, rates, color="#1f4e79", lw=2)
    axes.set(xlabel="optimiser step", ylabel="learning rate", xlim=(0, total_steps), ylim=(0, peak_lr * 1.15))
    axes.set_title(f"{settings['name']} schedule: peak {peak_lr:g}, {total_steps} steps", fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    write_bytes(Path(path), buffer.getvalue())
    return Path(path)


def _phase_spans(settings: dict, total_steps: int) -> list[tuple[str, int, int]]:
    spans: list[tuple[str, int, int]] = []
    for step in range(total_steps + 1):
        phase = phase_name(step, total_steps, **settings)
        if spans and spans[-1][0] == phase:
            spans[-1] = (phase, spans[-1][1], step)
        else:
            spans.append((phase, step, step))
    return spans

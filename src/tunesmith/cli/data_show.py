"""Terminal summary and PNG histograms of a dataset analysis."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

SHOWN_PAIRS = 5


def print_analysis(analysis: dict, console: Console | None = None) -> None:
    console = console or Console()
    sizes = Table(title="Examples and token lengths", title_justify="left")
    for column in ("split", "examples", "augmented", "prompt p50/p95/max", "answer p50/p95/max", "whole max"):
        sizes.add_column(column, justify="left" if column == "split" else "right")
    for name, count in analysis["counts"].items():
        lengths = analysis["lengths"][name]
        sizes.add_row(
            name,
            str(count),
            str(analysis["augmented"][name]),
            _spread(lengths["prompt"]),
            _spread(lengths["answer"]),
            str(lengths["sequence"]["max"]),
        )
    console.print(sizes)
    for field in ("categories", "difficulties"):
        _print_labels(analysis[field], field, console)
    _print_problems(analysis, console)


def plot_lengths(analysis: dict, path: Path) -> Path | None:
    from tunesmith.reports.plots import new_figure, save_figure

    lengths = analysis["token_lengths"]
    if not lengths:
        return None
    import numpy

    every = [n for parts in lengths.values() for part in ("prompt", "answer") for n in parts[part]]
    bins = numpy.histogram_bin_edges(every, bins=40)  # shared, so the splits and parts compare bar for bar
    figure, axes = new_figure(height=3.5)
    for name, parts in lengths.items():
        for part, style in (("prompt", "step"), ("answer", "stepfilled")):
            alpha = 0.35 if style == "stepfilled" else 1.0
            axes.hist(parts[part], bins=bins, histtype=style, alpha=alpha, label=f"{name} {part}")
    axes.set_xlabel("tokens")
    axes.set_ylabel("examples")
    axes.legend()
    return save_figure(figure, path)


def plot_labels(counts_by_split: dict[str, dict[str, int]], field: str, path: Path) -> Path | None:
    from tunesmith.reports.plots import plot_groups

    labels = sorted({label for counts in counts_by_split.values() for label in counts})
    if not labels:
        return None
    by_group = {
        split: {label: {"n": counts.get(label, 0)} for label in labels} for split, counts in counts_by_split.items()
    }
    return plot_groups(by_group, "n", field, path)


def _spread(stats: dict) -> str:
    return f"{stats['p50']}/{stats['p95']}/{stats['max']}"


def _print_labels(counts_by_split: dict[str, dict[str, int]], field: str, console: Console) -> None:
    labels = sorted({label for counts in counts_by_split.values() for label in counts})
    if not labels:
        return
    table = Table(title=field.capitalize(), title_justify="left")
    table.add_column(field[:-3] + "y" if field.endswith("ies") else field[:-1])
    for split in counts_by_split:
        table.add_column(split, justify="right")
    for label in labels:
        table.add_row(label, *(str(counts.get(label, 0)) for counts in counts_by_split.values()))
    console.print(table)


def _print_problems(analysis: dict, console: Console) -> None:
    lines = []
    for split, found in analysis["duplicates"].items():
        for kind in ("exact", "conflicting"):
            if found[kind]:
                lines.append(f"{split}: {len(found[kind])} {kind} duplicate question groups, e.g. {found[kind][0]}")
        for pair in found["near"][:SHOWN_PAIRS]:
            lines.append(f"{split}: near duplicates ({pair['similarity']:.2f}) {pair['a']} ~ {pair['b']}")
    for split, found in analysis["answers"].items():
        for kind, sources in found.items():
            if sources:
                lines.append(f"{split}: {len(sources)} answers {kind.replace('_', ' ')}, e.g. {sources[0]}")
    for pair in analysis["leakage"][:SHOWN_PAIRS]:
        lines.append(
            f"leakage {pair['splits']} ({pair['similarity']:.2f}): {pair['a_question']!r} ~ {pair['b_question']!r}"
        )
    if len(analysis["leakage"]) > SHOWN_PAIRS:
        lines.append(f"... {len(analysis['leakage'])} leaking pairs in all (analysis.json lists them)")
    for problem in analysis.get("invalid", []):
        lines.append(f"invalid record: {problem}")
    console.print("[bold]Checks[/bold]")
    for line in lines or ["no duplicates, suspicious answers or leakage between splits found"]:
        console.print(f"  {line}", markup=False, highlight=False)

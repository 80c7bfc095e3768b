"""Render a Plan for the terminal: each value, where it came from, and why."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tunesmith.plan.choices import Plan


def print_plan(plan: Plan, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title="Training plan", title_justify="left")
    table.add_column("setting")
    table.add_column("value", justify="right")
    table.add_column("from")
    table.add_column("why")
    for name, choice in plan.choices.items():
        table.add_row(name, _format(choice.value), choice.source, choice.reason)
    console.print(table)
    data, est, hw = plan.data, plan.estimate, plan.hardware
    console.print(
        f"data: {data['n_train']} train / {data['n_valid']} valid / {data['n_test']} test examples, "
        f"{data['n_categories']} categories, {data['train_tokens']:,} tokens per epoch "
        f"(sequence p50 {data['sequence']['p50']}, p99 {data['sequence']['p99']})"
    )
    console.print(
        f"machine: {hw['name']} ({hw['device']}, {hw['cores']} threads, {_memory(hw.get('memory_gb'))}, "
        f"bf16 matmul {hw['matmul_gflops']:.0f} GFLOP/s measured)"
        + (f"; {hw['world_size']} processes" if hw.get("world_size", 1) > 1 else "")
    )
    console.print(
        f"estimate: {est.total_steps} optimiser steps ({est.steps_per_epoch}/epoch), "
        f"training ~{est.train_minutes:.1f} min, "
        + (f"validation answers ~{est.selection_minutes:.1f} min, " if est.selection_minutes else "")
        + (f"choosing the decoding ~{est.search_minutes:.1f} min, " if est.search_minutes else "")
        + f"evaluation ~{est.eval_minutes:.1f} min"
        + (f" (the base model's ~{est.base_eval_minutes:.1f}: none if cached)" if est.base_eval_minutes else "")
        + f", peak memory ~{est.peak_memory_gb:.1f} GiB"
        + (f", disk ~{est.disk_gb:.1f} GiB at most (checkpoints and the model)" if est.disk_gb else "")
    )


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.0e}" if value < 0.01 else f"{value:g}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _memory(gigabytes: float | None) -> str:
    return "memory unknown" if not gigabytes else f"{gigabytes:.0f} GiB"

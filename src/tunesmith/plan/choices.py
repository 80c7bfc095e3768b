"""What every plan is made of: each value with its reason and source, the time and memory estimate, and the
helpers both planners (:mod:`tunesmith.plan.make`, :mod:`tunesmith.plan.embedding`) choose with.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from tunesmith.plan.hardware import Hardware


@dataclass(frozen=True)
class Choice:
    value: Any
    reason: str
    source: str  # "config" or "plan"


@dataclass
class Estimate:
    steps_per_epoch: int
    total_steps: int
    train_tokens: int
    train_minutes: float
    eval_minutes: float
    peak_memory_gb: float
    search_minutes: float = 0.0  # choosing the decoding on the validation split after training (at most its limit)
    selection_minutes: float = 0.0  # answering validation questions after each epoch (training.select_by answers)
    base_eval_minutes: float = 0.0  # the base model's part of eval_minutes (none when its answers are cached)
    disk_gb: float = 0.0  # the most a full fine-tune's run folder holds at once (an adapter's few MB: not counted)


@dataclass
class Plan:
    choices: dict[str, Choice]
    estimate: Estimate
    hardware: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.choices[name].value

    def get(self, name: str, default: Any = None) -> Any:
        """A choice's value, or ``default`` for plans written before the choice existed (resumed runs)."""
        return self.choices[name].value if name in self.choices else default

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        """Read back a plan written by :meth:`to_dict` (a run folder's plan.json)."""
        return cls(
            choices={name: Choice(**choice) for name, choice in data["choices"].items()},
            estimate=Estimate(**data["estimate"]),
            hardware=data.get("hardware", {}),
            model=data.get("model", {}),
            data=data.get("data", {}),
        )


class Chooser:
    """Collects a plan's choices: a value set in the config wins over the planned one and its reason."""

    def __init__(self) -> None:
        self.choices: dict[str, Choice] = {}

    def pick(self, name: str, configured: Any, planned: Any, reason: str) -> None:
        if configured is not None:
            self.choices[name] = Choice(configured, "set in the config", "config")
        else:
            self.choices[name] = Choice(planned, reason, "plan")

    def __getitem__(self, name: str) -> Any:
        return self.choices[name].value


def fit_epochs_to_budget(chooser: Chooser, per_epoch_minutes: float, budget_minutes: float | None) -> None:
    """Fill ``training.time_budget_minutes``: fewer epochs, fractional ones included (schedules and checkpoints
    count steps), when the planned ones would not fit; the reason says how much of the budget is used.

    A value of ``epochs`` set in the config wins; the plan then leaves it alone.
    """
    if budget_minutes is None or chooser.choices["epochs"].source == "config" or per_epoch_minutes <= 0:
        return
    planned = chooser["epochs"]
    affordable = math.floor(budget_minutes / per_epoch_minutes * 100) / 100  # whole hundredths of an epoch
    epochs = planned if affordable >= planned else max(0.01, affordable)
    used = (
        f"~{epochs * per_epoch_minutes:.1f} of {budget_minutes:g} budget minutes (~{per_epoch_minutes:.1f} min/epoch)"
    )
    if epochs < planned:
        reason = f"cut from {planned:g} to fit time_budget_minutes={budget_minutes:g}: {used}"
    else:
        reason = f"{chooser.choices['epochs'].reason}; {used}"
    chooser.choices["epochs"] = Choice(epochs, reason, "plan")


def by_size(table: tuple, n: float) -> Any:
    """The value of the first ``(limit, value)`` row of ``table`` whose limit is at least ``n``."""
    return next(value for limit, value in table if n <= limit)


def round_up(value: int, multiple: int) -> int:
    """``value`` rounded up to a multiple of ``multiple``, and at least ``multiple``."""
    return max(multiple, math.ceil(value / multiple) * multiple)


def bf16_reason(hardware: Hardware, gain: str) -> str:
    """Why bf16 is on (``gain``: what it buys) or off on ``hardware``."""
    if hardware.bf16:
        return f"{hardware.device} computes bf16 natively: {gain}"
    if hardware.device == "mps":
        return "an Apple GPU (MPS) trains in fp32 here: mixed precision there is not measured by tunesmith"
    return f"{hardware.device} has no native bf16: fp32 is faster"

"""Learning-rate schedules as pure functions: (step, total steps) -> multiplier of the peak rate.

They know nothing of optimisers or trainers; :func:`to_lambda` binds one for ``torch.optim.lr_scheduler.LambdaLR``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial


def _warmup(step: int, warmup: int) -> float | None:
    """The warmup multiplier while warming up (linear from 1/warmup to 1), else None."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    return None


def warmup_cosine(step: int, total: int, warmup: int = 0, min_ratio: float = 0.0) -> float:
    """Linear warmup, then a half cosine from 1 down to ``min_ratio`` at ``total``."""
    rising = _warmup(step, warmup)
    if rising is not None:
        return rising
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def linear(step: int, total: int, warmup: int = 0, min_ratio: float = 0.0) -> float:
    """Linear warmup, then a straight line from 1 down to ``min_ratio`` at ``total``."""
    rising = _warmup(step, warmup)
    if rising is not None:
        return rising
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 1 - (1 - min_ratio) * progress


def constant(step: int, total: int, warmup: int = 0, min_ratio: float = 0.0) -> float:
    """Linear warmup, then the peak rate throughout."""
    rising = _warmup(step, warmup)
    return 1.0 if rising is None else rising


def three_phase(
    step: int,
    total: int,
    warmup: int = 0,
    min_ratio: float = 0.05,
    boundaries: tuple[float, float] = (0.3, 0.8),
    explore_end_ratio: float = 0.6,
) -> float:
    """Warmup, then three phases over the remaining steps, split at ``boundaries`` (shares of ``total``):

    exploration   a high rate decaying linearly from 1 to ``explore_end_ratio``
    exploitation  a half cosine from ``explore_end_ratio`` down to ``min_ratio``
    refinement    a low constant tail at ``min_ratio``
    """
    rising = _warmup(step, warmup)
    if rising is not None:
        return rising
    explore_end, exploit_end = (max(warmup, round(share * total)) for share in boundaries)
    if step < explore_end:
        progress = (step - warmup) / max(1, explore_end - warmup)
        return 1 - (1 - explore_end_ratio) * progress
    if step < exploit_end:
        progress = (step - explore_end) / max(1, exploit_end - explore_end)
        return min_ratio + (explore_end_ratio - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return min_ratio


def phase_of(step: int, total: int, warmup: int = 0, boundaries: tuple[float, float] = (0.3, 0.8), **_) -> str:
    """The three-phase schedule's phase at ``step``: warmup, exploration, exploitation or refinement."""
    if warmup > 0 and step < warmup:
        return "warmup"
    explore_end, exploit_end = (max(warmup, round(share * total)) for share in boundaries)
    if step < explore_end:
        return "exploration"
    return "exploitation" if step < exploit_end else "refinement"


SCHEDULES: dict[str, Callable[..., float]] = {
    "warmup_cosine": warmup_cosine,
    "linear": linear,
    "constant": constant,
    "three_phase": three_phase,
}


def to_lambda(name: str, total: int, warmup: int, min_ratio: float, **options) -> Callable[[int], float]:
    """A step -> multiplier function with everything but the step bound (``options``: three_phase's shape)."""
    return partial(SCHEDULES[name], total=total, warmup=warmup, min_ratio=min_ratio, **options)


def schedule_settings(schedule_config, warmup: int) -> dict:
    """Everything a config's schedule needs but the step and the total: name, warmup, floor and shape."""
    settings = {"name": schedule_config.type, "warmup": warmup, "min_ratio": schedule_config.min_lr_ratio}
    if schedule_config.type == "three_phase":
        settings["boundaries"] = tuple(schedule_config.phase_boundaries)
        settings["explore_end_ratio"] = schedule_config.explore_end_ratio
    return settings


def phase_name(step: int, total: int, name: str, warmup: int, min_ratio: float = 0.0, **options) -> str:
    """The phase at ``step`` for any schedule: three_phase names its phases, the others are warmup then decay."""
    if name == "three_phase":
        return phase_of(step, total, warmup, **options)
    return "warmup" if warmup > 0 and step < warmup else "decay"


class PlateauReducer:
    """Lowers a schedule's rate when the validation loss stops improving; a plain object, no trainer needed.

    ``step(val_loss)`` after each evaluation returns the factor (1.0 until the first reduction) that multiplies
    the schedule's multiplier: after ``patience`` evaluations without an improvement of more than ``threshold``
    (relative), the factor is multiplied by ``factor``, never going below ``min_factor``.
    """

    def __init__(self, patience: int = 1, factor: float = 0.5, min_factor: float = 0.1, threshold: float = 1e-3):
        self.patience, self.reduce_by, self.min_factor, self.threshold = patience, factor, min_factor, threshold
        self.best: float | None = None
        self.bad_evaluations = 0
        self.factor = 1.0

    def step(self, val_loss: float) -> float:
        if self.best is None or val_loss < self.best * (1 - self.threshold):
            self.best, self.bad_evaluations = val_loss, 0
            return self.factor
        self.bad_evaluations += 1
        if self.bad_evaluations >= self.patience:
            self.factor = max(self.min_factor, self.factor * self.reduce_by)
            self.bad_evaluations = 0
        return self.factor

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_evaluations": self.bad_evaluations, "factor": self.factor}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad_evaluations, self.factor = state["best"], state["bad_evaluations"], state["factor"]


def plateau_reducer(schedule_config) -> PlateauReducer | None:
    """The config's plateau layer (``schedule.plateau``), or None when it is off."""
    plateau = schedule_config.plateau
    if plateau is None:
        return None
    return PlateauReducer(plateau.patience, plateau.factor, plateau.min_factor, plateau.threshold)

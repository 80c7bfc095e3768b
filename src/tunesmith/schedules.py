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


SCHEDULES: dict[str, Callable[..., float]] = {"warmup_cosine": warmup_cosine, "linear": linear, "constant": constant}


def to_lambda(name: str, total: int, warmup: int, min_ratio: float) -> Callable[[int], float]:
    """A step -> multiplier function with everything but the step bound."""
    return partial(SCHEDULES[name], total=total, warmup=warmup, min_ratio=min_ratio)

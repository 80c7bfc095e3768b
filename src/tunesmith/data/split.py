"""Deterministic train/valid/test splits that keep each category's share in every split."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def split_examples(examples: Sequence[T], fractions: dict[str, float], seed: int = 42) -> dict[str, list[T]]:
    """Split ``examples`` into ``train`` plus the named held-out parts (e.g. ``{"valid": 0.1, "test": 0.2}``).

    Examples are grouped by their ``category`` attribute (when present) and each group is dealt out so every
    split gets close to its share of every category; the first of each category goes to train, so no category
    is scored that training never saw. The overall sizes are exact up to rounding.
    """
    rng = random.Random(seed)
    targets = _target_sizes(len(examples), fractions)
    groups: dict[object, list[T]] = defaultdict(list)
    for example in examples:
        groups[getattr(example, "category", None)].append(example)
    parts: dict[str, list[T]] = {name: [] for name in targets}
    for key in sorted(groups, key=lambda name: (len(groups[name]), str(name))):  # rare categories first
        members = groups[key]
        rng.shuffle(members)
        for position, example in enumerate(members):
            first_of_category = position == 0 and len(parts["train"]) < targets["train"]
            parts["train" if first_of_category else _most_behind(parts, targets)].append(example)
    for members in parts.values():
        rng.shuffle(members)
    return parts


def _target_sizes(total: int, fractions: dict[str, float]) -> dict[str, int]:
    held_out = {name: round(total * share) for name, share in fractions.items() if share > 0}
    return {"train": total - sum(held_out.values()), **held_out}


def _most_behind(parts: dict[str, list[T]], targets: dict[str, int]) -> str:
    """The split furthest below its target share (ties go to the first named, i.e. train)."""
    open_parts = [name for name in targets if len(parts[name]) < targets[name]]
    return min(open_parts, key=lambda name: len(parts[name]) / targets[name])

"""Deterministic train/valid/test splits that keep each category's (and difficulty's) share in every split,
keep near-duplicate questions together, and keep augmented copies out of held-out splits."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import TypeVar

from tunesmith.data.duplicates import NEAR_DUPLICATE_SIMILARITY, duplicate_groups, similar_pairs
from tunesmith.data.text import normalize_answer

T = TypeVar("T")


def split_examples(
    examples: Sequence[T], fractions: dict[str, float], seed: int = 42, groups: Sequence[int] | None = None
) -> dict[str, list[T]]:
    """Split ``examples`` into ``train`` plus the named held-out parts (e.g. ``{"valid": 0.1, "test": 0.2}``).

    Examples are stratified by their ``category`` and ``difficulty`` attributes (when present) and each stratum
    is dealt out so every split gets close to its share; the first of each stratum goes to train, so nothing is
    scored that training never saw. ``groups`` (a group id per example, e.g. from near-duplicate detection)
    keeps linked examples in one split. Examples with ``augmented_from`` set go to train when their group does
    and are dropped otherwise: a copy of a held-out question must not be trained on, nor be scored.
    Sizes are exact up to rounding when no groups are given.
    """
    rng = random.Random(seed)
    units = _units(examples, groups)
    originals = sum(not _augmented(example) for unit in units for example in unit)
    targets = _target_sizes(originals, fractions)
    strata: dict[tuple, list[list[T]]] = defaultdict(list)
    for unit in units:
        strata[_stratum(unit[0])].append(unit)
    parts: dict[str, list[T]] = {name: [] for name in targets}
    for key in sorted(strata, key=lambda name: (len(strata[name]), str(name))):  # rare strata first
        members = strata[key]
        rng.shuffle(members)
        for position, unit in enumerate(members):
            first_of_stratum = position == 0 and _count(parts["train"]) < targets["train"]
            name = "train" if first_of_stratum else _most_behind(parts, targets)
            parts[name].extend(example for example in unit if name == "train" or not _augmented(example))
    for members in parts.values():
        rng.shuffle(members)
    return parts


def rephrased_valid(train: list[T], valid: list[T], movable: set[int], seed: int = 42) -> tuple[list[T], list[T]]:
    """Validation examples whose fact (their normalised answer) training never sees, swapped for a phrasing of a
    fact that training holds in two or more phrasings: the validation questions then ask trained facts in words
    training did not use, as a re-worded test split does, so choosing epochs by the validation answers measures
    recall of the facts instead of guesses at facts never taught. A swap keeps the stratum where it can; only
    examples whose ``id`` is in ``movable`` (no near-duplicate, no augmented copy) move, either way.
    """

    def fact(example) -> str:
        return normalize_answer(example.answer)

    phrasings: dict[str, list[T]] = defaultdict(list)
    for example in train:
        if not _augmented(example):
            phrasings[fact(example)].append(example)
    rng = random.Random(seed)
    train, valid = list(train), list(valid)
    for index, example in enumerate(valid):
        if fact(example) in phrasings or id(example) not in movable:
            continue
        spare = [
            candidate
            for same in phrasings.values()
            if len(same) >= 2
            for candidate in same
            if id(candidate) in movable and not any(fact(v) == fact(candidate) for v in valid)
        ]
        if not spare:
            break
        alike = [candidate for candidate in spare if _stratum(candidate) == _stratum(example)]
        chosen = rng.choice(alike or spare)
        phrasings[fact(chosen)].remove(chosen)
        train[next(i for i, item in enumerate(train) if item is chosen)] = example
        valid[index] = chosen
        phrasings[fact(example)].append(example)
    return train, valid


def _units(examples: Sequence[T], groups: Sequence[int] | None) -> list[list[T]]:
    """Examples bundled by group id, originals first in each bundle (so a bundle's stratum is its original's)."""
    if groups is None:
        return [[example] for example in examples]
    bundles: dict[int, list[T]] = {}
    for example, group in zip(examples, groups, strict=True):
        bundles.setdefault(group, []).append(example)
    return [sorted(bundle, key=_augmented) for bundle in bundles.values()]


def _stratum(example) -> tuple:
    return (str(getattr(example, "category", None)), str(getattr(example, "difficulty", None)))


def _augmented(example) -> bool:
    return getattr(example, "augmented_from", None) is not None


def _count(part: list) -> int:
    return sum(not _augmented(example) for example in part)


def _target_sizes(total: int, fractions: dict[str, float]) -> dict[str, int]:
    held_out = {name: round(total * share) for name, share in fractions.items() if share > 0}
    return {"train": total - sum(held_out.values()), **held_out}


def _most_behind(parts: dict[str, list[T]], targets: dict[str, int]) -> str:
    """The split furthest below its target share (ties go to the first named, i.e. train)."""
    open_parts = [name for name in targets if _count(parts[name]) < targets[name]] or ["train"]
    return min(open_parts, key=lambda name: _count(parts[name]) / max(1, targets[name]))


def example_key(example) -> str:
    """A stable id of an example's content (question and answer), which augmented copies point back to."""
    import hashlib

    text = normalize_answer(example.question) + "\x00" + normalize_answer(example.answer)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def linked_groups(examples: Sequence, threshold: float | None = None) -> list[int]:
    """A group id per example: near-duplicate questions share one, and augmented copies join their original's."""

    questions = [example.question for example in examples]
    groups = duplicate_groups(
        len(examples), similar_pairs(questions, threshold=threshold or NEAR_DUPLICATE_SIMILARITY)
    )
    group_by_key = {example_key(example): group for example, group in zip(examples, groups) if not _augmented(example)}
    return [group_by_key.get(example.augmented_from, group) for example, group in zip(examples, groups)]

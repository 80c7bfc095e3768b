"""Pair validation before training: drop empty texts, duplicates and contradictory labels, and say what went.

Texts are compared after folding case and whitespace; a pair is the same whichever way round it is written.
    empty          a text is blank
    self_pair      a pair or triplet whose texts are the same text (nothing to learn)
    duplicate      a later copy of a record already kept (same texts and the same label or score)
    contradictory  the same pair with different labels (labelled), scores further apart than
                   ``score_tolerance`` (scored), or the same text under two classes: every copy goes
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from tunesmith.data.pairs import Pair, PairSet, Triplet

REASONS = ("empty", "self_pair", "duplicate", "contradictory")


@dataclass
class ValidationReport:
    kept: int
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    examples: dict[str, list[str]] = field(default_factory=dict)  # up to 3 dropped records per reason

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    def to_dict(self) -> dict:
        return {"kept": self.kept, "dropped": self.dropped, "examples": self.examples}

    def summary(self) -> str:
        parts = [f"{count} {reason.replace('_', ' ')}" for reason, count in self.dropped.items() if count]
        return f"kept {self.kept}, dropped " + (", ".join(parts) if parts else "nothing")


def validate_pairs(data: PairSet, score_tolerance: float = 0.4) -> tuple[PairSet, ValidationReport]:
    """The records worth training on, in their order, and what was dropped and why."""
    reasons: list[str | None] = [_empty_or_self(record) for record in data.records]
    keys = [_key(record, data.shape) if reason is None else None for record, reason in zip(data.records, reasons)]
    contradicted = _contradicted(data, keys, reasons, score_tolerance)
    seen: set = set()
    for index, key in enumerate(keys):
        if reasons[index] is not None:
            continue
        if key[0] in contradicted:
            reasons[index] = "contradictory"
        elif key in seen:
            reasons[index] = "duplicate"
        else:
            seen.add(key)
    report = ValidationReport(kept=sum(reason is None for reason in reasons))
    for record, reason in zip(data.records, reasons):
        if reason is not None:
            report.dropped[reason] += 1
            shown = report.examples.setdefault(reason, [])
            if len(shown) < 3:
                shown.append(_describe(record))
    kept = [record for record, reason in zip(data.records, reasons) if reason is None]
    return PairSet(data.shape, kept), report


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _texts(record) -> list[str | None]:
    if isinstance(record, Pair):
        return [record.text1, record.text2]
    if isinstance(record, Triplet):
        return [record.anchor, record.positive] + ([record.negative] if record.negative is not None else [])
    return [record.text]


def _empty_or_self(record) -> str | None:
    texts = [_norm(text) for text in _texts(record)]
    if any(not text for text in texts):
        return "empty"
    if len(texts) > 1 and len(set(texts)) < len(texts):
        return "self_pair"
    return None


def _key(record, shape: str) -> tuple:
    """(identity of what is compared, its label): duplicates share both, contradictions only the first."""
    if isinstance(record, Pair):
        return (tuple(sorted((_norm(record.text1), _norm(record.text2)))), record.score)
    if isinstance(record, Triplet):
        return ((_norm(record.anchor), _norm(record.positive)), _norm(record.negative))
    return (_norm(record.text), record.label)


def _contradicted(data: PairSet, keys: list, reasons: list, tolerance: float) -> set:
    labels: dict = defaultdict(list)
    for key, reason in zip(keys, reasons):
        if reason is None:
            labels[key[0]].append(key[1])
    if data.shape == "scored_pairs":
        return {what for what, scores in labels.items() if max(scores) - min(scores) > tolerance}
    if data.shape in ("labelled_pairs", "classes"):
        return {what for what, values in labels.items() if len(Counter(values)) > 1}
    return set()


def _describe(record) -> str:
    return " | ".join(text if text is not None else "" for text in _texts(record))[:200]

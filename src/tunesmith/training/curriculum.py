"""Curriculum: train easy to hard. Each example gets a difficulty score; the run's epochs are split into phases,
and phase k (of N) draws its epoch from the easiest k/N share of the data, so the last phase sees everything.

An epoch keeps its length (examples drawn from the pool, reshuffled as needed), so the plan's step count, the
schedule and resume are unchanged; the order is a pure function of the seed and the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.utils.data import Sampler

from tunesmith.errors import DataError

DIFFICULTY_WORDS = {
    "easy": 0.0, "beginner": 0.0, "basic": 0.0,
    "medium": 1.0, "intermediate": 1.0, "moderate": 1.0,
    "hard": 2.0, "advanced": 2.0, "difficult": 2.0, "expert": 3.0,
}  # fmt: skip


def label_scores(labels: Sequence[str | None], sources: Sequence[str]) -> list[float]:
    """Difficulty labels as numbers: numeric labels (or scores) as they are, or easy/medium/hard-style words."""
    scores = []
    for label, source in zip(labels, sources):
        if label is None:
            raise DataError(f"{source}: curriculum 'difficulty' needs a difficulty on every training example")
        text = str(label).strip().lower()
        try:
            scores.append(float(text))
        except ValueError:
            if text not in DIFFICULTY_WORDS:
                known = ", ".join(DIFFICULTY_WORDS)
                raise DataError(f"{source}: difficulty '{label}' is neither a number nor one of {known}") from None
            scores.append(DIFFICULTY_WORDS[text])
    return scores


def length_scores(dataset) -> list[float]:
    """Longer examples count as harder."""
    return [float(len(ids)) for ids in dataset["input_ids"]]


def base_loss_scores(model, dataset) -> list[float]:
    """The model's own loss on each example before training (with a fresh LoRA adapter: the base model's)."""
    was_training = model.training
    model.eval()
    scores = []
    with torch.no_grad():
        for row in dataset:
            inputs = {name: torch.tensor([row[name]]) for name in ("input_ids", "labels")}
            scores.append(float(model(**inputs).loss))
    model.train(was_training)
    return scores


def phase_of_epoch(epoch: int, epochs: int, phases: int) -> int:
    """0-based phase of a 0-based epoch when ``epochs`` are split into ``phases`` equal parts."""
    return min(phases - 1, epoch * phases // max(1, epochs))


class CurriculumSampler(Sampler[int]):
    """Indices for one epoch: drawn from the easiest (phase + 1)/phases share, shuffled with (seed, epoch)."""

    def __init__(self, scores: Sequence[float], phases: int, epochs: int, seed: int = 0) -> None:
        self.easy_to_hard = sorted(range(len(scores)), key=lambda index: (scores[index], index))
        self.phases, self.epochs, self.seed = phases, epochs, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def pool(self, epoch: int) -> list[int]:
        phase = phase_of_epoch(epoch, self.epochs, self.phases)
        size = max(1, math.ceil(len(self.easy_to_hard) * (phase + 1) / self.phases))
        return self.easy_to_hard[:size]

    def __len__(self) -> int:
        return len(self.easy_to_hard)

    def __iter__(self):
        pool = self.pool(self.epoch)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        drawn: list[int] = []
        while len(drawn) < len(self):
            drawn += [pool[i] for i in torch.randperm(len(pool), generator=generator).tolist()]
        return iter(drawn[: len(self)])

"""Curriculum phases, easy to hard: a pair is hard when its word overlap points away from its label.

Difficulty of a scored or labelled pair = |TF-IDF cosine of its two texts - its score|: a paraphrase with few
shared words, or a dissimilar pair with many, is hard; pairs whose overlap agrees with their score are easy.
Phases are cumulative: the first holds the easiest share, the last holds every pair.
"""

from __future__ import annotations

import numpy as np

from tunesmith.data.pairs import Pair


def pair_difficulty(pairs: list[Pair]) -> np.ndarray:
    """|TF-IDF cosine(text1, text2) - score| per pair, in 0..1."""
    from tunesmith.data.negatives import tfidf_vectors

    vectors = tfidf_vectors([p.text1 for p in pairs] + [p.text2 for p in pairs])
    left, right = vectors[: len(pairs)], vectors[len(pairs) :]
    overlap = np.asarray(left.multiply(right).sum(axis=1)).ravel()
    return np.abs(overlap - np.array([p.score for p in pairs]))


def curriculum_phases(pairs: list[Pair], n_phases: int = 2) -> list[list[Pair]]:
    """``n_phases`` cumulative phases: phase k holds the easiest k/n of the pairs (the last: all of them)."""
    order = np.argsort(pair_difficulty(pairs), kind="stable")
    phases = []
    for phase in range(1, n_phases + 1):
        count = round(len(pairs) * phase / n_phases)
        phases.append([pairs[i] for i in sorted(order[:count])])
    return phases

"""The adversarial check: pairs where word overlap points the wrong way, reported apart from the rest.

    traps        pairs that share many words (Jaccard >= TRAP_OVERLAP) but are scored dissimilar (<= TRAP_SCORE)
    paraphrases  pairs that share few words (Jaccard <= PARAPHRASE_OVERLAP) but are scored similar
                 (>= PARAPHRASE_SCORE)

A model judges such a pair right when its cosine similarity falls on the correct side of the median similarity
of all the test pairs: traps below it, paraphrases above. A bag-of-words model gets both groups wrong.
"""

from __future__ import annotations

import re

import numpy as np

TRAP_OVERLAP, TRAP_SCORE = 0.5, 0.4
PARAPHRASE_OVERLAP, PARAPHRASE_SCORE = 0.35, 0.8
WORD = re.compile(r"\w+")


def word_overlap(left: str, right: str) -> float:
    """Jaccard similarity of the two texts' lower-cased word sets."""
    a, b = set(WORD.findall(left.lower())), set(WORD.findall(right.lower()))
    return len(a & b) / len(a | b) if a | b else 0.0


def adversarial_groups(pairs) -> dict[str, list[int]]:
    """Indices of the trap and paraphrase pairs among ``pairs`` (objects with text1, text2, score in 0..1)."""
    groups: dict[str, list[int]] = {"trap": [], "paraphrase": []}
    for index, pair in enumerate(pairs):
        overlap = word_overlap(pair.text1, pair.text2)
        if overlap >= TRAP_OVERLAP and pair.score <= TRAP_SCORE:
            groups["trap"].append(index)
        elif overlap <= PARAPHRASE_OVERLAP and pair.score >= PARAPHRASE_SCORE:
            groups["paraphrase"].append(index)
    return groups


def adversarial_metrics(similarities, groups: dict[str, list[int]]) -> dict[str, float]:
    """Per group: its size, the share judged right (see the module docstring) and its mean cosine similarity."""
    similarities = np.asarray(similarities, dtype=np.float64)
    median = float(np.median(similarities))
    results: dict[str, float] = {}
    for name, indices in groups.items():
        values = similarities[indices]
        right = values < median if name == "trap" else values > median
        results[f"{name}_n"] = len(indices)
        if len(indices):
            results[f"{name}_correct"] = float(np.mean(right))
            results[f"{name}_mean_cos"] = float(np.mean(values))
    return results

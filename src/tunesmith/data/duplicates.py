"""Exact and near-duplicate questions, within a dataset and across its splits.

Near duplicates are found with word uni- and bigram TF-IDF cosine similarity on the normalised question.
Words, not characters: "prerequisites for CSC 325?" and "... CSC 330?" share almost every character but ask
different things, and the rare course number carries a high IDF weight that keeps them apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunesmith.data.text import normalize_answer

NEAR_DUPLICATE_SIMILARITY = 0.85
_CHUNK = 2048  # rows per sparse product, so memory stays flat on large datasets


def normalize_question(text: str) -> str:
    return normalize_answer(text)


def similar_pairs(
    texts: Sequence[str], others: Sequence[str] | None = None, threshold: float = NEAR_DUPLICATE_SIMILARITY
) -> list[tuple[int, int, float]]:
    """``(i, j, similarity)`` for pairs at or above ``threshold``: within ``texts`` (i < j) or, given ``others``,
    between ``texts[i]`` and ``others[j]``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if not texts or (others is not None and not others):
        return []
    corpus = [normalize_question(text) for text in [*texts, *(others or [])]]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
    try:
        matrix = vectorizer.fit_transform(corpus)
    except ValueError:  # every text empty after normalisation
        return []
    left = matrix[: len(texts)]
    right = left if others is None else matrix[len(texts) :]
    pairs = []
    for start in range(0, left.shape[0], _CHUNK):
        block = (left[start : start + _CHUNK] @ right.T).tocoo()
        for i, j, value in zip(block.row, block.col, block.data):
            i = int(i) + start
            if value >= threshold - 1e-9 and (others is not None or i < j):
                pairs.append((i, int(j), round(float(value), 4)))
    return sorted(pairs)


def duplicate_groups(size: int, pairs: Sequence[tuple[int, int, float]]) -> list[int]:
    """A group id per item such that items linked by a pair (directly or through others) share an id."""
    parent = list(range(size))

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    return [root(item) for item in range(size)]

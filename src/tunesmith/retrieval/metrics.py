"""Retrieval scores over a list of queries: recall@k and mean reciprocal rank.

Each query's gold is the set of passage ids that answer it (one id, or several when the answer is spread over
passages). Hits may be :class:`~tunesmith.retrieval.index.Hit` objects or plain passage ids, best first.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any


def recall_at_k(hits: Sequence[Sequence[Any]], gold_ids: Sequence[str | Collection[str]], k: int) -> float:
    """Mean over queries of the share of gold ids found in the top ``k`` hits."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    total = 0.0
    for found, gold in _pairs(hits, gold_ids):
        total += len(gold & set(found[:k])) / len(gold)
    return total / len(hits)


def mrr(hits: Sequence[Sequence[Any]], gold_ids: Sequence[str | Collection[str]]) -> float:
    """Mean over queries of 1 / (rank of the first gold hit), 0 for a query whose hits hold no gold id."""
    total = 0.0
    for found, gold in _pairs(hits, gold_ids):
        total += next((1.0 / rank for rank, pid in enumerate(found, start=1) if pid in gold), 0.0)
    return total / len(hits)


def _pairs(hits, gold_ids):
    """(hit ids, gold id set) per query, checking that both lists line up and no query lacks gold ids."""
    if len(hits) != len(gold_ids):
        raise ValueError(f"{len(hits)} result lists but {len(gold_ids)} gold lists")
    if not hits:
        raise ValueError("no queries to score")
    for number, (found, gold) in enumerate(zip(hits, gold_ids)):
        gold = {gold} if isinstance(gold, str) else set(gold)
        if not gold:
            raise ValueError(f"query {number} has no gold passage ids")
        yield [hit if isinstance(hit, str) else hit.passage.id for hit in found], gold

"""recall@k and MRR on a hand-made case."""

import pytest

from tunesmith.retrieval import Hit, mrr, recall_at_k
from tunesmith.retrieval.passages import Passage


def hits(*ids):
    return [Hit(Passage(pid, f"text {pid}", "kb"), 1.0, None, None) for pid in ids]


RESULTS = [hits("a", "b", "c"), hits("x", "y", "g"), hits("p", "q", "r")]
GOLD = ["a", {"g", "h"}, ["z"]]


def test_recall_at_k_is_the_mean_share_of_gold_ids_in_the_top_k():
    assert recall_at_k(RESULTS, GOLD, k=1) == pytest.approx((1 + 0 + 0) / 3)
    assert recall_at_k(RESULTS, GOLD, k=3) == pytest.approx((1 + 0.5 + 0) / 3)
    assert recall_at_k([["a", "b"]], ["b"], k=2) == 1.0  # plain ids work too


def test_mrr_is_the_mean_inverse_rank_of_the_first_gold_hit():
    assert mrr(RESULTS, GOLD) == pytest.approx((1 + 1 / 3 + 0) / 3)


def test_mismatched_or_empty_gold_is_an_error():
    with pytest.raises(ValueError, match="3 result lists but 2 gold lists"):
        mrr(RESULTS, GOLD[:2])
    with pytest.raises(ValueError, match="query 0 has no gold passage ids"):
        recall_at_k([hits("a")], [set()], k=1)
    with pytest.raises(ValueError, match="no queries"):
        mrr([], [])

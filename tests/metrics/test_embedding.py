"""Embedding metrics checked against scipy and scikit-learn computed the long way."""

import numpy as np
import pytest
from scipy.stats import pearsonr, rankdata
from sklearn.metrics import accuracy_score, f1_score, ndcg_score, roc_auc_score

from tunesmith.data.pairs import LabelledText, Pair, PairSet, Triplet
from tunesmith.metrics.embedding import (
    labelled_pair_metrics,
    pair_cosines,
    retrieval_metrics,
    scored_pair_metrics,
    truncate,
)
from tunesmith.metrics.embedding_eval import evaluate_embeddings


def test_truncate_keeps_the_first_coordinates_at_unit_length():
    vectors = np.array([[3.0, 4.0, 12.0], [0.0, 0.0, 1.0]])
    assert np.allclose(truncate(vectors, 2), [[0.6, 0.8], [0.0, 0.0]])
    assert np.allclose(np.linalg.norm(truncate(vectors), axis=1), 1.0)
    assert np.allclose(pair_cosines(vectors, vectors[::-1], 2), [0.0, 0.0])
    assert np.allclose(pair_cosines(vectors, vectors), [1.0, 1.0])


def test_spearman_and_pearson_match_rank_and_linear_correlation():
    rng = np.random.default_rng(0)
    gold = rng.uniform(0, 1, 200)
    predicted = gold + rng.normal(0, 0.3, 200)
    result = scored_pair_metrics(predicted, gold)
    assert result["spearman"] == pytest.approx(np.corrcoef(rankdata(predicted), rankdata(gold))[0, 1])
    assert result["pearson"] == pytest.approx(pearsonr(predicted, gold).statistic)
    assert scored_pair_metrics([1, 2, 3], [10, 20, 30])["spearman"] == pytest.approx(1.0)


def test_best_threshold_f1_and_accuracy_match_a_search_over_every_threshold():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = np.round(labels * 0.3 + rng.uniform(0, 1, 300), 2)  # rounded: ties between pairs must be handled
    result = labelled_pair_metrics(scores, labels)
    thresholds = np.unique(scores)
    best_f1 = max(f1_score(labels, scores >= t) for t in thresholds)
    best_accuracy = max(accuracy_score(labels, scores >= t) for t in [*thresholds, np.inf])
    assert result["roc_auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert result["f1"] == pytest.approx(best_f1)
    assert result["accuracy"] == pytest.approx(best_accuracy)
    assert f1_score(labels, scores >= result["f1_threshold"]) == pytest.approx(best_f1)


def test_retrieval_ndcg_mrr_and_recall_match_their_definitions():
    rng = np.random.default_rng(2)
    queries, corpus = rng.normal(size=(30, 8)), rng.normal(size=(40, 8))
    relevant = [set(rng.choice(40, size=rng.integers(1, 6), replace=False).tolist()) for _ in range(30)]
    result = retrieval_metrics(queries, corpus, relevant, ks=(1, 5, 10))
    scores = truncate(queries) @ truncate(corpus).T
    truth = np.array([[doc in wanted for doc in range(40)] for wanted in relevant], dtype=float)
    assert result["ndcg@10"] == pytest.approx(ndcg_score(truth, scores, k=10))
    ranks = np.argsort(-scores, axis=1)
    reciprocal = [
        next((1 / (i + 1) for i, doc in enumerate(row[:10]) if doc in wanted), 0.0)
        for row, wanted in zip(ranks, relevant)
    ]
    assert result["mrr@10"] == pytest.approx(np.mean(reciprocal))
    for k in (1, 5, 10):
        recall = np.mean([len(set(row[:k]) & wanted) / len(wanted) for row, wanted in zip(ranks, relevant)])
        assert result[f"recall@{k}"] == pytest.approx(recall)


def test_excluded_documents_are_never_ranked():
    vectors = np.eye(3)
    result = retrieval_metrics(vectors, vectors, [{0}, {1}, {2}], ks=(1,), exclude=[0, 1, 2])
    assert result["recall@1"] == 0.0 and result["mrr@10"] < 1.0


@pytest.fixture(scope="module")
def tiny_model(tiny_bert_dir):
    from tunesmith.tasks.embedding import load_sentence_model

    return load_sentence_model(tiny_bert_dir)


def test_evaluate_embeddings_scores_each_shape_at_each_dimension(tiny_model):
    scored = PairSet(
        "scored_pairs",
        [Pair("a red car", "a blue car", 0.6), Pair("a dog", "a tree", 0.1), Pair("a cat", "a cat", 1.0)],
    )
    result = evaluate_embeddings(tiny_model, scored, dims=[16, 8, 64])
    assert list(result) == ["32", "16", "8"] and set(result["8"]) == {
        "n",
        "spearman",
        "pearson",
        "trap_n",
        "paraphrase_n",
    }
    classes = PairSet(
        "classes", [LabelledText(f"{word} {i}", word) for word in ("printer", "vpn", "email") for i in range(4)]
    )
    result = evaluate_embeddings(tiny_model, classes, dims=[16], ks=[1, 3])
    assert {"ndcg@10", "mrr@10", "recall@1", "recall@3", "pairs_roc_auc", "pairs_f1"} <= set(result["16"])
    assert result["32"]["n"] == 12
    triplets = PairSet("triplets", [Triplet("q1", "p1", "n1"), Triplet("q2", "p2")])
    assert set(evaluate_embeddings(tiny_model, triplets)["32"]) >= {"ndcg@10", "mrr@10", "recall@1"}

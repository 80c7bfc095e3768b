"""Embedding metrics on plain arrays: scored pairs (Spearman, Pearson), labelled pairs (ROC-AUC, best-threshold F1
and accuracy) and retrieval (NDCG@10, MRR@10, Recall@k). Every function returns ``dict[str, float]``.

Embeddings are compared by cosine similarity; a Matryoshka dimension keeps the first ``dim`` coordinates and
re-normalises them (see :func:`truncate`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PRIMARY_METRIC = {"scored_pairs": "spearman", "labelled_pairs": "roc_auc", "retrieval": "ndcg@10"}


def truncate(embeddings: np.ndarray, dim: int | None = None) -> np.ndarray:
    """The first ``dim`` coordinates (all when None), scaled to unit length."""
    part = np.asarray(embeddings, dtype=np.float64)[:, :dim] if dim else np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(part, axis=1, keepdims=True)
    return part / np.where(norms == 0, 1.0, norms)


def pair_cosines(left: np.ndarray, right: np.ndarray, dim: int | None = None) -> np.ndarray:
    """Cosine similarity of row i of ``left`` with row i of ``right``."""
    return np.sum(truncate(left, dim) * truncate(right, dim), axis=1)


def scored_pair_metrics(similarities: Sequence[float], gold: Sequence[float]) -> dict[str, float]:
    """Rank (Spearman) and linear (Pearson) correlation of predicted similarities with gold scores."""
    from scipy.stats import pearsonr, spearmanr

    return {
        "spearman": float(spearmanr(similarities, gold).statistic),
        "pearson": float(pearsonr(similarities, gold).statistic),
    }


def labelled_pair_metrics(similarities: Sequence[float], labels: Sequence[int]) -> dict[str, float]:
    """ROC-AUC, and the F1 and accuracy at their best similarity thresholds (chosen on these same pairs)."""
    from sklearn.metrics import roc_auc_score

    similarities, labels = np.asarray(similarities, dtype=np.float64), np.asarray(labels).astype(int)
    order = np.argsort(-similarities, kind="stable")
    ranked_scores, ranked_labels = similarities[order], labels[order]
    # Threshold between distinct scores: predicting positive for the first k pairs, for each k where the score changes.
    cut = np.r_[np.flatnonzero(np.diff(ranked_scores)) + 1, len(ranked_scores)]
    true_pos = np.cumsum(ranked_labels)[cut - 1]
    predicted = cut
    positives, total = ranked_labels.sum(), len(ranked_labels)
    f1 = np.where(predicted + positives > 0, 2 * true_pos / (predicted + positives), 0.0)
    accuracy_at = (true_pos + (total - positives) - (predicted - true_pos)) / total
    accuracy = max(float(accuracy_at.max()), (total - positives) / total)  # also: nothing predicted positive
    best = int(np.argmax(f1))
    return {
        "roc_auc": float(roc_auc_score(labels, similarities)),
        "f1": float(f1[best]),
        "f1_threshold": float(ranked_scores[cut[best] - 1]),
        "accuracy": float(accuracy),
    }


def retrieval_metrics(
    query_embeddings: np.ndarray,
    corpus_embeddings: np.ndarray,
    relevant: Sequence[set[int]],
    ks: Sequence[int] = (1, 5, 10),
    dim: int | None = None,
    exclude: Sequence[int | None] | None = None,
) -> dict[str, float]:
    """NDCG@10, MRR@10 and Recall@k of ranking the corpus by cosine similarity to each query.

    Args:
        relevant: for query i, the corpus indices that are relevant to it (binary relevance).
        exclude: for query i, a corpus index never ranked (the query itself when it is in the corpus).
    """
    scores = truncate(query_embeddings, dim) @ truncate(corpus_embeddings, dim).T
    if exclude is not None:
        for row, column in enumerate(exclude):
            if column is not None:
                scores[row, column] = -np.inf
    depth = min(max(10, *ks), scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
    hits = np.array([[doc in wanted for doc in ranked] for ranked, wanted in zip(top, relevant)], dtype=np.float64)
    n_relevant = np.array([len(wanted) for wanted in relevant], dtype=np.float64)
    results = {
        "ndcg@10": float(np.mean(_ndcg(hits[:, :10], n_relevant))),
        "mrr@10": float(np.mean(_mrr(hits[:, :10]))),
    }
    for k in ks:
        results[f"recall@{k}"] = float(np.mean(hits[:, :k].sum(axis=1) / np.maximum(n_relevant, 1)))
    return results


def _ndcg(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    discounts = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = hits @ discounts
    ideal = np.array([discounts[: int(min(n, hits.shape[1]))].sum() for n in n_relevant])
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def _mrr(hits: np.ndarray) -> np.ndarray:
    first = np.argmax(hits > 0, axis=1)
    return np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)

"""Score a sentence-embedding model on a test PairSet, at every Matryoshka dimension, from one encoding pass.

What is scored follows the test data's shape:
    scored_pairs    Spearman and Pearson of cosine similarity against the gold scores
    labelled_pairs  ROC-AUC, best-threshold F1 and accuracy
    (both pair shapes also get the adversarial check of :mod:`tunesmith.metrics.adversarial`)
    triplets        retrieval: each anchor against all positives (and negatives); its own positive is relevant
    classes         retrieval: each text against the other test texts, those of its label relevant; and the
                    labelled pairs built from the classes (same label = 1)
"""

from __future__ import annotations

import random

import numpy as np

from tunesmith.data.pairs import PairSet, pairs_from_classes
from tunesmith.metrics.adversarial import adversarial_groups, adversarial_metrics
from tunesmith.metrics.embedding import (
    labelled_pair_metrics,
    pair_cosines,
    retrieval_metrics,
    scored_pair_metrics,
)

FULL = "full"


def encode_texts(model, texts: list[str], batch_size: int = 64, description: str | None = None) -> np.ndarray:
    """Unit-free float32 embeddings of ``texts`` (no normalisation: dimensions are cut before normalising)."""
    return model.encode(
        texts,
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=False,
        show_progress_bar=description is not None and len(texts) > 2000,
    )


def dims_to_score(full_dim: int, dims: list[int] | None) -> list[int | None]:
    """None (the full size) and every smaller dimension asked for, largest first."""
    return [None, *sorted({dim for dim in dims or [] if dim < full_dim}, reverse=True)]


def dim_label(dim: int | None, full_dim: int) -> str:
    return str(dim or full_dim)


def evaluate_embeddings(
    model,
    test: PairSet,
    dims: list[int] | None = None,
    ks: list[int] | tuple[int, ...] = (1, 5, 10),
    batch_size: int = 64,
    seed: int = 42,
    pairs_per_text: int = 2,
) -> dict[str, dict[str, float]]:
    """``{dimension: {metric: value}}`` for one model; the full size is keyed by its own dimension."""
    texts = test.texts()
    index = {text: i for i, text in enumerate(texts)}
    embeddings = encode_texts(model, texts, batch_size, description="encoding")
    full_dim = embeddings.shape[1]
    results = {}
    for dim in dims_to_score(full_dim, dims):
        results[dim_label(dim, full_dim)] = _score(test, embeddings, index, dim, ks, seed, pairs_per_text)
    return results


def _score(test: PairSet, embeddings, index, dim, ks, seed, pairs_per_text) -> dict[str, float]:
    if test.shape in ("scored_pairs", "labelled_pairs"):
        left = embeddings[[index[p.text1] for p in test.records]]
        right = embeddings[[index[p.text2] for p in test.records]]
        similarities = pair_cosines(left, right, dim)
        gold = [p.score for p in test.records]
        adversarial = adversarial_metrics(similarities, adversarial_groups(test.records))
        if test.shape == "scored_pairs":
            return {"n": len(gold), **scored_pair_metrics(similarities, gold), **adversarial}
        return {"n": len(gold), **labelled_pair_metrics(similarities, gold), **adversarial}
    if test.shape == "triplets":
        return _triplet_retrieval(test, embeddings, index, dim, ks)
    if test.shape == "classes":
        return _class_scores(test, embeddings, index, dim, ks, seed, pairs_per_text)
    return {}  # raw texts carry nothing to score against


def _triplet_retrieval(test: PairSet, embeddings, index, dim, ks) -> dict[str, float]:
    corpus = list(dict.fromkeys(t for r in test.records for t in (r.positive, r.negative) if t is not None))
    where = {text: i for i, text in enumerate(corpus)}
    queries = embeddings[[index[r.anchor] for r in test.records]]
    relevant = [{where[r.positive]} for r in test.records]
    corpus_embeddings = embeddings[[index[text] for text in corpus]]
    return {"n": len(relevant), **retrieval_metrics(queries, corpus_embeddings, relevant, ks, dim)}


def _class_scores(test: PairSet, embeddings, index, dim, ks, seed, pairs_per_text) -> dict[str, float]:
    items = test.records
    rows = [index[item.text] for item in items]
    labels = [item.label for item in items]
    relevant = [{j for j, other in enumerate(labels) if other == label and j != i} for i, label in enumerate(labels)]
    retrieval = retrieval_metrics(
        embeddings[rows], embeddings[rows], relevant, ks, dim, exclude=list(range(len(rows)))
    )
    pairs = pairs_from_classes(items, max(2, pairs_per_text), random.Random(seed).randrange(2**31))
    left = embeddings[[index[p.text1] for p in pairs]]
    right = embeddings[[index[p.text2] for p in pairs]]
    classified = labelled_pair_metrics(pair_cosines(left, right, dim), [p.score for p in pairs])
    return {"n": len(items), **retrieval, **{f"pairs_{name}": value for name, value in classified.items()}}

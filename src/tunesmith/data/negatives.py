"""TF-IDF hard examples: negatives that share words with the anchor without being paraphrases, and positives of
the same class that share few words (the pairs an off-the-shelf model gets wrong).

A mined negative must fall in a similarity band (default 0.3 to 0.5): below it the negative is easy, above it
it is likely a paraphrase, i.e. a false negative. With class labels, negatives come from other classes only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from tunesmith.data.pairs import LabelledText, Pair, Triplet

CHUNK = 1024  # anchor rows per sparse product: bounds memory on large corpora


@dataclass
class MiningReport:
    anchors: int
    with_negative: int
    band: tuple[float, float]

    def to_dict(self) -> dict:
        return {"anchors": self.anchors, "with_negative": self.with_negative, "band": list(self.band)}


def tfidf_vectors(texts: list[str]):
    """L2-normalised TF-IDF rows (word unigrams and bigrams, sublinear tf): their dot product is the cosine."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    return vectorizer.fit_transform(texts)


def tfidf_similarity(left: list[str], right: list[str]) -> np.ndarray:
    """Cosine similarity of each left text with each right text (one vocabulary fitted on both)."""
    vectors = tfidf_vectors(left + right)
    return (vectors[: len(left)] @ vectors[len(left) :].T).toarray()


def mine_hard_negatives(
    pairs: list[tuple[str, str]],
    candidates: list[str],
    band: tuple[float, float] = (0.3, 0.5),
    labels: dict[str, str] | None = None,
) -> tuple[list[Triplet], MiningReport]:
    """For each (anchor, positive), the candidate most similar to the anchor within ``band``, as a negative.

    Candidates equal to the anchor or the positive, and (with ``labels``: text -> class) candidates of the anchor's
    class, are never chosen. Pairs with no candidate in the band keep no negative.
    """
    low, high = band
    anchors = [anchor for anchor, _ in pairs]
    vectors = tfidf_vectors(anchors + candidates)
    anchor_vectors, candidate_vectors = vectors[: len(anchors)], vectors[len(anchors) :]
    candidate_labels = [labels.get(text) for text in candidates] if labels else None
    triplets, found = [], 0
    for start in range(0, len(pairs), CHUNK):
        block = (anchor_vectors[start : start + CHUNK] @ candidate_vectors.T).toarray()
        for offset, similarities in enumerate(block):
            anchor, positive = pairs[start + offset]
            in_band = np.flatnonzero((similarities >= low) & (similarities <= high))
            chosen = None
            for index in in_band[np.argsort(-similarities[in_band], kind="stable")]:
                text = candidates[index]
                if text in (anchor, positive):
                    continue
                if candidate_labels is not None and candidate_labels[index] == labels.get(anchor):
                    continue
                chosen = text
                break
            found += chosen is not None
            triplets.append(Triplet(anchor, positive, chosen))
    return triplets, MiningReport(len(pairs), found, (low, high))


def hard_positives(texts: list[LabelledText], per_text: int = 1, seed: int = 42) -> list[Pair]:
    """For each text, the ``per_text`` texts of its class it shares the fewest words with (TF-IDF), as positives."""
    by_label: dict[str, list[int]] = {}
    for index, item in enumerate(texts):
        by_label.setdefault(item.label, []).append(index)
    vectors = tfidf_vectors([item.text for item in texts])
    pairs = []
    for members in by_label.values():
        if len(members) < 2:
            continue
        similarities = (vectors[members] @ vectors[members].T).toarray()
        np.fill_diagonal(similarities, np.inf)
        for row, index in enumerate(members):
            for column in np.argsort(similarities[row], kind="stable")[:per_text]:
                if texts[members[column]].text != texts[index].text:
                    pairs.append(Pair(texts[index].text, texts[members[column]].text, 1.0))
    random.Random(seed).shuffle(pairs)
    return pairs

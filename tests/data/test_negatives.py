"""TF-IDF hard-negative mining in a similarity band, and hard positives within a class."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from tunesmith.data.negatives import hard_positives, mine_hard_negatives, tfidf_similarity
from tunesmith.data.pairs import LabelledText

CANDIDATES = [
    "printer on floor two is jammed again",  # shares many words with the anchor: above the band
    "printer toner is empty on floor three",  # shares some: in the band
    "my laptop battery does not charge",  # shares none: below the band
    "vpn printer",
]


def test_similarity_is_the_cosine_of_tfidf_vectors():
    left, right = ["a red printer", "blue screen"], ["red printer jam", "screen is blue"]
    vectors = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(left + right).toarray()
    expected = vectors[:2] @ vectors[2:].T
    assert np.allclose(tfidf_similarity(left, right), expected)


def test_the_negative_is_the_most_similar_candidate_inside_the_band():
    anchor, positive = "the printer on floor two is jammed", "paper stuck in the second floor printer"
    similarities = tfidf_similarity([anchor], CANDIDATES)[0]
    low, high = 0.1, 0.6
    assert similarities[0] > high and low <= similarities[1] <= high and similarities[2] < low  # the fixture's premise
    in_band = [i for i, s in enumerate(similarities) if low <= s <= high]
    best = max(in_band, key=lambda i: similarities[i])
    [triplet], report = mine_hard_negatives([(anchor, positive)], CANDIDATES, band=(low, high))
    assert triplet.anchor == anchor and triplet.positive == positive and triplet.negative == CANDIDATES[best]
    assert report.with_negative == 1 and report.anchors == 1


def test_no_candidate_in_the_band_leaves_the_pair_without_a_negative():
    [triplet], report = mine_hard_negatives([("printer jammed", "printer stuck")], ["laptop battery"], band=(0.3, 0.5))
    assert triplet.negative is None and report.with_negative == 0


def test_the_positive_the_anchor_and_the_anchors_class_are_never_negatives():
    anchor = "printer jammed on floor two"
    candidates = [anchor, "printer jammed on floor three", "printer jammed floor two again"]
    labels = {anchor: "hardware", candidates[1]: "hardware", candidates[2]: "access"}
    [triplet], _ = mine_hard_negatives([(anchor, candidates[1])], candidates, band=(0.0, 1.0), labels=labels)
    assert triplet.negative == candidates[2]
    [triplet], _ = mine_hard_negatives([(anchor, candidates[2])], candidates[:2], band=(0.0, 1.0), labels=labels)
    assert triplet.negative is None


def test_hard_positives_pair_each_text_with_the_least_similar_text_of_its_class():
    texts = [
        LabelledText("printer jammed floor two", "hw"),
        LabelledText("printer jammed floor three", "hw"),
        LabelledText("monitor flickers", "hw"),
        LabelledText("reset my password", "access"),
        LabelledText("alone", "solo"),
    ]
    pairs = hard_positives(texts)
    partner = {p.text1: p.text2 for p in pairs}
    assert partner["printer jammed floor two"] == "monitor flickers"
    assert partner["monitor flickers"] in {"printer jammed floor two", "printer jammed floor three"}
    assert all(p.score == 1.0 for p in pairs) and "alone" not in partner and "reset my password" not in partner


@pytest.mark.parametrize("chunk", [1, 2])
def test_chunked_mining_gives_the_same_negatives(monkeypatch, chunk):
    import tunesmith.data.negatives as negatives

    pairs = [("printer jammed floor two", "paper stuck"), ("laptop battery dead", "no charge"), ("vpn down", "no vpn")]
    expected, _ = mine_hard_negatives(pairs, CANDIDATES, band=(0.05, 0.9))
    monkeypatch.setattr(negatives, "CHUNK", chunk)
    assert mine_hard_negatives(pairs, CANDIDATES, band=(0.05, 0.9))[0] == expected

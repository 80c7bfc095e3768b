"""Curriculum phases: pairs whose word overlap agrees with their score come first."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from tunesmith.data.curriculum import curriculum_phases, pair_difficulty
from tunesmith.data.pairs import Pair

PAIRS = [
    Pair("a man slices a tomato", "a man slices a potato", 0.1),  # many shared words, dissimilar: hard
    Pair("the chef cooked dinner", "someone prepared a meal", 0.9),  # no shared word, similar: hard
    Pair("a dog runs in the park", "a dog runs in the park quickly", 1.0),  # overlap agrees: easy
    Pair("stocks fell sharply", "a bird sings", 0.0),  # no overlap, dissimilar: easy
]


def test_difficulty_is_the_gap_between_word_overlap_and_score():
    difficulty = pair_difficulty(PAIRS)
    texts = [p.text1 for p in PAIRS] + [p.text2 for p in PAIRS]
    vectors = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts).toarray()
    overlap = np.sum(vectors[:4] * vectors[4:], axis=1)
    assert np.allclose(difficulty, np.abs(overlap - [p.score for p in PAIRS]))
    assert difficulty[3] == pytest.approx(0.0) and difficulty[1] == pytest.approx(0.9)
    assert set(np.argsort(difficulty)[:2]) == {2, 3}


def test_phases_are_cumulative_from_easy_to_all():
    easy, everything = curriculum_phases(PAIRS, n_phases=2)
    assert easy == [PAIRS[2], PAIRS[3]] and everything == PAIRS
    assert [len(phase) for phase in curriculum_phases(PAIRS, n_phases=4)] == [1, 2, 3, 4]

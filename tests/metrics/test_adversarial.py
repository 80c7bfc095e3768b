"""The adversarial check: lexical traps and low-overlap paraphrases, found and scored apart."""

import pytest

from tunesmith.data.pairs import Pair
from tunesmith.metrics.adversarial import adversarial_groups, adversarial_metrics, word_overlap


def test_word_overlap_is_jaccard_of_lower_cased_words():
    assert word_overlap("A cat sat.", "a CAT ran") == pytest.approx(2 / 4)
    assert word_overlap("", "") == 0.0


def test_groups_and_their_scores():
    pairs = [
        Pair("a man is slicing a tomato", "a man is slicing a potato", 0.2),  # trap: 5 of 7 words shared
        Pair("the chef prepared a meal", "someone is cooking food", 0.9),  # paraphrase: no shared word
        Pair("a dog runs", "a dog runs fast", 0.9),  # similar and overlapping: neither
        Pair("stocks fell", "a bird sings", 0.0),  # dissimilar and disjoint: neither
    ]
    groups = adversarial_groups(pairs)
    assert groups == {"trap": [0], "paraphrase": [1]}
    bag_of_words = [0.9, 0.1, 0.8, 0.0]  # follows the overlap: wrong on both
    result = adversarial_metrics(bag_of_words, groups)
    assert result == {"trap_n": 1, "trap_correct": 0.0, "trap_mean_cos": 0.9, "paraphrase_n": 1,
                      "paraphrase_correct": 0.0, "paraphrase_mean_cos": 0.1}  # fmt: skip
    understands = [0.1, 0.9, 0.8, 0.0]
    assert adversarial_metrics(understands, groups)["trap_correct"] == 1.0
    assert adversarial_metrics(understands, groups)["paraphrase_correct"] == 1.0
    assert adversarial_metrics(understands, {"trap": [], "paraphrase": []}) == {"trap_n": 0, "paraphrase_n": 0}

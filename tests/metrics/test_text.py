import pytest
from rouge_score import rouge_scorer

from tunesmith.metrics import contains_reference, exact_match, normalize_answer, rouge_l, score_answer, token_f1


def test_normalisation_follows_squad():
    assert normalize_answer("The  Cat, sat!") == "cat sat"
    assert normalize_answer("An apple a day") == "apple day"


def test_exact_match_ignores_case_punctuation_and_articles():
    assert exact_match("The answer is 42.", "answer is 42") == 1.0
    assert exact_match("answer is 43", "answer is 42") == 0.0


def test_accuracy_is_the_reference_contained_in_the_answer():
    assert contains_reference("We open at 9 am, Monday to Friday.", "9 am") == 1.0
    assert contains_reference("We open at 10 am.", "9 am") == 0.0
    assert contains_reference("anything", "") == 0.0


@pytest.mark.parametrize(
    "prediction, reference, expected",
    [
        ("the cat sat on the mat", "the cat sat on the mat", 1.0),
        ("cat sat", "cat sat on mat", 2 * (1.0 * 0.5) / 1.5),  # precision 1, recall 0.5
        ("dog", "cat", 0.0),
        ("", "", 1.0),
        ("", "cat", 0.0),
        ("cat cat dog", "cat dog dog", 2 / 3),  # overlap counts repeats once each
    ],
)
def test_token_f1_known_cases(prediction, reference, expected):
    assert token_f1(prediction, reference) == pytest.approx(expected)


def test_rouge_l_matches_rouge_score_with_stemming():
    reference = "Business cards cost $39.00 for 500 and ship in two days."
    prediction = "500 business cards are $39.00 and shipping takes two days."
    expected = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(reference, prediction)["rougeL"].fmeasure
    assert rouge_l(prediction, reference) == pytest.approx(expected)
    assert 0 < rouge_l(prediction, reference) < 1


def test_score_answer_returns_every_metric():
    assert set(score_answer("a", "a")) == {"exact_match", "accuracy", "token_f1", "rouge_l"}

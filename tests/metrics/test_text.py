import collections
import re
import string

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from tunesmith.metrics import (
    METRICS,
    contains_reference,
    corpus_bleu,
    exact_match,
    normalize_answer,
    rouge,
    rouge_l,
    score_answer,
    sentence_bleu,
    token_f1,
)
from tunesmith.metrics.text import sentence_lines


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
    assert set(score_answer("a", "a")) == set(METRICS)
    assert score_answer("no facts here", "none either")["fact_recall"] is None


# The official SQuAD v1.1 evaluation functions, verbatim in logic, as the reference implementation.
def _squad_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def _squad_f1(prediction, ground_truth):
    prediction_tokens = _squad_normalize(prediction).split()
    ground_truth_tokens = _squad_normalize(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


PAIRS = [
    ("The office is in Cheek Hall, room 202.", "Cheek Hall 202"),
    ("Call (417) 836-4157 or e-mail ComputerScience@MissouriState.edu", "call 417-836-4157"),
    ("It costs $39.00 for 500 cards; shipping takes two days.", "500 business cards cost $39.00 and ship in 2 days."),
    ("An apple a day keeps the doctor away", "the apple keeps doctors away"),
    ("Dr. Smith teaches CSC 325 on Mondays.\nHe also teaches CSC 450.", "CSC 325 is taught by Dr. Smith."),
    ("completely unrelated words", "nothing in common here"),
]


@pytest.mark.parametrize("prediction, reference", PAIRS)
def test_exact_match_and_f1_agree_with_the_official_squad_script(prediction, reference):
    assert exact_match(prediction, reference) == float(_squad_normalize(prediction) == _squad_normalize(reference))
    assert token_f1(prediction, reference) == pytest.approx(_squad_f1(prediction, reference), abs=1e-6)


@pytest.mark.parametrize("prediction, reference", PAIRS)
def test_rouge_agrees_with_rouge_score(prediction, reference):
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    expected = scorer.score(reference, prediction)
    by_line = scorer.score(sentence_lines(reference), sentence_lines(prediction))["rougeLsum"].fmeasure
    ours = rouge(prediction, reference)
    assert ours["rouge_1"] == pytest.approx(expected["rouge1"].fmeasure, abs=1e-6)
    assert ours["rouge_2"] == pytest.approx(expected["rouge2"].fmeasure, abs=1e-6)
    assert ours["rouge_l"] == pytest.approx(expected["rougeL"].fmeasure, abs=1e-6)
    assert ours["rouge_lsum"] == pytest.approx(by_line, abs=1e-6)


def test_rouge_lsum_scores_sentence_by_sentence():
    prediction = "CSC 450 is taught by Dr. Smith. CSC 325 is taught by Dr. Jones."
    reference = "CSC 325 is taught by Dr. Jones. CSC 450 is taught by Dr. Smith."
    scores = rouge(prediction, reference)
    assert scores["rouge_lsum"] == pytest.approx(1.0)  # same sentences, other order
    assert scores["rouge_l"] < 1.0  # one longest common subsequence across the whole text


def test_bleu_agrees_with_sacrebleu():
    predictions, references = [p for p, _ in PAIRS], [r for _, r in PAIRS]
    assert corpus_bleu(predictions, references) == pytest.approx(
        sacrebleu.corpus_bleu(predictions, [references]).score / 100, abs=1e-6
    )
    for prediction, reference in PAIRS:
        expected = sacrebleu.sentence_bleu(prediction, [reference]).score / 100
        assert sentence_bleu(prediction, reference) == pytest.approx(expected, abs=1e-6)
    assert sentence_bleu("the same sentence here", "the same sentence here") == pytest.approx(1.0)


def test_length_ratio_is_answer_words_per_reference_word():
    scores = score_answer("one two three four", "one two")
    assert scores["length_ratio"] == 2.0
    assert score_answer("anything", "")["length_ratio"] is None

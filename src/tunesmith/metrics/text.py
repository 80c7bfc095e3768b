"""Per-example text metrics for generated answers against references.

Normalisation follows the SQuAD evaluation script: lower-case, drop punctuation and the articles a/an/the,
collapse whitespace. ROUGE-L comes from Google's ``rouge-score`` package.
"""

from __future__ import annotations

import functools
import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(char for char in text if char not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def contains_reference(prediction: str, reference: str) -> float:
    """Accuracy: the normalised reference appears whole inside the normalised prediction."""
    expected = normalize_answer(reference)
    return float(bool(expected) and expected in normalize_answer(prediction))


def token_f1(prediction: str, reference: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


@functools.cache
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(prediction: str, reference: str) -> float:
    return _rouge_scorer().score(reference, prediction)["rougeL"].fmeasure


METRICS = {"exact_match": exact_match, "accuracy": contains_reference, "token_f1": token_f1, "rouge_l": rouge_l}


def score_answer(prediction: str, reference: str) -> dict[str, float]:
    return {name: metric(prediction, reference) for name, metric in METRICS.items()}

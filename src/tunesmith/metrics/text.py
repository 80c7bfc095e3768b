"""Per-example text metrics for generated answers against references.

Normalisation follows the SQuAD evaluation script (:func:`tunesmith.data.text.normalize_answer`, re-exported
here): lower-case, drop punctuation and the articles a/an/the, collapse whitespace. ROUGE comes from Google's
``rouge-score`` (with stemming), BLEU from ``sacrebleu``.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

from tunesmith.data.text import normalize_answer
from tunesmith.metrics.facts import fact_recall

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
ROUGE_TYPES = {"rouge_1": "rouge1", "rouge_2": "rouge2", "rouge_l": "rougeL", "rouge_lsum": "rougeLsum"}


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

    return rouge_scorer.RougeScorer(list(ROUGE_TYPES.values()), use_stemmer=True)


def sentence_lines(text: str) -> str:
    """One sentence per line, as ROUGE-Lsum expects (rouge-score's own splitter needs NLTK data downloaded)."""
    return "\n".join(part for part in _SENTENCE_END.split(text.strip()) if part)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L/Lsum F-measures; Lsum scores sentence by sentence (newlines do not change the others)."""
    scores = _rouge_scorer().score(sentence_lines(reference), sentence_lines(prediction))
    return {name: scores[kind].fmeasure for name, kind in ROUGE_TYPES.items()}


def rouge_l(prediction: str, reference: str) -> float:
    return rouge(prediction, reference)["rouge_l"]


def sentence_bleu(prediction: str, reference: str) -> float:
    """sacrebleu's smoothed sentence BLEU, on a 0-1 scale like the other metrics."""
    import sacrebleu

    return sacrebleu.sentence_bleu(prediction, [reference]).score / 100


def corpus_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (n-gram counts pooled over all examples, as papers report it), 0-1 scale."""
    import sacrebleu

    return sacrebleu.corpus_bleu(list(predictions), [list(references)]).score / 100


def length_ratio(prediction: str, reference: str) -> float | None:
    """Words in the answer per word of the reference: below 1 too short, above 1 too long."""
    expected = len(reference.split())
    return len(prediction.split()) / expected if expected else None


def score_answer(prediction: str, reference: str) -> dict[str, float | None]:
    """Every per-example metric; ``fact_recall`` is None when the reference holds no facts to recall."""
    return {
        "exact_match": exact_match(prediction, reference),
        "accuracy": contains_reference(prediction, reference),
        "token_f1": token_f1(prediction, reference),
        **rouge(prediction, reference),
        "bleu": sentence_bleu(prediction, reference),
        "fact_recall": fact_recall(prediction, reference),
        "length_ratio": length_ratio(prediction, reference),
    }


METRICS = ("exact_match", "accuracy", "token_f1", *ROUGE_TYPES, "bleu", "fact_recall", "length_ratio")

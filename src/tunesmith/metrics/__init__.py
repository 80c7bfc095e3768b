from tunesmith.metrics.evaluate import (
    OVERALL_METRICS,
    evaluate_bundle,
    metrics_csv,
    summarize,
    write_results,
)
from tunesmith.metrics.facts import extract_facts, fact_recall
from tunesmith.metrics.text import (
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

__all__ = [
    "METRICS",
    "OVERALL_METRICS",
    "corpus_bleu",
    "extract_facts",
    "fact_recall",
    "rouge",
    "sentence_bleu",
    "contains_reference",
    "evaluate_bundle",
    "exact_match",
    "metrics_csv",
    "normalize_answer",
    "rouge_l",
    "score_answer",
    "summarize",
    "token_f1",
    "write_results",
]

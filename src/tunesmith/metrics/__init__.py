from tunesmith.metrics.evaluate import PRIMARY_METRIC, evaluate_bundle, metrics_csv, summarize, write_results
from tunesmith.metrics.text import (
    METRICS,
    contains_reference,
    exact_match,
    normalize_answer,
    rouge_l,
    score_answer,
    token_f1,
)

__all__ = [
    "METRICS",
    "PRIMARY_METRIC",
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

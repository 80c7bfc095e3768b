"""Plain suggestions when results are weak, each from evidence in the run folder. Every check reads only what
it needs and stays silent when the run has no such evidence (an embedding run has no answers to cut, a Q&A run no
dimensions), so any task's folder can be passed."""

from __future__ import annotations

from collections import Counter

OVERFIT_RISE = 0.05  # validation loss 5% above its minimum by the end
FEW_EXAMPLES = 5
NO_GAIN = 0.02
# ... or this share of what was left to gain (scores in 0..1): +0.018 Spearman from 0.867 on STS-B is real progress
NO_GAIN_OF_HEADROOM = 0.1
LOW_FACT_RECALL = 0.5
DIMENSION_KEEPS = 0.01  # a smaller embedding dimension within this of the full size is worth suggesting


def suggestions(
    summary: dict,
    rows: list[dict],
    log_rows: list[dict],
    plan: dict,
    train_categories: Counter,
    primary: str,
    greater_is_better: bool = True,
) -> list[str]:
    """``summary``: ``{label: {"overall": ..., "by_<group>": ...}}`` (the scored models of a metrics.json)."""
    found = [
        *_overfitting(log_rows),
        *_no_gain(summary, primary, greater_is_better),
        *_weak_categories(summary, train_categories, primary),
        *_cut_answers(rows, plan),
        *_facts_missed(summary),
        *_int8_loss(summary, primary, greater_is_better),
        *_smaller_dimension(summary, primary, greater_is_better),
    ]
    return found or ["Nothing stands out: the fine-tuned model beats the base model and the curves look healthy."]


def _score(summary: dict, label: str, metric: str, group: str | None = None, name: str | None = None):
    """A score, or None when that model, group or metric is absent."""
    scores = summary.get(label, {})
    scores = scores.get("overall", {}) if group is None else scores.get(f"by_{group}", {}).get(name, {})
    value = scores.get(metric)
    return value if isinstance(value, int | float) else None


def _overfitting(log_rows: list[dict]) -> list[str]:
    valid = [(row.get("epoch", 0.0), row["eval_loss"]) for row in log_rows if "eval_loss" in row]
    if len(valid) < 2:
        return []
    best_epoch, best = min(valid, key=lambda point: point[1])
    last_epoch, last = valid[-1]
    if last <= best * (1 + OVERFIT_RISE):
        return []
    return [
        f"Overfitting: validation loss was lowest ({best:.3f}) at epoch {best_epoch:g} and rose to {last:.3f} "
        f"by epoch {last_epoch:g}. Try about {max(1, round(best_epoch))} epochs (training.epochs) or more data, "
        "and compare the answers' scores with this run (tunesmith compare): the loss of the exact reference "
        "wording can rise while answers still improve."
    ]


def _no_gain(summary: dict, primary: str, greater_is_better: bool = True) -> list[str]:
    base, tuned = _score(summary, "base", primary), _score(summary, "tuned", primary)
    if base is None or tuned is None:
        return []
    gain = tuned - base if greater_is_better else base - tuned
    headroom = 1.0 - base if greater_is_better and 0.0 <= base <= 1.0 else None
    if gain >= NO_GAIN or (headroom and gain >= NO_GAIN_OF_HEADROOM * headroom):
        return []
    return [
        f"No real gain: {primary} {base:.3f} -> {tuned:.3f}. Try more epochs or a higher learning rate, "
        "check that the test set is covered by the training data, and add examples."
    ]


def _weak_categories(summary: dict, train_categories: Counter, primary: str) -> list[str]:
    groups = summary.get("tuned", {}).get("by_category", {})
    overall = _score(summary, "tuned", primary)
    if overall is None:
        return []
    found = []
    for category in groups:
        score = _score(summary, "tuned", primary, "category", category)
        n_train = train_categories.get(category, 0)
        if n_train < FEW_EXAMPLES and (score or 0.0) < overall:
            examples = f"{n_train} training example{'s' * (n_train != 1)}"
            found.append(
                f"Category '{category}' has only {examples} and scores {score or 0.0:.3f} ({primary}) "
                f"against {overall:.3f} overall: add examples for it."
            )
        before = _score(summary, "base", primary, "category", category)
        if before is not None and (score or 0.0) < before - NO_GAIN:
            found.append(f"Category '{category}' got worse than the base model ({before:.3f} -> {score or 0.0:.3f}).")
    return found


def _cut_answers(rows: list[dict], plan: dict) -> list[str]:
    choices = plan.get("choices", {})
    found = []
    max_new_tokens = choices.get("max_new_tokens", {}).get("value")
    cut = sum(bool(row.get("tuned", {}).get("cut")) for row in rows)
    if cut:
        found.append(
            f"{cut} of {len(rows)} answers were cut at evaluation.max_new_tokens ({max_new_tokens}) before they "
            "ended: raise it, or check for answers that repeat themselves."
        )
    max_length = choices.get("max_length", {}).get("value")
    data = plan.get("data") if isinstance(plan.get("data"), dict) else {}
    sequence = data.get("sequence") if isinstance(data.get("sequence"), dict) else {}
    longest = sequence.get("max")
    if max_length and isinstance(longest, int | float) and longest > max_length:
        found.append(
            f"Some training examples ({longest} tokens) are longer than training.max_length ({max_length}) "
            "and were cut: their answers' ends were never trained on."
        )
    return found


def _facts_missed(summary: dict) -> list[str]:
    recall = _score(summary, "tuned", "fact_recall")
    if recall is None or recall >= LOW_FACT_RECALL:
        return []
    return [
        f"Facts are often wrong: only {recall:.0%} of the URLs, e-mail addresses, phone numbers and numbers in the "
        "references come back intact. More epochs, a higher LoRA rank, or several phrasings of each question help."
    ]


def _int8_loss(summary: dict, primary: str, greater_is_better: bool) -> list[str]:
    """Embeddings: the quantised copy scores clearly below the fp32 model."""
    tuned, int8 = _score(summary, "tuned", primary), _score(summary, "int8", primary)
    if tuned is None or int8 is None:
        return []
    loss = tuned - int8 if greater_is_better else int8 - tuned
    if loss < NO_GAIN:
        return []
    return [
        f"The INT8 copy loses {loss:.3f} {primary} against the fp32 model ({tuned:.3f} -> {int8:.3f}): serve "
        "model/ where accuracy matters more than encoding speed."
    ]


def _smaller_dimension(summary: dict, primary: str, greater_is_better: bool) -> list[str]:
    """Embeddings: the smallest Matryoshka dimension scoring within DIMENSION_KEEPS of the full size."""
    dims = summary.get("tuned", {}).get("by_dimension", {})
    if len(dims) < 2:
        return []
    full_dim, *smaller = dims
    full = _score(summary, "tuned", primary, "dimension", full_dim)
    if full is None:
        return []
    close = []
    for dim in smaller:
        score = _score(summary, "tuned", primary, "dimension", dim)
        if score is not None and (full - score if greater_is_better else score - full) <= DIMENSION_KEEPS:
            close.append((dim, score))
    if not close:
        return []
    dim, score = min(close, key=lambda item: int(item[0]) if item[0].isdigit() else 0)
    return [
        f"Dimension {dim} scores {score:.3f} {primary} against {full:.3f} at the full {full_dim}: truncating the "
        "embeddings to it saves storage and search time at almost no cost."
    ]

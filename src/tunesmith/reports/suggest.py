"""Plain suggestions when results are weak, each from evidence in the run folder."""

from __future__ import annotations

from collections import Counter

OVERFIT_RISE = 0.05  # validation loss 5% above its minimum by the end
FEW_EXAMPLES = 5
NO_GAIN = 0.02
LOW_FACT_RECALL = 0.5


def suggestions(
    summary: dict, rows: list[dict], log_rows: list[dict], plan: dict, train_categories: Counter, primary: str
) -> list[str]:
    found = [
        *_overfitting(log_rows),
        *_no_gain(summary, primary),
        *_weak_categories(summary, train_categories, primary),
        *_cut_answers(rows, plan),
        *_facts_missed(summary),
    ]
    return found or ["Nothing stands out: the fine-tuned model beats the base model and the curves look healthy."]


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


def _no_gain(summary: dict, primary: str) -> list[str]:
    if "base" not in summary:
        return []
    base, tuned = summary["base"]["overall"][primary], summary["tuned"]["overall"][primary]
    if tuned - base >= NO_GAIN:
        return []
    return [
        f"No real gain: {primary} {base:.3f} -> {tuned:.3f}. Try more epochs or a higher learning rate, "
        "check that the test questions are answerable from the training data, and add examples."
    ]


def _weak_categories(summary: dict, train_categories: Counter, primary: str) -> list[str]:
    groups = summary["tuned"].get("by_category", {})
    overall = summary["tuned"]["overall"][primary]
    found = []
    for category, scores in groups.items():
        n_train = train_categories.get(category, 0)
        if n_train < FEW_EXAMPLES and (scores[primary] or 0.0) < overall:
            examples = f"{n_train} training example{'s' * (n_train != 1)}"
            found.append(
                f"Category '{category}' has only {examples} and scores {scores[primary]:.3f} ({primary}) "
                f"against {overall:.3f} overall: add examples for it."
            )
        if "base" in summary and category in summary["base"].get("by_category", {}):
            before = summary["base"]["by_category"][category][primary] or 0.0
            if (scores[primary] or 0.0) < before - NO_GAIN:
                found.append(
                    f"Category '{category}' got worse than the base model ({before:.3f} -> {scores[primary]:.3f})."
                )
    return found


def _cut_answers(rows: list[dict], plan: dict) -> list[str]:
    choices = plan.get("choices", {})
    found = []
    max_new_tokens = choices.get("max_new_tokens", {}).get("value")
    cut = sum(bool(row["tuned"].get("cut")) for row in rows)
    if cut:
        found.append(
            f"{cut} of {len(rows)} answers were cut at evaluation.max_new_tokens ({max_new_tokens}) before they "
            "ended: raise it, or check for answers that repeat themselves."
        )
    max_length = choices.get("max_length", {}).get("value")
    longest = plan.get("data", {}).get("sequence", {}).get("max", 0)
    if max_length and longest > max_length:
        found.append(
            f"Some training examples ({longest} tokens) are longer than training.max_length ({max_length}) "
            "and were cut: their answers' ends were never trained on."
        )
    return found


def _facts_missed(summary: dict) -> list[str]:
    recall = summary["tuned"]["overall"].get("fact_recall")
    if recall is None or recall >= LOW_FACT_RECALL:
        return []
    return [
        f"Facts are often wrong: only {recall:.0%} of the URLs, e-mail addresses, phone numbers and numbers in the "
        "references come back intact. More epochs, a higher LoRA rank, or several phrasings of each question help."
    ]

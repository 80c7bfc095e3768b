"""Fact recall: do the URLs, e-mail addresses, phone numbers, prices, dates and numbers of the reference
answer appear intact in the generated one?

Facts are pulled out of both texts with the same patterns (:func:`tunesmith.data.text.extract_facts`, re-exported
here), most specific first (a URL's digits are not also counted as numbers), and compared as whole items: a
truncated URL or a phone number with a wrong digit is a different item, so it counts as missed.
"""

from __future__ import annotations

from tunesmith.data.text import FACT_PATTERNS, extract_facts


def fact_recall(prediction: str, reference: str) -> float | None:
    """Share of the reference's facts found intact in the prediction; None when the reference has none."""
    expected = extract_facts(reference)
    if not expected:
        return None
    found = extract_facts(prediction)
    hits = 0
    for fact in expected:
        if fact in found:
            found.remove(fact)  # a fact said once counts once, even if the reference repeats it
            hits += 1
    return hits / len(expected)


__all__ = ["FACT_PATTERNS", "extract_facts", "fact_recall"]

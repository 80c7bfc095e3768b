"""Fact recall: do the URLs, e-mail addresses, phone numbers, prices, dates and numbers of the reference
answer appear intact in the generated one?

Facts are pulled out of both texts with the same patterns, most specific first (a URL's digits are not also
counted as numbers), and compared as whole items: a truncated URL or a phone number with a wrong digit is a
different item, so it counts as missed.
"""

from __future__ import annotations

import re

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
FACT_PATTERNS: dict[str, re.Pattern] = {
    "url": re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE),
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "phone": re.compile(r"(?:\+?\d{1,3}[\s.-])?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b"),
    "price": re.compile(r"[$€£]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|dollars)\b"),
    "date": re.compile(
        rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b"
        rf"|\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b|\b\d{{1,2}}\s+{_MONTHS}(?:\s+\d{{4}})?\b",
        re.IGNORECASE,
    ),
    "number": re.compile(r"(?<![\w.])\d+(?:[.,:]\d+)*(?![\w])"),
}
_TRAILING = ".,;:!?"


def extract_facts(text: str) -> list[tuple[str, str]]:
    """``(kind, value)`` for every fact in ``text``, in the order of FACT_PATTERNS; each span is used once."""
    facts: list[tuple[str, str]] = []
    for kind, pattern in FACT_PATTERNS.items():
        for match in pattern.finditer(text):
            facts.append((kind, _canonical(kind, match.group())))
        text = pattern.sub(lambda match: " " * len(match.group()), text)
    return facts


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


def _canonical(kind: str, value: str) -> str:
    value = value.rstrip(_TRAILING)
    if kind in ("url", "email"):
        return value.lower()
    if kind == "phone":
        return re.sub(r"\D", "", value)[-10:]
    if kind == "price":
        return re.sub(r"\s", "", value).lower()
    return value.lower()

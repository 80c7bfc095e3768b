"""Text primitives shared by the data checks (duplicates, splits, suspicious answers) and the metrics.

Normalisation follows the SQuAD evaluation script: lower-case, drop punctuation and the articles a/an/the,
collapse whitespace. Facts (URLs, e-mail addresses, phone numbers, prices, dates and numbers) are pulled out with
the same patterns wherever they are compared, most specific first (a URL's digits are not also counted as
numbers), each in one canonical spelling.
"""

from __future__ import annotations

import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)
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


def normalize_answer(text: str) -> str:
    text = text.lower()
    text = "".join(char for char in text if char not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def extract_facts(text: str) -> list[tuple[str, str]]:
    """``(kind, value)`` for every fact in ``text``, in the order of FACT_PATTERNS; each span is used once."""
    facts: list[tuple[str, str]] = []
    for kind, pattern in FACT_PATTERNS.items():
        for match in pattern.finditer(text):
            facts.append((kind, _canonical(kind, match.group())))
        text = pattern.sub(lambda match: " " * len(match.group()), text)
    return facts


def _canonical(kind: str, value: str) -> str:
    value = value.rstrip(_TRAILING)
    if kind in ("url", "email"):
        return value.lower()
    if kind == "phone":
        return re.sub(r"\D", "", value)[-10:]
    if kind == "price":
        return re.sub(r"\s", "", value).lower()
    return value.lower()

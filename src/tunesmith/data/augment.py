"""Paraphrase-free text augmentation (after EDA, Wei & Zou 2019) of the question, never of the answer.

Each copy gets a few random edits of the last user message: word deletion, swap of two words, and synonym
replacement from a user's word list. Facts (URLs, e-mail addresses, numbers, anything with a digit) are never
touched, and the answer is kept as written. ``duplicate`` makes exact copies, to weight rare examples up.
Every copy carries ``augmented_from`` (its original's key), so splits keep it out of valid and test.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from tunesmith.data.load import parse_json
from tunesmith.data.shapes import Example
from tunesmith.data.split import example_key
from tunesmith.errors import DataError
from tunesmith.textfiles import DEFAULT_ENCODING, read_text

OPERATIONS = ("delete", "swap", "synonym", "duplicate")
_PROTECTED = re.compile(r"\d|@|://|www\.")


def load_synonyms(path: Path, *, encoding: str = DEFAULT_ENCODING) -> dict[str, list[str]]:
    """A word list: JSON ``{"word": ["synonym", ...]}`` or lines ``word: synonym, synonym``."""
    text = read_text(path, encoding)
    if Path(path).suffix.lower() == ".json":
        table = parse_json(text, str(path), line=True)
        if not isinstance(table, dict) or not all(isinstance(v, list) for v in table.values()):
            raise DataError(f"{path}: expected an object mapping each word to a list of synonyms")
        return {key.lower(): [str(v) for v in values] for key, values in table.items()}
    table = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if ":" not in line:
            raise DataError(f"{path}:{number}: expected 'word: synonym, synonym'")
        word, synonyms = line.split(":", 1)
        table[word.strip().lower()] = [s.strip() for s in synonyms.split(",") if s.strip()]
    return table


def augment_examples(
    examples: Sequence[Example],
    copies: int = 2,
    operations: Sequence[str] = ("delete", "swap", "synonym"),
    synonyms: dict[str, list[str]] | None = None,
    rate: float = 0.1,
    seed: int = 42,
) -> list[Example]:
    """The originals followed by ``copies`` augmented copies of each (augmented inputs are skipped)."""
    unknown = set(operations) - set(OPERATIONS)
    if unknown:
        raise DataError(f"unknown augmentation {sorted(unknown)}; choose from {', '.join(OPERATIONS)}")
    rng = random.Random(seed)
    originals = [example for example in examples if example.augmented_from is None]
    made = []
    for example in originals:
        seen = {example.question}
        for _ in range(copies):
            operation = rng.choice(list(operations))
            copy = _augment(example, operation, synonyms or {}, rate, rng)
            if copy.question in seen and operation != "duplicate":
                continue  # an edit that changed nothing is not a new example
            seen.add(copy.question)
            made.append(copy)
    return [*originals, *made]


def augment_text(text: str, operation: str, synonyms: dict[str, list[str]], rate: float, rng) -> str:
    """One random edit of ``text`` (``rate`` of its editable words, at least one); facts are left alone."""
    words = text.split()
    editable = [i for i, word in enumerate(words) if not _PROTECTED.search(word)]
    edits = max(1, round(rate * len(editable)))
    if operation == "delete" and len(editable) > 2:
        doomed = set(rng.sample(editable, min(edits, len(editable) - 2)))
        words = [word for i, word in enumerate(words) if i not in doomed]
    elif operation == "swap" and len(editable) >= 2:
        for _ in range(edits):
            a, b = rng.sample(editable, 2)
            words[a], words[b] = words[b], words[a]
    elif operation == "synonym":
        candidates = [i for i in editable if _bare(words[i]) in synonyms]
        for i in rng.sample(candidates, min(edits, len(candidates))):
            words[i] = _keep_punctuation(words[i], rng.choice(synonyms[_bare(words[i])]))
    return " ".join(words)


def _augment(example: Example, operation: str, synonyms, rate, rng) -> Example:
    messages = list(example.messages)
    last_user = max(i for i, message in enumerate(messages) if message["role"] == "user")
    text = messages[last_user]["content"]
    if operation != "duplicate":
        text = augment_text(text, operation, synonyms, rate, rng)
    messages[last_user] = {**messages[last_user], "content": text}
    return replace(example, messages=tuple(messages), augmented_from=example_key(example), source="augmented")


def _bare(word: str) -> str:
    return word.strip(".,;:!?\"'()").lower()


def _keep_punctuation(original: str, synonym: str) -> str:
    bare = original.strip(".,;:!?\"'()")
    start = original.find(bare)
    if bare[:1].isupper():
        synonym = synonym[:1].upper() + synonym[1:]
    return original[:start] + synonym + original[start + len(bare) :]

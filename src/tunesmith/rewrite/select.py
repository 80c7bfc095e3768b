"""K rewrites for every fact: candidates generated (or read from the cache), filtered, and added as training copies.

A fact is a distinct answer; the questions asked of it share its K rewrites, taken in turn from each question's
candidates, so every fact gets the same number of new phrasings (Mecklenburg et al. 2024: an even number of
phrasings per fact covers facts more evenly than per-question counts). A candidate is kept only when it is
    - new: not a training question or an earlier rewrite, compared without case, punctuation or articles;
    - free of the answer's facts: no URL, e-mail, phone number, price, date or number of the answer that the
      question does not hold itself (a rewrite that gives the answer away teaches nothing);
    - complete: every fact of the question is still in it (a course code or year that goes missing changes the
      question);
    - close in meaning: cosine similarity to the question, by a sentence-embedding model, at least
      ``min_similarity``.
The counts of kept and dropped candidates, with reasons, go to the caller (printed by ``augment``, run.json for a
run). Each rewrite is an :class:`Example` with ``augmented_from`` set to its original's key, so splits keep it out
of valid and test; a run adds rewrites to its training split only, after splitting.

Candidates are cached under ``TUNESMITH_HOME/rewrites``, one file per generator identity, by question: a second
run on the same data with the same generator reads them instead of waiting for a model again.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

from tunesmith.atomic import write_json
from tunesmith.data import Example
from tunesmith.data.split import example_key
from tunesmith.data.text import extract_facts, normalize_answer

DEFAULT_MIN_SIMILARITY = 0.7  # all-MiniLM-L6-v2: paraphrased questions score 0.75-0.95, another topic under 0.5
OVERSAMPLE = 2  # candidates asked of a model per rewrite kept (some are dropped)
SOURCE = "rewrite"
REASONS = ("duplicate", "holds the answer's facts", "drops a fact of the question", "far in meaning")


def cache_dir() -> Path:
    from tunesmith.models.gguf import home_dir

    return home_dir() / "rewrites"


def add_rewrites(
    examples: list[Example],
    k: int,
    generator,
    encoder,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    use_cache: bool = True,
) -> tuple[list[Example], dict]:
    """``examples`` followed by up to ``k`` rewrites of every fact, and the counts (``stats``) of what was kept and
    dropped. ``encoder`` is a SentenceTransformer; copies already in ``examples`` are not rewritten again."""
    originals = [example for example in examples if example.augmented_from is None]
    if k <= 0 or not originals:
        return list(examples), {}
    questions = list(dict.fromkeys(example.question.strip() for example in originals))
    candidates, from_cache = _candidates(generator, questions, k, use_cache)
    facts: dict[str, list[Example]] = {}
    for example in originals:
        facts.setdefault(normalize_answer(example.answer), []).append(example)
    similarity = _similarities(encoder, candidates)
    seen = {normalize_answer(question) for question in questions}
    dropped: Counter[str] = Counter()
    made: list[Example] = []
    short = 0
    for asked in facts.values():
        kept = 0
        queue = [(example, list(candidates[example.question.strip()])) for example in _unique_questions(asked)]
        while kept < k and any(pending for _, pending in queue):
            for example, pending in queue:
                if kept >= k or not pending:
                    continue
                rewrite = pending.pop(0)
                reason = _drop_reason(rewrite, example, seen, similarity, min_similarity)
                if reason:
                    dropped[reason] += 1
                    continue
                seen.add(normalize_answer(rewrite))
                made.append(_rewritten(example, rewrite))
                kept += 1
        short += kept < k
    stats = {
        "generator": generator.label,
        "k": k,
        "facts": len(facts),
        "questions": len(questions),
        "kept": len(made),
        "dropped": {reason: dropped[reason] for reason in REASONS if dropped[reason]},
        "facts_short_of_k": short,
        "min_similarity": min_similarity,
        "from_cache": from_cache,
    }
    return [*examples, *made], stats


def describe(stats: dict) -> str:
    """One line for a person: how many rewrites were kept, and why the others were dropped."""
    if not stats:
        return "no rewrites"
    dropped = ", ".join(f"{count} {reason}" for reason, count in stats["dropped"].items()) or "none"
    line = (
        f"{stats['kept']} rewrites of {stats['facts']} facts ({stats['k']} a fact, from {stats['generator']}"
        f"{', cached' if stats.get('from_cache') else ''}); dropped: {dropped}"
    )
    if stats["facts_short_of_k"]:
        line += f"; {stats['facts_short_of_k']} facts got fewer than {stats['k']}"
    return line


def _unique_questions(asked: list[Example]) -> list[Example]:
    unique: dict[str, Example] = {}
    for example in asked:
        unique.setdefault(example.question.strip(), example)
    return list(unique.values())


def _drop_reason(rewrite: str, example: Example, seen: set, similarity: dict, min_similarity: float) -> str | None:
    if normalize_answer(rewrite) in seen:
        return "duplicate"
    question_facts = extract_facts(example.question)
    rewrite_facts = extract_facts(rewrite)
    if any(fact in rewrite_facts for fact in extract_facts(example.answer) if fact not in question_facts):
        return "holds the answer's facts"
    missing = Counter(question_facts) - Counter(rewrite_facts)
    if missing:
        return "drops a fact of the question"
    if similarity[(example.question.strip(), rewrite)] < min_similarity:
        return "far in meaning"
    return None


def _rewritten(example: Example, rewrite: str) -> Example:
    messages = list(example.messages)
    last_user = max(i for i, message in enumerate(messages) if message["role"] == "user")
    messages[last_user] = {**messages[last_user], "content": rewrite}
    return replace(example, messages=tuple(messages), augmented_from=example_key(example), source=SOURCE)


def _similarities(encoder, candidates: dict[str, list[str]]) -> dict[tuple[str, str], float]:
    """Cosine similarity of every candidate to its question, encoded in one batch per side."""
    pairs = [(question, rewrite) for question, rewrites in candidates.items() for rewrite in rewrites]
    if not pairs:
        return {}
    questions = list(candidates)
    texts = list(dict.fromkeys(rewrite for _, rewrite in pairs))
    asked = encoder.encode(questions, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    said = encoder.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    row = {question: asked[i] for i, question in enumerate(questions)}
    column = {text: said[i] for i, text in enumerate(texts)}
    return {(q, r): float(row[q] @ column[r]) for q, r in pairs}


def _candidates(generator, questions: list[str], k: int, use_cache: bool) -> tuple[dict[str, list[str]], bool]:
    """Candidates per question, from the cache where it has them; the rest generated and added to it."""
    n = k * OVERSAMPLE
    path = cache_dir() / f"{_identity_key(generator, n)}.json"
    cached: dict[str, list[str]] = {}
    if use_cache:
        try:
            cached = json.loads(path.read_text())["candidates"]
        except (OSError, ValueError, KeyError, TypeError):
            cached = {}  # absent or unreadable: generated anew
    missing = [question for question in questions if question not in cached]
    if missing:
        cached.update(zip(missing, generator.candidates(missing, n)))
        if use_cache:
            write_json(path, {"generator": generator.identity, "n": n, "candidates": cached})
    return {question: cached[question] for question in questions}, not missing


def _identity_key(generator, n: int) -> str:
    content = json.dumps({"identity": generator.identity, "n": n}, sort_keys=True, default=str)
    return hashlib.sha256(content.encode()).hexdigest()[:24]

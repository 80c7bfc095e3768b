import json

import pytest

from tests.conftest import write_jsonl
from tunesmith.config import config_from_dict
from tunesmith.data import FieldMap, load_examples, load_splits
from tunesmith.errors import DataError


def test_question_answer_jsonl_keeps_category_and_difficulty(tmp_path):
    path = write_jsonl(
        tmp_path / "qa.jsonl", [{"question": "Q?", "answer": "A.", "category": "c", "difficulty": "easy"}]
    )
    [example] = load_examples(path)
    assert example.prompt == [{"role": "user", "content": "Q?"}]
    assert example.answer == "A." and example.category == "c" and example.difficulty == "easy"
    assert example.source == f"{path}:1"


def test_alpaca_json_joins_instruction_and_input_and_reads_nested_metadata(tmp_path):
    path = tmp_path / "alpaca.json"
    records = [
        {"instruction": "Translate", "input": "hola", "output": "hello", "metadata": {"topic": "lang"}},
        {"instruction": "Say hi", "response": "hi"},
    ]
    path.write_text(json.dumps(records))
    first, second = load_examples(path, fields=FieldMap(category="metadata.topic"))
    assert first.question == "Translate\n\nhola" and first.answer == "hello" and first.category == "lang"
    assert second.answer == "hi" and second.category is None


def test_messages_shape_keeps_the_whole_conversation(tmp_path):
    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Hours?"},
        {"role": "assistant", "content": "9 to 5"},
    ]
    [example] = load_examples(write_jsonl(tmp_path / "chat.jsonl", [{"messages": chat}]))
    assert len(example.messages) == 5 and example.answer == "9 to 5" and example.question == "Hours?"


def test_csv_with_custom_field_names_and_multiline_cells_reports_true_line_numbers(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('q,a,topic\n"first\nquestion",one,t1\nsecond,,t2\n')
    with pytest.raises(DataError) as err:
        load_examples(path, shape="qa", fields=FieldMap(prompt="q", answer="a", category="topic"))
    assert f"{path}:4" in str(err.value) and "'a' is empty" in str(err.value)
    path.write_text('q,a,topic\n"first\nquestion",one,t1\n')
    [example] = load_examples(path, fields=FieldMap(prompt="q", answer="a", category="topic"))
    assert example.question == "first\nquestion" and example.category == "t1"


@pytest.mark.parametrize(
    "record, message",
    [
        ({"question": "Q?"}, "field 'answer' is missing"),
        ({"question": "Q?", "answer": 3}, "field 'answer' must be text"),
        ({"question": " ", "answer": "A"}, "field 'question' is empty"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role' must be one of"),
        ({"messages": [{"role": "user", "content": "x"}]}, "must end with an assistant message"),
        ({"prompt": "x"}, "field 'question' is missing"),
    ],
)
def test_bad_records_name_the_file_line_and_field(tmp_path, record, message):
    good = {"question": "ok?", "answer": "ok"}
    if "messages" in record:
        good = {"messages": [{"role": "user", "content": "ok?"}, {"role": "assistant", "content": "ok"}]}
    path = write_jsonl(tmp_path / "bad.jsonl", [good, record])
    with pytest.raises(DataError) as err:
        load_examples(path)
    assert f"{path}:2" in str(err.value) and message in str(err.value)


def test_an_unknown_shape_lists_the_expected_ones(tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", [{"prompt": "x", "reply": "y"}])
    with pytest.raises(DataError, match=rf"{path}:1: cannot tell the record's shape.*question/answer"):
        load_examples(path)


def test_broken_json_line_and_unsupported_files_are_reported(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"question": "a", "answer": "b"}\n{"question": \n')
    with pytest.raises(DataError, match=rf"{path}:2: not valid JSON"):
        load_examples(path)
    with pytest.raises(DataError, match="unsupported file type"):
        load_examples(tmp_path / "x.parquet")
    with pytest.raises(DataError, match="record 0: expected an object"):
        (tmp_path / "list.json").write_text('["just text"]')
        load_examples(tmp_path / "list.json")


def test_load_splits_carves_missing_valid_and_test_out_of_train(tmp_path, qa_records):
    path = write_jsonl(tmp_path / "all.jsonl", qa_records[:100])
    config = config_from_dict({"data": {"train": str(path), "valid_fraction": 0.1, "test_fraction": 0.2}})
    splits = load_splits(config.data)
    assert splits.sizes() == {"train": 70, "valid": 10, "test": 20}
    sources = [ex.source for ex in splits.train + splits.valid + splits.test]
    assert len(set(sources)) == 100


def test_load_splits_uses_given_files_as_they_are(tmp_path, qa_records):
    train = write_jsonl(tmp_path / "train.jsonl", qa_records[:30])
    test = write_jsonl(tmp_path / "test.jsonl", qa_records[30:40])
    config = config_from_dict({"data": {"train": str(train), "test": str(test), "valid_fraction": 0.0}})
    assert load_splits(config.data).sizes() == {"train": 30, "valid": 0, "test": 10}


def test_the_msu_example_config_loads_the_real_shared_data():
    from pathlib import Path

    from tunesmith.config import load_config

    config = load_config(Path(__file__).resolve().parents[2] / "examples" / "msu_cs.yaml")
    if not config.data.train.is_file():
        pytest.skip("../shared/data/msu is not beside this checkout")
    splits = load_splits(config.data)
    assert splits.sizes() == {"train": 74, "valid": 11, "test": 21}
    assert {ex.category for ex in splits.test} <= {ex.category for ex in splits.train}
    assert all("@" not in ex.question for ex in splits.test)  # questions are questions, answers kept whole
    assert any("missouristate.edu" in ex.answer for ex in splits.train + splits.valid + splits.test)

"""Knowledge also trained as plain text beside the Q&A (the ``documents`` section, tunesmith.tasks.documents)."""

import json
from collections import Counter

import pytest

from tests.conftest import SAMPLES, write_jsonl
from tests.e2e.test_cli import make_config
from tunesmith.config import config_from_dict, load_config
from tunesmith.data import load_examples, write_examples
from tunesmith.data.shapes import document_example
from tunesmith.errors import ConfigError
from tunesmith.models.chat import encode_example
from tunesmith.models.heads import IGNORE_INDEX
from tunesmith.tasks.documents import add_documents
from tunesmith.tasks.generative import CAUSAL_LM

HANDBOOK = """# Opening hours

The shop opens at 8:30 on weekdays and at 10:00 on Saturdays.

# Posters

Posters up to A0 print on the same day when ordered before noon.
"""


def documents_config(tmp_path, **documents) -> object:
    records = [json.loads(line) for line in (SAMPLES / "train.jsonl").read_text().splitlines()]
    write_jsonl(tmp_path / "train.jsonl", records[:30])
    write_jsonl(tmp_path / "test.jsonl", records[30:36])
    (tmp_path / "handbook.md").write_text(HANDBOOK)
    raw = {
        "task": "causal_lm",
        "data": {"train": "train.jsonl", "test": "test.jsonl", "valid_fraction": 0.2},
        "documents": documents,
    }
    (tmp_path / "run.yaml").write_text(json.dumps(raw))
    return load_config(tmp_path / "run.yaml")


def test_a_document_is_learned_as_plain_text_with_the_loss_on_every_token(tiny_tokenizer):
    document = document_example("PressCrafters opens at 8:30 on weekdays.", "handbook.md#Opening hours")
    row = encode_example(tiny_tokenizer, document, 128, "You answer for PressCrafters.")
    assert row["labels"] == row["input_ids"] and IGNORE_INDEX not in row["labels"]
    text = tiny_tokenizer.decode(row["input_ids"])
    assert text == document.answer + tiny_tokenizer.eos_token  # no system prompt, no chat markup, then the end
    assert document.is_document and document.question == "" and document.prompt == []


def test_documents_survive_the_run_folders_split_file(tmp_path):
    document = document_example("Posters up to A0 print the same day.", "handbook.md#Posters", "abc123")
    path = tmp_path / "train.jsonl"
    write_examples(path, [document])
    (back,) = load_examples(path, "messages")
    assert back.is_document and back.answer == document.answer and back.augmented_from == "abc123"


def test_every_distinct_answer_and_file_passage_once_an_epoch_by_default(tmp_path):
    config = documents_config(tmp_path, answers=True, files=["handbook.md"])
    data = CAUSAL_LM.load_data(config)
    plain = [example for example in data.train if not example.is_document]
    documents = [example for example in data.train if example.is_document]
    report = data.report["documents"]
    distinct = {example.answer.strip().lower() for example in plain}
    assert report["from_answers"] == len(distinct) and report["from_files"] == 2
    assert report["rows"] == len(documents) == len(distinct) + 2 and report["share_from"] == "plan"
    assert len({document.answer for document in documents}) == len(documents)  # each once
    assert any(document.source.endswith("handbook.md#Posters") for document in documents)
    assert not any(example.is_document for example in (data.valid or []) + (data.test or []))


def test_a_set_share_repeats_documents_evenly(tmp_path):
    config = documents_config(tmp_path, answers=True, share=2.5)
    data = CAUSAL_LM.load_data(config)
    plain = [example for example in data.train if not example.is_document]
    counts = Counter(example.answer for example in data.train if example.is_document)
    assert sum(counts.values()) == round(2.5 * len(plain)) == data.report["documents"]["rows"]
    assert max(counts.values()) - min(counts.values()) <= 1
    assert add_documents(config, [])[1] == {}  # nothing to mix into


def test_the_plan_counts_the_rows_but_sizes_answers_from_the_answers_alone(tmp_path, tiny_model_dir):
    from tunesmith.plan.hardware import detect_hardware

    (tmp_path / "long.md").write_text(" ".join(["A long paragraph of the handbook about printing."] * 20) + "\n")
    with_documents = make_config(tmp_path, tiny_model_dir, documents={"answers": True, "files": ["long.md"]})
    config = load_config(with_documents)
    data = CAUSAL_LM.load_data(config)
    plan = CAUSAL_LM.plan(config, data, tiny_model_dir, detect_hardware())
    without = load_config(make_config(tmp_path, tiny_model_dir))
    plain_plan = CAUSAL_LM.plan(without, CAUSAL_LM.load_data(without), tiny_model_dir, detect_hardware())
    assert plan["document_rows"] == data.report["documents"]["rows"] > 0
    assert "Jiang et al. 2024" in plan.choices["document_rows"].reason
    assert plan.data["n_train"] == plain_plan.data["n_train"] + plan["document_rows"]
    assert plan.data["answer"] == plain_plan.data["answer"]  # the generation budget follows the answers


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"documents": {"share": 0.5}}, "share needs documents"),
        ({"documents": {"answers": True}, "training": {"curriculum": "difficulty"}}, "a document has no difficulty"),
        ({"documents": {"answers": True, "share": 0}}, "documents.share"),
    ],
)
def test_bad_documents_settings_are_config_errors(raw, message):
    with pytest.raises(ConfigError, match="run.yaml: invalid config") as err:
        config_from_dict({"task": "causal_lm", "data": {"train": "t.jsonl"}, **raw}, "run.yaml")
    assert message in str(err.value)

"""bench/msu_reworded.py: the MSU CS Q&A split so that the test asks trained facts in words training never used.

Reads shared/data/msu/msu_cs_106.json beside the checkout; skips where it is absent (a user's clone has none)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("msu_reworded.py")


@pytest.fixture(scope="module")
def source(bench):
    path = bench.shared_path(*bench.DATA)
    if not path.exists():
        pytest.skip(f"shared/ data not here: {path} (a clone without ../shared)")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def written(bench, source, tmp_path_factory):
    out = tmp_path_factory.mktemp("msu-reworded")
    config = bench.write_splits(out)
    return config, {name: read_jsonl(out / f"{name}.jsonl") for name in ("train", "valid", "test")}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def test_every_reworded_question_names_its_record_by_an_unchanged_hash(bench, source):
    stored = json.loads(bench.REWORDED.read_text(encoding="utf-8"))
    assert stored["source"] == "msu_cs_106.json"
    for item in stored["questions"]:
        assert set(item) == {"index", "instruction_sha1", "question"}  # no answers kept in the project
        assert bench.instruction_sha1(source[item["index"]]["instruction"]) == item["instruction_sha1"], item
    assert len({item["index"] for item in stored["questions"]}) == len(stored["questions"]) >= 30


def test_a_changed_source_is_a_clear_exit(bench, source):
    changed = [dict(record) for record in source]
    first = json.loads(bench.REWORDED.read_text(encoding="utf-8"))["questions"][0]["index"]
    changed[first] = {**changed[first], "instruction": changed[first]["instruction"] + " (edited)"}
    with pytest.raises(SystemExit, match=f"record {first} of msu_cs_106.json has changed"):
        bench.load_reworded(changed)


def test_the_test_asks_trained_facts_in_new_words(written, source):
    _, splits = written
    train, valid, test = splits["train"], splits["valid"], splits["test"]
    assert len(train) + len(valid) == len(source) and len(valid) == 10
    trained_questions = {plain(row["question"]) for row in train}
    every_instruction = {plain(record["instruction"]) for record in source}
    trained_answers = {row["answer"] for row in train}
    for row in test:
        assert plain(row["question"]) not in trained_questions | every_instruction, row["question"]
        assert row["answer"] in trained_answers, row["question"]
        assert set(row) == {"question", "answer", "category"}


def test_no_validation_record_is_reworded(bench, source, written):
    _, splits = written
    reworded = json.loads(bench.REWORDED.read_text(encoding="utf-8"))["questions"]
    reworded_instructions = {source[item["index"]]["instruction"] for item in reworded}
    assert splits["valid"] and not any(row["question"] in reworded_instructions for row in splits["valid"])


def test_the_validation_draw_is_seeded(bench, written, tmp_path):
    _, splits = written
    bench.write_splits(tmp_path)
    assert read_jsonl(tmp_path / "valid.jsonl") == splits["valid"]


def test_the_config_loads_and_points_at_the_three_files(written):
    from tunesmith.config import load_config

    path, _ = written
    config = load_config(path)
    assert config.name == "msu-reworded"
    assert config.model.name == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert {config.data.train, config.data.valid, config.data.test} == {
        path.parent / f"{name}.jsonl" for name in ("train", "valid", "test")
    }

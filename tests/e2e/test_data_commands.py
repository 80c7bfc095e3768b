"""tunesmith analyze / split / augment through the command line, on the bundled sample and a tiny model."""

import json
from collections import Counter

from tests.conftest import SAMPLES
from tests.e2e.test_cli import cli, run_cli
from tunesmith.data import load_examples
from tunesmith.data.analyze import leakage


def test_analyze_writes_json_histograms_and_recommends_a_plan(tmp_path, tiny_model_dir):
    out = tmp_path / "analysis"
    output = run_cli(
        "analyze", SAMPLES / "train.jsonl", SAMPLES / "test.jsonl", "--model", tiny_model_dir, "--out", out
    )
    for expected in ("Examples and token lengths", "Categories", "Recommendation", "Training plan", "method"):
        assert expected in output
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["counts"] == {"train": 200, "test": 100}
    assert analysis["plan"]["data"]["n_train"] == 180  # valid carved out of train, as `train` would do
    assert {item["topic"] for item in analysis["recommendation"]} >= {"model", "augment"}
    for png in ("token_lengths.png", "categories.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_split_is_stratified_reproducible_and_leak_free(tmp_path):
    records = [json.loads(line) for line in (SAMPLES / "train.jsonl").read_text().splitlines()]
    source = tmp_path / "all.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    first = tmp_path / "first"
    run_cli("split", source, "--fractions", "0.7", "0.2", "0.1", "--seed", "3", "--out", first)
    run_cli("split", source, "--fractions", "0.7", "0.2", "0.1", "--seed", "3", "--out", tmp_path / "second")
    parts = {name: load_examples(first / f"{name}.jsonl") for name in ("train", "valid", "test")}
    assert {name: len(p) for name, p in parts.items()} == {"train": 140, "valid": 40, "test": 20}
    for name in parts:
        assert (first / f"{name}.jsonl").read_bytes() == (tmp_path / "second" / f"{name}.jsonl").read_bytes()
    assert leakage(parts) == []
    everywhere = Counter(e.category for e in parts["train"])
    assert set(Counter(e.category for e in parts["test"])) <= set(everywhere)


def test_augment_writes_marked_copies_beside_the_originals(tmp_path):
    out = tmp_path / "augmented.jsonl"
    run_cli("augment", SAMPLES / "train.jsonl", "--copies", "2", "--ops", "delete,swap", "--out", out)
    examples = load_examples(out)
    copies = [e for e in examples if e.augmented_from]
    assert len(examples) - len(copies) == 200 and 300 <= len(copies) <= 400


def test_bad_split_fractions_are_one_clear_error(tmp_path):
    result = cli("split", SAMPLES / "train.jsonl", "--fractions", "0.7", "0.2", "0.2", cwd=tmp_path)
    assert result.returncode == 2 and "summing to 1" in result.stderr and "Traceback" not in result.stderr


def test_analyze_a_run_config_sees_the_splits_training_would_use(tmp_path, tiny_model_dir):
    from tests.e2e.test_cli import make_config
    from tunesmith.config import load_config
    from tunesmith.data import load_splits

    out, config_path = tmp_path / "analysis", make_config(tmp_path, tiny_model_dir)
    run_cli("analyze", config_path, "--out", out)
    analysis = json.loads((out / "analysis.json").read_text())
    expected = load_splits(load_config(config_path).data).sizes()  # valid carved out of train as the config says
    assert analysis["counts"] == expected and expected["valid"] >= 4 and expected["train"] + expected["valid"] == 24
    assert analysis["plan"]["data"]["n_train"] == expected["train"]

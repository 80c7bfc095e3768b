"""Continual learning on a tiny model: a chain of three runs, each continuing from the one before."""

import json
from pathlib import Path

import pytest
import torch
import yaml
from peft import PeftModel
from transformers import AutoModelForCausalLM

from tests.conftest import SAMPLES, write_jsonl
from tunesmith.config import load_config
from tunesmith.errors import RunError
from tunesmith.pipeline import train_run
from tunesmith.runs.registry import current_run, scan

RECORDS = [json.loads(line) for line in (SAMPLES / "train.jsonl").read_text().splitlines()]
TESTS = [json.loads(line) for line in (SAMPLES / "test.jsonl").read_text().splitlines()]


def round_config(tmp_path, model_dir, stage: int, continue_from=None, **continual):
    folder = tmp_path / f"round{stage}"
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", RECORDS[16 * stage : 16 * stage + 16])
    write_jsonl(folder / "test.jsonl", TESTS[4 * stage : 4 * stage + 4])
    config = {
        "name": f"round{stage}",
        "model": {"name": str(model_dir)},
        "data": {"train": "train.jsonl", "test": "test.jsonl", "valid_fraction": 0.0},
        "training": {"epochs": 1, "batch_size": 8, "grad_accum": 1, "bf16": False, "method": "lora"},
        "evaluation": {"max_new_tokens": 4, "compare_base": False},
        "output": {"runs_dir": str(tmp_path / "runs"), "logging_steps": 1, "save_checkpoints": False},
    }
    if continue_from:
        config["continue_from"] = str(continue_from)
    if continual:
        config["continual"] = continual
    (folder / "run.yaml").write_text(yaml.safe_dump(config))
    return load_config(folder / "run.yaml")


def snapshot(folder):
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def chain(tmp_path_factory, tiny_model_dir):
    tmp_path = tmp_path_factory.mktemp("chain")
    with pytest.MonkeyPatch.context() as patch:  # module-scoped: the autouse per-test isolation is not active yet
        patch.setenv("TUNESMITH_HOME", str(tmp_path / "home"))
        first = train_run(round_config(tmp_path, tiny_model_dir, 0))
        before = snapshot(first.path)
        second = train_run(round_config(tmp_path, tiny_model_dir, 1, continue_from=first.path))
        third = train_run(round_config(tmp_path, tiny_model_dir, 2, continue_from=second.path.name, replay_ratio=0.5))
    return tmp_path, first, second, third, before


def test_lineage_is_recorded_along_the_chain(chain, tiny_model_dir):
    _, first, second, third, _ = chain
    records = [json.loads((run.path / "run.json").read_text()) for run in (first, second, third)]
    assert records[0]["parent"] == {"kind": "base_model", "name": str(tiny_model_dir), "path": str(tiny_model_dir)}
    assert records[1]["parent"]["kind"] == "run" and records[1]["parent"]["path"] == str(first.path.resolve())
    assert records[2]["parent"]["path"] == str(second.path.resolve())
    assert records[2]["parent"]["root_model"] == str(tiny_model_dir)
    assert (
        set(records[1]["data_files"]) == {"train", "test"} and len(records[1]["data_files"]["train"]["sha256"]) == 64
    )


def test_the_parent_folder_is_byte_identical_after_its_children(chain):
    _, first, _, _, before = chain
    assert snapshot(first.path) == before


def test_the_child_starts_from_the_parent_merged_and_the_merge_is_cached(chain, tiny_model_dir):
    _, first, second, _, _ = chain
    record = json.loads((second.path / "run.json").read_text())
    merged_dir = record["parent"]["model_path"]
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    unmerged = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir), first.adapter_dir
    ).eval()
    ids = torch.tensor([[1, 5, 9, 42, 7]])
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, unmerged(ids).logits, atol=1e-4, rtol=1e-4)
    cache = Path(merged_dir).parent
    third_parent = Path(json.loads((chain[3].path / "run.json").read_text())["parent"]["model_path"])
    assert third_parent.parent == cache and third_parent != Path(merged_dir)
    assert sorted(cache.iterdir()) == sorted([Path(merged_dir), third_parent])  # round 1 merged once, then reused


def test_replay_mixes_earlier_training_examples_in(chain):
    _, first, second, third, _ = chain
    plan = json.loads((third.path / "plan.json").read_text())
    replay = plan["choices"]["replay_examples"]
    assert replay["source"] == "config" and replay["value"] == 8  # 0.5 x 16 new examples

    def questions(run):
        lines = (run.path / "data" / "train.jsonl").read_text().splitlines()
        return [json.loads(line)["messages"][0]["content"] for line in lines]

    train = questions(third)
    assert len(train) == 16 + 8
    earlier = set(questions(first)) | set(questions(second))
    assert sum(question in earlier for question in train) == 8
    assert json.loads((second.path / "plan.json").read_text())["choices"]["replay_examples"]["source"] == "plan"


def test_every_earlier_stage_is_rescored_with_its_retention(chain):
    _, first, second, third, _ = chain
    stages = json.loads((third.path / "metrics.json").read_text())["earlier_stages"]
    assert [stage["run"] for stage in stages] == [second.path.name, first.path.name]
    for stage, run in zip(stages, (second, first)):
        own = json.loads((run.path / "metrics.json").read_text())["tuned"]["overall"]
        assert stage["before"]["token_f1"] == own["token_f1"] and stage["n"] == 4
        if own["token_f1"]:
            assert stage["retention"]["token_f1"] == pytest.approx(
                stage["after"]["token_f1"] / own["token_f1"], abs=1e-3
            )
    assert "Earlier stages (forgetting)" in (third.path / "report.md").read_text()


def test_registry_sees_the_tree_and_the_newest_run_is_current(chain):
    tmp_path, first, second, third, _ = chain
    runs = scan(tmp_path / "runs")
    assert [run.name for run in runs] == [first.path.name, second.path.name, third.path.name]
    assert current_run(tmp_path / "runs") == third.path.resolve()


def test_continuing_from_an_unfinished_run_is_a_clear_error(tmp_path, tiny_model_dir):
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "run.json").write_text(json.dumps({"status": "running"}))
    with pytest.raises(RunError, match="needs a finished run"):
        train_run(round_config(tmp_path, tiny_model_dir, 0, continue_from=tmp_path / "fake"))


def test_the_plan_says_which_run_continue_from_resolved_to(chain, tiny_model_dir):
    tmp_path, first, second, third, _ = chain
    choices = {run.path.name: json.loads((run.path / "plan.json").read_text())["choices"] for run in (second, third)}
    assert choices[second.path.name]["continue_from"] == {
        "value": first.path.name,
        "reason": "the run folder given",
        "source": "config",
    }
    assert choices[third.path.name]["continue_from"]["value"] == second.path.name
    config = round_config(tmp_path, tiny_model_dir, 3, continue_from="round1")  # the configured name
    from tunesmith.continual import parent_choice

    assert parent_choice(config).value == second.path.name
    assert parent_choice(config).reason == "the newest finished run named 'round1'"

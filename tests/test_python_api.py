"""The Python API (tunesmith.api) and the example script that uses it, on the tiny Llama."""

import runpy
from pathlib import Path

import pytest

from tunesmith import api as ts
from tunesmith.errors import ConfigError, RunError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "python_api.py"


@pytest.mark.slow  # trains on the 200 demo examples and scores 100 test questions, base and tuned
def test_the_example_script_plans_trains_scores_loads_and_answers(tiny_model_dir, tmp_path, capsys):
    example = runpy.run_path(str(EXAMPLE))
    run = example["main"](["--model", str(tiny_model_dir), "--epochs", "1", "--runs-dir", str(tmp_path / "runs")])
    printed = capsys.readouterr().out
    assert "method" in printed and "estimated training" in printed and "answer:" in printed
    assert run.status == "done" and run.path.parent == tmp_path / "runs"
    assert 0.0 <= run.scores("tuned")["token_f1"] <= 1.0 and "token_f1" in run.scores("base")
    assert run.choice("epochs") == 1 and run.config["model"]["name"] == str(tiny_model_dir)
    assert (run.path / "report.html").is_file()

    assert [listed.path for listed in ts.runs(tmp_path / "runs")] == [run.path]
    assert ts.Run.open(run.name, tmp_path / "runs").path == run.path
    again = ts.evaluate(run, max_examples=4)
    assert again["tuned"]["overall"]["token_f1"] >= 0.0 and "base" not in again
    model, tokenizer = ts.load(run)
    assert not model.training and tokenizer.chat_template


def test_overrides_are_validated_like_a_config_file(tmp_path, tiny_model_dir):
    from tests.e2e.test_cli import make_config

    path = make_config(tmp_path, tiny_model_dir)
    config = ts.config(path, training={"epochs": 3}, name="renamed")
    assert config.training.epochs == 3 and config.name == "renamed"
    assert config.data.train == (tmp_path / "train.jsonl").resolve()  # relative to the config's folder
    with pytest.raises(ConfigError, match="training.epoch: unknown key"):
        ts.config(path, training={"epoch": 3})
    with pytest.raises(ConfigError, match="'name' is not a section"):
        ts.config(path, name={"x": 1})
    plan = ts.plan(path, training={"epochs": 2})
    assert plan["epochs"] == 2 and plan.choices["epochs"].source == "config"


def test_a_missing_run_is_tunesmiths_own_error(tmp_path):
    with pytest.raises(RunError, match="no such run"):
        ts.Run.open("nothing-here", tmp_path)

"""tunesmith tune (Optuna) on the tiny Llama: the plan is the first trial, each trial a run folder scored on the
validation split, the study in SQLite, a report with the best trial; a trial below the median is pruned."""

import json
from types import SimpleNamespace

import optuna
import pytest

from tests.e2e.test_cli import make_config, run_cli
from tunesmith.config import load_config
from tunesmith.errors import ConfigError
from tunesmith.runs.registry import current_run
from tunesmith.tune import _EpochReporter, tune


@pytest.mark.slow  # three tiny trainings, one with rewrites (MiniLM)
def test_three_trials_start_from_the_plan_and_keep_every_run(tmp_path, tiny_model_dir):
    config = load_config(make_config(tmp_path, tiny_model_dir, training={"bf16": False, "epochs": 3}))
    from tunesmith.pipeline import prepare

    plan = prepare(config).plan
    result = tune(config, trials=3)
    first = result.trials[0]
    assert first["params"]["learning_rate"] == pytest.approx(plan["learning_rate"])
    assert first["params"]["lora_r"] == plan["lora_r"] and first["params"]["epochs"] == pytest.approx(plan["epochs"])
    assert first["params"]["rewrites_k"] == 0 and first["params"]["documents"] is False
    assert len(result.trials) == 3 and all(row["state"] in ("complete", "pruned") for row in result.trials)
    for row in result.trials:
        record = json.loads((tmp_path / "runs" / row["run"] / "run.json").read_text())
        assert record["status"] == ("done" if row["state"] == "complete" else "failed")
        if row["state"] == "complete":  # the objective is the run's validation score, never the test split's
            assert row["value"] == pytest.approx(record["training"]["best_validation"])
            assert record["training"]["validation_metric"] == "eval_loss"  # 5 validation questions: the loss
    saved = json.loads((result.folder / "tune.json").read_text())
    assert saved["direction"] == "minimize" and saved["best"]["value"] == min(
        row["value"] for row in result.trials if row["value"] is not None
    )
    report = (result.folder / "tune.md").read_text()
    assert "Best: trial" in report and "| trial | state | value |" in report
    assert (result.folder / "study.db").is_file()
    assert current_run(tmp_path / "runs") == result.best_run.resolve()  # the best trial serves from now on
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{result.folder / 'study.db'}")
    assert len(study.trials) == 3  # the study can be read back (or joined by another machine)


def test_a_trial_below_the_median_is_pruned_after_its_epoch():
    reported = []
    trial = SimpleNamespace(report=lambda value, step: reported.append((value, step)), should_prune=lambda: True)
    reporter = _EpochReporter(trial)
    args = SimpleNamespace(output_dir="/tmp/runs/x/checkpoints", metric_for_best_model="eval_loss")
    with pytest.raises(optuna.TrialPruned, match="pruned after epoch 2: eval_loss 1.5000 worse than the median"):
        reporter.on_evaluate(args, SimpleNamespace(epoch=2.0), None, metrics={"eval_loss": 1.5})
    assert reported == [(1.5, 2)] and str(reporter.run_path) == "/tmp/runs/x"


def test_tune_refuses_what_it_cannot_search(tmp_path, tiny_model_dir):
    no_valid = load_config(make_config(tmp_path, tiny_model_dir, data={"train": "train.jsonl", "valid_fraction": 0}))
    with pytest.raises(ConfigError, match="needs a validation split"):
        tune(no_valid, trials=1)


def test_the_command_line_runs_a_study(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = make_config(tmp_path, tiny_model_dir, training={"bf16": False, "epochs": 2})
    output = run_cli("tune", config, "--trials", "1")
    assert "1 trials; best" in output and "tune.md" in output


def test_a_full_fine_tune_searches_no_rank_and_its_trials_keep_no_lora_section(tmp_path, tiny_model_dir, monkeypatch):
    import tunesmith.tune as tune_module

    config = load_config(make_config(tmp_path, tiny_model_dir, training={"bf16": False, "method": "full"}))
    plan = {"learning_rate": 5e-5, "epochs": 3, "method": "full"}
    space = tune_module._space(config, plan)
    assert "lora_r" not in space and {"learning_rate", "epochs"} <= set(space)
    seen = []
    monkeypatch.setattr("tunesmith.pipeline.train_run", lambda trial_config: seen.append(trial_config) or 1 / 0)
    trial = optuna.create_study().ask()
    with pytest.raises(ZeroDivisionError):
        tune_module._objective(trial, config, space, "loss")
    assert seen[0].training.method == "full" and not seen[0].lora.model_fields_set

"""A tiny Q&A run whose kept checkpoint is chosen by its validation answers: the score reaches the log, run.json
and the report."""

import json

from tests.e2e.test_cli import make_config
from tunesmith.config import load_config
from tunesmith.pipeline import train_run


def test_a_run_selected_by_answers_logs_and_reports_the_score(tmp_path, tiny_model_dir):
    config = load_config(make_config(tmp_path, tiny_model_dir, training={"epochs": 2, "select_by": "answers"}))
    run = train_run(config)
    record = json.loads((run.path / "run.json").read_text())
    assert record["status"] == "done"
    assert record["training"]["validation_metric"] == "eval_answer_score"
    log = [json.loads(line) for line in (run.path / "logs" / "train_log.jsonl").read_text().splitlines()]
    evaluations = [line for line in log if "eval_loss" in line]
    assert len(evaluations) == 2 and all(
        "eval_answer_score" in line and "eval_token_f1" in line for line in evaluations
    )
    assert record["training"]["validation"] == [line["eval_answer_score"] for line in evaluations]
    plan = json.loads((run.path / "plan.json").read_text())
    assert plan["choices"]["select_by"] == {"value": "answers", "reason": "set in the config", "source": "config"}
    assert "validation answer score (decides)" in (run.path / "report.md").read_text()

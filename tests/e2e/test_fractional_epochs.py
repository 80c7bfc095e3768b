"""A fractional epoch count trains that share of the last epoch: the schedule and checkpoints count steps."""

import json

from tests.e2e.test_cli import make_config
from tunesmith.config import load_config
from tunesmith.pipeline import train_run


def test_one_and_a_half_epochs_train_one_and_a_half_epochs_of_steps(tmp_path, tiny_model_dir):
    training = {"epochs": 1.5, "batch_size": 4, "grad_accum": 1, "bf16": False}
    run = train_run(load_config(make_config(tmp_path, tiny_model_dir, training=training))).path
    plan = json.loads((run / "plan.json").read_text())["estimate"]
    record = json.loads((run / "run.json").read_text())
    assert plan["steps_per_epoch"] == 5 and plan["total_steps"] == 8  # 20 training examples, batches of 4
    assert record["status"] == "done" and record["training"]["steps"] == 8
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["checkpoint-5", "checkpoint-8"]

"""MLflow as a tracker beside TensorBoard: a tiny run logs its parameters, its loss at every logged step and its
trained adapter to an MLflow file store, read back here with MLflow's own client."""

import pytest

from tests.e2e.test_cli import make_config
from tunesmith.config import config_from_dict, load_config
from tunesmith.errors import ConfigError
from tunesmith.pipeline import train_run

mlflow = pytest.importorskip("mlflow")  # the dev extra installs it (mlflow-skinny)


def test_a_run_logs_params_metrics_per_step_and_the_adapter_to_mlflow(tmp_path, tiny_model_dir):
    store = tmp_path / "tracking"
    output = {"runs_dir": str(tmp_path / "runs"), "logging_steps": 1, "mlflow": True}
    output["mlflow_tracking_uri"] = store.as_uri()
    config_path = make_config(tmp_path, tiny_model_dir, output=output, evaluation={"max_new_tokens": 4})
    run = train_run(load_config(config_path))
    client = mlflow.MlflowClient(store.as_uri())
    experiment = client.get_experiment_by_name("tiny")
    [tracked] = client.search_runs([experiment.experiment_id])
    assert tracked.info.run_name == run.path.name and tracked.info.status == "FINISHED"
    assert float(tracked.data.params["learning_rate"]) > 0 and float(tracked.data.params["num_train_epochs"]) == 2
    losses = client.get_metric_history(tracked.info.run_id, "loss")
    steps = sorted(point.step for point in losses)
    assert len(steps) >= 4 and steps == sorted(set(steps))  # one point per logged step
    assert client.get_metric_history(tracked.info.run_id, "eval_loss")  # the validation after each epoch
    artifacts = {item.path for item in client.list_artifacts(tracked.info.run_id, "adapter")}
    assert {"adapter/adapter_model.safetensors", "adapter/adapter_config.json"} <= artifacts


def test_a_tracking_uri_without_mlflow_is_refused():
    with pytest.raises(ConfigError, match="mlflow_tracking_uri"):
        config_from_dict({"data": {"train": "t.jsonl"}, "output": {"mlflow_tracking_uri": "file:///tmp/x"}})

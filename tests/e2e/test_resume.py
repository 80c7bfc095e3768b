"""A run stopped after its first checkpoint and resumed ends with the same adapter (or, fine-tuned in full, the same
model) as a run never stopped."""

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.e2e.test_cli import make_config
from tunesmith.config import load_config
from tunesmith.errors import RunError
from tunesmith.pipeline import resume_run, train_run
from tunesmith.training.callbacks import ProgressCallback


class Killed(RuntimeError):
    pass


def adapter_weights(run_path):
    if (run_path / "model" / "model.safetensors").is_file():  # training.method full
        return load_file(run_path / "model" / "model.safetensors")
    return load_file(run_path / "adapter" / "adapter_model.safetensors")


@pytest.mark.parametrize("method", ["lora", "full"])
def test_resumed_run_matches_an_uninterrupted_one(tmp_path, tiny_model_dir, monkeypatch, method):
    training = {"epochs": 3, "batch_size": 4, "grad_accum": 1, "bf16": False, "learning_rate": 1e-2}
    overrides = {
        "training": {**training, "method": method},
        # every evaluation after the first stalls: the resumed run must carry the plateau state to match
        "schedule": {"plateau": {"patience": 1, "threshold": 0.9}},
    }
    config_path = make_config(tmp_path, tiny_model_dir, **overrides)
    straight = train_run(load_config(config_path))

    def kill_after_first_checkpoint(self, args, state, control, **kwargs):
        raise Killed(f"killed after saving step {state.global_step}")

    monkeypatch.setattr(ProgressCallback, "on_save", kill_after_first_checkpoint, raising=False)
    with pytest.raises(Killed):
        train_run(load_config(config_path))
    monkeypatch.undo()
    [stopped] = [path.parent for path in (tmp_path / "runs").glob("*/run.json") if path.parent != straight.path]
    assert json.loads((stopped / "run.json").read_text())["status"] == "failed"
    assert [p.name for p in (stopped / "checkpoints").iterdir()] == ["checkpoint-5"]
    half_written = stopped / "checkpoints" / "checkpoint-10"
    half_written.mkdir()
    (half_written / "adapter_model.safetensors").write_bytes(b"truncated")

    resumed = resume_run(stopped)
    record = json.loads((resumed.path / "run.json").read_text())
    assert record["status"] == "done" and record["resumed_from"].endswith("checkpoint-5")
    expected, actual = adapter_weights(straight.path), adapter_weights(resumed.path)
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.allclose(expected[name], actual[name], atol=1e-6), name
    assert (resumed.path / "metrics.json").is_file()
    with pytest.raises(RunError, match="already finished"):
        resume_run(resumed.path)


def test_a_run_stopped_while_scoring_resumes_and_writes_its_results_anew(tmp_path, tiny_model_dir, monkeypatch):
    from tunesmith.tasks.generative import GenerativeTask

    overrides = {"training": {"epochs": 1, "batch_size": 4, "bf16": False}, "evaluation": {"max_new_tokens": 4}}
    config_path = make_config(tmp_path, tiny_model_dir, **overrides)

    def stop_while_scoring(*args, **kwargs):
        raise Killed("killed while scoring")

    monkeypatch.setattr(GenerativeTask, "evaluate", stop_while_scoring)
    with pytest.raises(Killed):
        train_run(load_config(config_path))
    monkeypatch.undo()
    [stopped] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    assert (stopped / "adapter" / "adapter_config.json").is_file()  # training had finished and saved
    resumed = resume_run(stopped)
    record = json.loads((resumed.path / "run.json").read_text())
    assert record["status"] == "done" and (resumed.path / "metrics.json").is_file()
    assert not list(resumed.path.glob(".stale-*"))

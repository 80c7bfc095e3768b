"""Two CPU processes (gloo) train like one process with the same global batch, and resume after being killed.

Each run here starts real processes through ``tunesmith train --processes 2`` (accelerate launch underneath).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.conftest import SAMPLES, write_jsonl
from tunesmith.config import load_config
from tunesmith.pipeline import train_run

pytestmark = pytest.mark.slow


def _records(name: str, count: int) -> list[dict]:
    return [json.loads(line) for line in (SAMPLES / name).read_text().splitlines()][:count]


def _config(folder: Path, model_dir: Path, batch_size: int) -> Path:
    """20 training examples: whole global batches of 4, so both layouts see exactly the same examples per step."""
    folder.mkdir()
    records = _records("train.jsonl", 24)
    write_jsonl(folder / "train.jsonl", records[:20])
    write_jsonl(folder / "valid.jsonl", records[20:])
    write_jsonl(folder / "test.jsonl", _records("test.jsonl", 4))
    config = {
        "name": "tiny",
        "model": {"name": str(model_dir)},
        "data": {"train": "train.jsonl", "valid": "valid.jsonl", "test": "test.jsonl"},
        "lora": {"dropout": 0.0},  # dropout draws differ between processes
        "training": {
            **{"epochs": 3, "batch_size": batch_size, "grad_accum": 1, "bf16": False, "learning_rate": 1e-2},
            "method": "lora",
        },
        "evaluation": {"max_new_tokens": 4, "compare_base": False},
        "output": {"runs_dir": str(folder / "runs"), "logging_steps": 1},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _tunesmith(*args, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    command = [sys.executable, "-m", "tunesmith.cli", *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def _only_run(runs_dir: Path) -> Path:
    [run] = [path.parent for path in runs_dir.glob("*/run.json")]
    return run


def _losses(run: Path) -> tuple[list[float], list[float]]:
    lines = [json.loads(line) for line in (run / "logs" / "train_log.jsonl").read_text().splitlines()]
    train = [line["loss"] for line in lines if "loss" in line]
    return train, [line["eval_loss"] for line in lines if "eval_loss" in line]


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, tiny_model_dir) -> Path:
    os.environ["TUNESMITH_HOME"] = str(tmp_path_factory.mktemp("home"))
    folder = tmp_path_factory.mktemp("two") / "run"
    completed = _tunesmith("train", _config(folder, tiny_model_dir, batch_size=2), "--processes", "2")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return _only_run(folder / "runs")


def test_two_processes_follow_the_loss_curve_of_one_with_the_same_global_batch(
    two_process_run, tmp_path, tiny_model_dir
):
    one = train_run(load_config(_config(tmp_path / "one", tiny_model_dir, batch_size=4)))
    plan = json.loads((two_process_run / "plan.json").read_text())
    assert plan["hardware"]["world_size"] == 2
    assert plan["estimate"]["steps_per_epoch"] == 5  # 20 examples / (2 per process x 2 processes)

    train_losses, eval_losses = _losses(two_process_run)
    expected_train, expected_eval = _losses(one.path)
    assert len(train_losses) == len(expected_train) == 15
    assert train_losses == pytest.approx(expected_train, rel=2e-3)
    assert eval_losses == pytest.approx(expected_eval, rel=2e-3)
    assert train_losses[-1] < train_losses[0] - 0.5  # and it learned

    record = json.loads((two_process_run / "run.json").read_text())
    assert record["status"] == "done" and (two_process_run / "metrics.json").is_file()
    # the main process alone wrote the log: one line per step, not one per process
    log_lines = (two_process_run / "logs" / "train_log.jsonl").read_text().splitlines()
    assert len(log_lines) == 15 + 3 + 1  # steps, evaluations, the closing summary


KILL_AFTER_FIRST_SAVE = textwrap.dedent(
    """
    import os
    from tunesmith.training.callbacks import ProgressCallback

    def _killed_after_first_save(self, args, state, control, **kwargs):
        import torch.distributed as dist

        dist.barrier()  # every process has written its share of the checkpoint
        os._exit(9)

    ProgressCallback.on_save = _killed_after_first_save
    """
)


def test_a_killed_two_process_run_resumes_to_the_same_adapter(two_process_run, tmp_path, tiny_model_dir):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(KILL_AFTER_FIRST_SAVE)
    pythonpath = os.pathsep.join([str(hooks), *filter(None, [os.environ.get("PYTHONPATH")])])
    config = _config(tmp_path / "killed", tiny_model_dir, batch_size=2)
    killed = _tunesmith("train", config, "--processes", "2", env_extra={"PYTHONPATH": pythonpath})
    assert killed.returncode != 0
    stopped = _only_run(tmp_path / "killed" / "runs")
    assert json.loads((stopped / "run.json").read_text())["status"] == "running"  # killed: nothing marked it
    assert [path.name for path in (stopped / "checkpoints").iterdir()] == ["checkpoint-5"]

    refused = _tunesmith("train", "--resume", stopped)  # one process cannot carry on a two-process run
    assert refused.returncode == 2 and "--processes 2" in refused.stderr

    resumed = _tunesmith("train", "--resume", stopped, "--processes", "2")
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    record = json.loads((stopped / "run.json").read_text())
    assert record["status"] == "done" and record["resumed_from"].endswith("checkpoint-5")
    expected = load_file(two_process_run / "adapter" / "adapter_model.safetensors")
    actual = load_file(stopped / "adapter" / "adapter_model.safetensors")
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.allclose(expected[name], actual[name], atol=1e-5), name

"""A run killed (SIGKILL) at every stage, or stopped with Ctrl-C, leaves a folder that ``train --resume`` finishes to
the weights of a run never stopped, or that ``runs`` shows as failed with the reason; no half-written file is
ever taken for a whole one. The faults are injected in a child process by tests/e2e/faults.py."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from tests.e2e.faults import POINTS
from tests.e2e.test_cli import make_config
from tunesmith.cli import app
from tunesmith.config import load_config
from tunesmith.errors import RunError
from tunesmith.pipeline import resume_run, train_run

ROOT = Path(__file__).resolve().parents[2]
RESUMABLE = [point for point in POINTS if point not in ("planning", "preparing")]


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_model_dir):
    """One run never stopped: 2 epochs of 5 steps, a checkpoint after each, scored and reported."""
    folder = tmp_path_factory.mktemp("faults")
    overrides = {"training": {"epochs": 2, "batch_size": 4, "grad_accum": 1, "bf16": False, "learning_rate": 1e-2}}
    config_path = make_config(folder, tiny_model_dir, **overrides)
    return config_path, train_run(load_config(config_path)).path


def stopped_run(config_path: Path, point: str, kind: str) -> tuple[subprocess.CompletedProcess, Path | None]:
    runs = config_path.parent / "runs"
    before = set(runs.iterdir())
    command = [sys.executable, "-m", "tests.e2e.faults", point, kind, "train", str(config_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    new = [path for path in runs.iterdir() if path not in before and path.name != "current.json"]
    return result, (new[0] if new else None)


def runs_listing(runs: Path) -> str:
    result = CliRunner().invoke(app, ["runs", "--runs-dir", str(runs)], catch_exceptions=False, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.output


def assert_same_weights(expected_run: Path, actual_run: Path) -> None:
    expected = load_file(expected_run / "adapter" / "adapter_model.safetensors")
    actual = load_file(actual_run / "adapter" / "adapter_model.safetensors")
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.allclose(expected[name], actual[name], atol=1e-6), name


@pytest.mark.slow  # a child process a stage, each killed there, then resumed
@pytest.mark.parametrize("point", RESUMABLE)
def test_a_run_killed_at_any_stage_resumes_to_the_weights_of_a_straight_run(straight, point):
    config_path, straight_run = straight
    result, run = stopped_run(config_path, point, "kill")
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    record = json.loads((run / "run.json").read_text())
    listing = runs_listing(run.parent)
    if point == "writing the report":  # the run had finished: only its (derived) report is missing
        assert record["status"] == "done" and not (run / "report.html").exists()
    else:
        assert record["status"] == "running"  # what the killed process last wrote ...
        line = next(line for line in listing.splitlines() if run.name in line)
        assert "interrupted" in line and "--resume" in line, listing  # ... and what `runs` makes of it
        assert f"while {record['stage']}" in line and "the process was killed" in line
    leftovers = [path.name for path in run.glob(".*")]
    resumed = resume_run(run)
    assert json.loads((resumed.path / "run.json").read_text())["status"] == "done"
    assert_same_weights(straight_run, resumed.path)
    assert (resumed.path / "metrics.json").is_file() and (resumed.path / "report.html").is_file()
    assert not list(run.glob(".*")), f"left behind: {[path.name for path in run.glob('.*')]} (before: {leftovers})"
    for checkpoint in (run / "checkpoints").iterdir():
        json.loads((checkpoint / "trainer_state.json").read_text())  # a cut-short one was dropped, not resumed from
    with pytest.raises(RunError, match="already finished"):
        resume_run(run)


@pytest.mark.slow
def test_a_run_killed_while_planning_leaves_nothing_and_one_killed_while_preparing_shows_as_failed(straight):
    config_path, _ = straight
    result, run = stopped_run(config_path, "planning", "kill")
    assert result.returncode == -signal.SIGKILL and run is None
    result, run = stopped_run(config_path, "preparing", "kill")
    assert result.returncode == -signal.SIGKILL
    assert (run / "run.json").is_file() and not (run / "plan.json").exists()
    line = next(line for line in runs_listing(run.parent).splitlines() if run.name in line)
    assert "failed" in line and "while preparing" in line
    with pytest.raises(RunError, match="start it again"):
        resume_run(run)


@pytest.mark.slow
def test_ctrl_c_mid_epoch_saves_a_checkpoint_there_says_how_to_resume_and_resumes_to_the_same_weights(straight):
    config_path, straight_run = straight
    result, run = stopped_run(config_path, "mid-epoch", "interrupt")
    assert result.returncode == 130, result.stderr[-3000:]
    assert "stopped:" in result.stderr and "while training" in result.stderr
    assert "checkpoint-7" in result.stderr and f"tunesmith train --resume {run}" in result.stderr
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and record["stage"] == "training"
    assert sorted(path.name for path in (run / "checkpoints").iterdir()) == ["checkpoint-5", "checkpoint-7"]
    assert not (run / "adapter").exists()
    resumed = resume_run(run)
    assert json.loads((resumed.path / "run.json").read_text())["resumed_from"].endswith("checkpoint-7")
    assert_same_weights(straight_run, resumed.path)


@pytest.mark.slow
def test_ctrl_c_while_scoring_records_the_stage_and_resumes(straight):
    config_path, straight_run = straight
    result, run = stopped_run(config_path, "scoring", "interrupt")
    assert result.returncode == 130, result.stderr[-3000:]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and record["stage"] == "scoring"
    assert "while scoring" in result.stderr and "Traceback" not in result.stderr
    assert_same_weights(straight_run, resume_run(run).path)

"""A disk that fills while a checkpoint, a report or an export is written: one clear error naming the file, the
files written before kept whole, and the run finished by ``train --resume`` once there is space again. The full
disk is an injected write error (ENOSPC) at the call that writes the file."""

import errno
import json
import os
import sys

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerState

import tunesmith.atomic
from tests.e2e.test_cli import make_config
from tunesmith.cli import main
from tunesmith.config import load_config
from tunesmith.errors import RunError
from tunesmith.pipeline import resume_run, train_run


def disk_full(path):
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def run_main(monkeypatch, capsys, *arguments) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["tunesmith", *map(str, arguments)])
    with pytest.raises(SystemExit) as stopped:
        main()
    return stopped.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def config_path(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("disk")
    overrides = {"training": {"epochs": 2, "batch_size": 4, "grad_accum": 1, "bf16": False}}
    return make_config(folder, tiny_model_dir, evaluation={"max_new_tokens": 4}, **overrides)


def test_a_full_disk_while_checkpointing_fails_clearly_keeps_the_earlier_checkpoint_and_resumes(
    config_path, monkeypatch
):
    original = TrainerState.save_to_json

    def fill_the_disk(self, path):
        if "checkpoint-10" in str(path):
            raise disk_full(path)
        return original(self, path)

    monkeypatch.setattr(TrainerState, "save_to_json", fill_the_disk)
    with pytest.raises(RunError) as raised:
        train_run(load_config(config_path))
    monkeypatch.undo()
    message = str(raised.value)
    assert "No space left on device" in message and "checkpoint-10" in message and "while training" in message
    assert "train --resume" in message
    [run] = [path.parent for path in (config_path.parent / "runs").glob("*/run.json")]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed" and record["stage"] == "training" and "No space" in record["error"]
    assert (run / "checkpoints" / "checkpoint-5" / "trainer_state.json").is_file()  # the earlier one is whole
    resumed = resume_run(run)  # space freed: the half checkpoint is dropped, training goes on from checkpoint-5
    assert json.loads((resumed.path / "run.json").read_text())["resumed_from"].endswith("checkpoint-5")
    assert sorted(path.name for path in (run / "checkpoints").iterdir()) == ["checkpoint-10", "checkpoint-5"]
    straight = train_run(load_config(config_path))
    expected, actual = (load_file(r / "adapter" / "adapter_model.safetensors") for r in (straight.path, run))
    assert all(torch.allclose(expected[name], actual[name], atol=1e-6) for name in expected)


def test_a_full_disk_while_writing_a_report_or_an_export_is_one_clear_error_and_keeps_the_old_files(
    config_path, monkeypatch, capsys
):
    runs = config_path.parent / "runs"
    run = train_run(load_config(config_path)).path
    old_report = (run / "report.html").read_bytes()
    original = tunesmith.atomic.write_bytes

    def fill_the_disk(path, data):
        if path.name == "report.html":
            with tunesmith.atomic.staged_file(path) as temp:
                temp.write_bytes(data[:100])
                raise disk_full(temp)
        return original(path, data)

    monkeypatch.setattr(tunesmith.atomic, "write_bytes", fill_the_disk)
    code, err = run_main(monkeypatch, capsys, "report", run)
    assert code == 2 and "No space left on device" in err and "kept" in err and "Traceback" not in err
    assert (run / "report.html").read_bytes() == old_report
    assert not list(run.glob(".report.html-*"))
    monkeypatch.undo()

    import transformers.modeling_utils

    def no_space(tensors, filename, *args, **kwargs):
        raise disk_full(filename)

    monkeypatch.setattr(transformers.modeling_utils, "safe_save_file", no_space)
    out = config_path.parent / "merged"
    code, err = run_main(monkeypatch, capsys, "export", run, "--out", out, "--runs-dir", runs)
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    assert not out.exists() and not list(config_path.parent.glob(".merged-*"))  # no half-written model folder


def test_a_full_fine_tune_whose_checkpoints_would_not_fit_is_refused_before_anything_is_written(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    import shutil

    import tunesmith.pipeline

    path = make_config(tmp_path, tiny_model_dir, training={"method": "full", "epochs": 2, "bf16": False})
    free = shutil.disk_usage(tmp_path)._replace(free=1024)  # 1 KiB: less than the tiny model's fp32 weights
    monkeypatch.setattr(tunesmith.pipeline.shutil, "disk_usage", lambda folder: free)
    code, err = run_main(monkeypatch, capsys, "train", path)
    assert code != 0 and "Traceback" not in err
    message = " ".join(err.split())
    assert "a full fine-tune's checkpoints and model take up to" in message and "output.keep_checkpoints" in message
    assert not (tmp_path / "runs").exists()  # refused before the run folder

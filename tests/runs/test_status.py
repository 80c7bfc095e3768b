"""A run's status as it stands now: a run whose process is gone shows as interrupted, with the command to finish it."""

import json
import os
import socket
import subprocess
import sys

import pytest
from rich.console import Console

from tunesmith.errors import RunError
from tunesmith.runs import RunFolder
from tunesmith.runs.registry import prune, scan
from tunesmith.runs.show import print_run, print_runs
from tunesmith.runs.status import INTERRUPTED, UNKNOWN_PROCESS, effective_status, process_record

linux_only = pytest.mark.skipif(not os.path.isfile("/proc/self/stat"), reason="start times come from /proc")


def make_run(runs_dir, name, process, status="running", **extra):
    folder = runs_dir / name
    (folder / "checkpoints" / "checkpoint-5").mkdir(parents=True)
    record = {"status": status, "parent": {"kind": "base_model", "name": "m"}, "started_at": "2026-11-23T10:00:00"}
    if process is not None:
        record["process"] = process
    (folder / "run.json").write_text(json.dumps({**record, **extra}))
    return folder


def finished_child_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def listing(runs_dir) -> str:
    console = Console(record=True, width=400)
    print_runs(runs_dir, console)
    return console.export_text()


def detail(run_path, runs_dir) -> str:
    console = Console(record=True, width=400)
    print_run(run_path, runs_dir, console)
    return console.export_text()


def test_a_run_of_this_live_process_shows_running(tmp_path):
    run = RunFolder.create(tmp_path, "live")
    run.start(parent={"kind": "base_model", "name": "m", "path": "/m"})
    process = run.read_json("run.json")["process"]
    assert process["pid"] == os.getpid() and process["host"] == socket.gethostname()
    assert effective_status(run.read_json("run.json")) == "running"
    assert "running" in listing(tmp_path) and "--resume" not in listing(tmp_path)
    assert [info.status for info in scan(tmp_path)] == ["running"]


def test_a_run_whose_process_is_gone_shows_interrupted_with_the_resume_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    process = {"pid": finished_child_pid(), "host": socket.gethostname(), "started": 12345}
    folder = make_run(runs, "killed", process)
    assert effective_status(json.loads((folder / "run.json").read_text())) == INTERRUPTED
    [info] = scan(runs)
    assert info.status == INTERRUPTED
    text = listing(runs)
    line = next(line for line in text.splitlines() if "killed" in line)
    assert "interrupted" in line and "tunesmith train --resume runs/killed" in line and "running" not in line
    shown = detail(folder.resolve(), runs)
    assert "status interrupted" in shown and "tunesmith train --resume runs/killed" in shown
    with pytest.raises(RunError, match="train --resume"):  # its checkpoints are what the resume needs
        prune(runs, [folder], checkpoints_only=True)
    assert (folder / "checkpoints").is_dir()


@linux_only
def test_a_recycled_pid_is_not_taken_for_the_run(tmp_path):
    mine = process_record()
    assert isinstance(mine["started"], int)
    recycled = {**mine, "started": mine["started"] - 1}  # same pid, but a process that started at another time
    assert effective_status({"status": "running", "process": mine}) == "running"
    assert effective_status({"status": "running", "process": recycled}) == INTERRUPTED


def test_a_run_on_another_host_stays_running_and_names_the_host(tmp_path):
    make_run(tmp_path, "remote", {"pid": os.getpid(), "host": "gpu-box-7", "started": 1})
    assert [info.status for info in scan(tmp_path)] == ["running (on gpu-box-7)"]
    line = next(line for line in listing(tmp_path).splitlines() if "remote" in line)
    assert "running (on gpu-box-7)" in line and "--resume" not in line


def test_a_run_json_without_a_process_record_is_neither_running_nor_interrupted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = make_run(tmp_path, "old", None)
    assert [info.status for info in scan(tmp_path)] == [UNKNOWN_PROCESS]
    line = next(line for line in listing(tmp_path).splitlines() if "old" in line)
    assert UNKNOWN_PROCESS in line and "if stopped: tunesmith train --resume old" in line
    assert "if it was stopped, finish it with tunesmith train --resume old" in detail(folder.resolve(), tmp_path)


def test_finished_runs_show_their_recorded_status_whatever_the_process(tmp_path):
    gone = {"pid": finished_child_pid(), "host": socket.gethostname(), "started": 1}
    assert effective_status({"status": "done", "process": gone}) == "done"
    assert effective_status({"status": "failed", "process": gone}) == "failed"
    assert effective_status({}) == "?"


def test_the_resume_command_asks_for_the_planned_number_of_processes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = make_run(tmp_path, "wide", {"pid": finished_child_pid(), "host": socket.gethostname(), "started": 1})
    (folder / "plan.json").write_text(json.dumps({"hardware": {"world_size": 2}}))
    assert "tunesmith train --resume wide --processes 2" in listing(tmp_path)


def test_resuming_records_the_new_process(tmp_path):
    folder = make_run(tmp_path, "again", {"pid": finished_child_pid(), "host": socket.gethostname(), "started": 1})
    run = RunFolder.open(folder)
    assert effective_status(run.read_json("run.json")) == INTERRUPTED
    run.resume_started("checkpoint-5")
    record = run.read_json("run.json")
    assert record["resumed_from"] == "checkpoint-5" and record["process"]["pid"] == os.getpid()
    assert effective_status(record) == "running"
    stale = {"pid": finished_child_pid(), "host": socket.gethostname(), "started": 1}
    run.update(process=stale)
    assert effective_status(run.read_json("run.json")) == INTERRUPTED
    run.update(status="running", resumed_from=None)  # the call pipeline.py makes on resuming: it records us too
    assert run.read_json("run.json")["process"]["pid"] == os.getpid()
    assert effective_status(run.read_json("run.json")) == "running"


def test_runs_command_shows_the_interrupted_run(tmp_path):
    from typer.testing import CliRunner

    from tunesmith.cli import app

    make_run(tmp_path, "killed", {"pid": finished_child_pid(), "host": socket.gethostname(), "started": 1})
    result = CliRunner().invoke(app, ["runs", "--runs-dir", str(tmp_path)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "interrupted" in result.output and "tunesmith train --resume" in result.output

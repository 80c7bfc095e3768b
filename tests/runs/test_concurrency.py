"""Runs started, finished and rolled back at the same moment: distinct folders, and a current-run pointer that
always names one finished run; a run cannot be resumed while its process still runs."""

import json
import multiprocessing
import threading

import pytest

from tunesmith.errors import RunError
from tunesmith.pipeline import resume_run
from tunesmith.runs import RunFolder
from tunesmith.runs.registry import current_run, set_current
from tunesmith.runs.status import process_record


def create_run_folder(runs_dir) -> str:
    return RunFolder.create(runs_dir, "same-name").path.name


def test_runs_started_in_the_same_second_with_the_same_name_get_distinct_folders(tmp_path):
    with multiprocessing.get_context("fork").Pool(6) as pool:
        names = pool.map(create_run_folder, [tmp_path] * 24)
    assert len(set(names)) == 24 and all(name.startswith("same-name-") for name in names)


def finished_run(runs_dir, name: str) -> RunFolder:
    run = RunFolder.create(runs_dir, name)
    run.start(parent={"kind": "base_model", "name": "m", "path": "/m"})
    run.finish(status="done")
    return run


def switch_back_and_forth(runs_dir, first, second, times: int) -> None:
    for index in range(times):
        set_current(runs_dir, first if index % 2 else second)


def test_a_rollback_racing_a_finishing_run_leaves_current_on_one_finished_run(tmp_path):
    a, b = finished_run(tmp_path, "a").path, finished_run(tmp_path, "b").path
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=switch_back_and_forth, args=(tmp_path, a, b, 150)) for _ in range(2)]
    seen, problems = set(), []

    def read_while_writing():
        while any(writer.is_alive() for writer in writers):
            try:
                seen.add(current_run(tmp_path))
            except (ValueError, OSError) as err:  # a half-written or missing pointer
                problems.append(repr(err))

    for writer in writers:
        writer.start()
    reader = threading.Thread(target=read_while_writing)
    reader.start()
    for writer in writers:
        writer.join()
    reader.join()
    assert all(writer.exitcode == 0 for writer in writers) and not problems
    assert seen <= {a, b, None} and current_run(tmp_path) in (a, b)
    assert [path.name for path in tmp_path.glob(".current.json-*")] == []  # no temp file left behind


def test_a_run_whose_process_still_runs_is_not_resumed_under_it(tmp_path):
    run = RunFolder.create(tmp_path, "live")
    run.start(parent={"kind": "base_model", "name": "m", "path": "/m"})
    run.update(stage="training", process=process_record())  # this very process: alive
    with pytest.raises(RunError, match="still running"):
        resume_run(run.path)
    assert json.loads((run.path / "run.json").read_text())["status"] == "running"


def test_two_processes_building_the_same_merged_lineage_both_get_the_one_complete_folder(tmp_path, tiny_run_dir):
    import tunesmith.models.merge as merge
    import tunesmith.runs.lineage as lineage

    real_merge = merge.merge_adapter

    def another_process_wins_the_race(base, adapter, target, trust_remote_code=False):
        real_merge(
            base, adapter, target, trust_remote_code
        )  # the other process (a child run starting, an export) finishes first
        return real_merge(base, adapter, target, trust_remote_code)  # ours then finds the folder taken

    parent = RunFolder.open(tiny_run_dir)
    merge.merge_adapter = another_process_wins_the_race
    try:
        target = lineage.merged_model_dir(parent, tmp_path / "merged")
    finally:
        merge.merge_adapter = real_merge
    assert (target / "config.json").is_file() and lineage.merged_model_dir(parent, tmp_path / "merged") == target
    assert [path.name for path in (tmp_path / "merged").iterdir()] == [target.name]  # no staging folder left

"""A run found by what a user calls it: folder, folder name, or configured name (its newest finished run)."""

import json

import pytest

from tunesmith.errors import RunError
from tunesmith.runs.names import find_run


def make_run(runs, folder, name, status, started):
    (runs / folder).mkdir(parents=True)
    (runs / folder / "run.json").write_text(json.dumps({"status": status, "started_at": started}))
    (runs / folder / "config.yaml").write_text(f"name: {name}\n")
    return runs / folder


def test_a_configured_name_means_its_newest_finished_run(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "cont-r1-20261201-035601", "cont-r1", "done", "2026-12-01T03:56:01")
    newest = make_run(runs, "cont-r1-20261201-041500", "cont-r1", "done", "2026-12-01T04:15:00")
    make_run(runs, "cont-r1-20261201-050000", "cont-r1", "failed", "2026-12-01T05:00:00")
    make_run(runs, "cont-r2-20261201-060000", "cont-r2", "done", "2026-12-01T06:00:00")
    path, how = find_run("cont-r1", runs)
    assert path == newest.resolve() and how == "the newest finished run named 'cont-r1' (of 2 finished)"
    assert find_run(newest, runs)[1] == "the run folder given"
    assert find_run(newest.name, runs) == (newest.resolve(), f"the run folder {newest.name} in {runs}")


def test_no_match_lists_the_closest_runs_and_unfinished_ones_are_named(tmp_path):
    runs = tmp_path / "runs"
    make_run(runs, "cont-r1-20261201-035601", "cont-r1", "done", "2026-12-01T03:56:01")
    make_run(runs, "tickets-20261201-040000", "tickets", "running", "2026-12-01T04:00:00")
    with pytest.raises(RunError, match=r"cont-r3: no such run in .*; the closest: cont-r1"):
        find_run("cont-r3", runs)
    with pytest.raises(RunError, match=r"tickets: no finished run of that name .*tickets-20261201-040000 \(running\)"):
        find_run("tickets", runs)
    with pytest.raises(RunError, match=r"no runs there yet"):
        find_run("x", tmp_path / "empty")

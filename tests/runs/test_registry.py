import json
import os

import pytest

from tunesmith.errors import RunError
from tunesmith.runs.lineage import retention
from tunesmith.runs.registry import current_run, descendants, prune, resolve_run, scan, set_current


def make_run(runs_dir, name, parent=None, status="done", started="2026-11-23T10:00:00"):
    folder = runs_dir / name
    (folder / "checkpoints" / "checkpoint-5").mkdir(parents=True)
    (folder / "adapter").mkdir()
    link = {"kind": "run", "name": parent.name, "path": str(parent)} if parent else {"kind": "base_model", "name": "m"}
    (folder / "run.json").write_text(json.dumps({"status": status, "parent": link, "started_at": started}))
    return folder.resolve()


@pytest.fixture
def lineage(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    a = make_run(runs, "a", started="2026-11-23T10:00:00")
    b = make_run(runs, "b", parent=a, started="2026-11-23T11:00:00")
    c = make_run(runs, "c", parent=b, started="2026-11-23T12:00:00")
    other = make_run(runs, "other", started="2026-11-23T13:00:00")
    return runs, a, b, c, other


def test_scan_and_descendants_follow_the_parents(lineage):
    runs, a, b, c, other = lineage
    found = scan(runs)
    assert [run.name for run in found] == ["a", "b", "c", "other"]
    assert {run.name for run in descendants(found, a)} == {"b", "c"}
    assert descendants(found, other) == []


def test_rollback_switches_the_pointer_in_one_atomic_replace(lineage, monkeypatch):
    runs, a, b, c, _ = lineage
    set_current(runs, c)
    set_current(runs, a)
    assert current_run(runs) == a and resolve_run("current", runs) == a
    assert json.loads((runs / "current.json").read_text())["previous"] == "c"

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        set_current(runs, b)
    monkeypatch.undo()
    assert current_run(runs) == a  # the old pointer stands whole
    assert [p.name for p in runs.iterdir() if p.name.startswith(".")] == []  # no temp file left behind


def test_only_finished_runs_of_this_folder_can_be_current(lineage, tmp_path):
    runs, *_ = lineage
    running = make_run(runs, "running", status="running")
    with pytest.raises(RunError, match="only a finished run"):
        set_current(runs, running)
    stranger = make_run(tmp_path, "elsewhere")
    with pytest.raises(RunError, match="not a run of"):
        set_current(runs, stranger)


def test_prune_refuses_to_break_a_lineage_or_delete_the_current_run(lineage):
    runs, a, b, c, other = lineage
    with pytest.raises(RunError, match="c descend from it"):
        prune(runs, [b])
    assert b.is_dir()
    assert prune(runs, [b, c]) == [b, c]  # a whole branch may go
    assert not b.exists() and not c.exists() and a.is_dir()
    set_current(runs, other)
    with pytest.raises(RunError, match="current run"):
        prune(runs, [other])


def test_prune_checkpoints_only_keeps_the_run_and_spares_unfinished_runs(lineage):
    runs, a, *_ = lineage
    assert prune(runs, [a], checkpoints_only=True) == [a / "checkpoints"]
    assert (a / "adapter").is_dir() and not (a / "checkpoints").exists()
    running = make_run(runs, "running", status="running")
    with pytest.raises(RunError, match="train --resume"):
        prune(runs, [running], checkpoints_only=True)


def test_resolve_run_by_path_name_or_current(lineage):
    runs, a, *_ = lineage
    assert resolve_run(a, runs) == a and resolve_run("a", runs) == a
    with pytest.raises(RunError, match="no current run"):
        resolve_run("current", runs)
    with pytest.raises(RunError, match="no such run"):
        resolve_run("missing", runs)


def test_retention_on_known_numbers():
    assert retention(0.80, 0.76) == pytest.approx(0.95)
    assert retention(0.5, 0.6) == pytest.approx(1.2)
    assert retention(0.0, 0.3) is None and retention(None, 0.3) is None and retention(0.4, None) is None


def test_runs_rollback_and_prune_commands(lineage):
    from typer.testing import CliRunner

    from tunesmith.cli import app

    runs, a, b, c, other = lineage
    cli = CliRunner()

    def invoke(*args):
        result = cli.invoke(app, [*map(str, args)], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.output

    assert "rolled" not in invoke("rollback", "b", "--runs-dir", runs)
    tree = invoke("runs", "--runs-dir", runs)
    assert (
        tree.index("a") < tree.index("b  ") < tree.index("c  ") and "(current)" in tree.split("b  ")[1].split("\n")[0]
    )
    assert "parent: run a" in invoke("runs", "show", "current", "--runs-dir", runs)
    refused = cli.invoke(app, ["prune", "a", "--runs-dir", str(runs), "--yes"])
    assert refused.exit_code != 0 and a.is_dir()
    assert "deleted" in invoke("prune", "other", "--runs-dir", runs, "--yes")


def test_scan_lists_each_runs_primary_metric_for_any_task(tmp_path):
    from tests.reports.conftest import make_embedding_run, make_qa_run

    make_qa_run(tmp_path, "qa")
    make_embedding_run(tmp_path, "embed")
    make_embedding_run(tmp_path, "embed-old", old_shape=True)
    make_run(tmp_path, "unscored")
    found = {run.name: run for run in scan(tmp_path)}
    assert found["embed"].primary == found["embed-old"].primary == "spearman"
    assert found["embed"].metrics == found["embed-old"].metrics == {"spearman": 0.8}
    assert found["qa"].primary == "token_f1" and list(found["qa"].metrics) == [
        "token_f1",
        "exact_match",
        "fact_recall",
    ]
    assert found["unscored"].primary == "" and found["unscored"].metrics == {}


def test_runs_listing_and_show_for_an_embedding_run(tmp_path):
    from typer.testing import CliRunner

    from tests.reports.conftest import make_embedding_run
    from tunesmith.cli import app

    make_embedding_run(tmp_path, "embed", old_shape=True)
    cli = CliRunner()
    listing = cli.invoke(app, ["runs", "--runs-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert listing.exit_code == 0, listing.output
    assert "embed  done  spearman 0.800" in listing.output
    shown = cli.invoke(app, ["runs", "show", "embed", "--runs-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    for expected in ("task embedding, data scored_pairs; primary metric spearman (higher is better)", "int8 change"):
        assert expected in shown.output
    assert "spearman by dimension" in shown.output and "Test set (24 examples)" in shown.output
    assert "INT8 copy: 2.00x the fp32 encoding speed, spearman -0.0300" in shown.output

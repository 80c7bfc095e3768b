import json

import pytest

from tunesmith.atomic import save_folder, write_json, write_text
from tunesmith.errors import RunError
from tunesmith.runs import RunFolder


def test_each_run_gets_its_own_new_folder(tmp_path):
    first, second = RunFolder.create(tmp_path, "demo"), RunFolder.create(tmp_path, "demo")
    assert first.path != second.path and first.path.name.startswith("demo-")


def test_run_json_records_status_parent_versions_and_wall_time(tmp_path):
    run = RunFolder.create(tmp_path, "demo")
    run.start(parent={"kind": "base_model", "name": "org/model", "path": "/models/x"})
    assert run.read_json("run.json")["status"] == "running"
    run.finish(status="done", note="ok")
    record = json.loads((run.path / "run.json").read_text())
    assert record["status"] == "done" and record["parent"]["name"] == "org/model"
    assert record["note"] == "ok" and record["wall_seconds"] >= 0 and "torch" in record["versions"]
    assert RunFolder.open(run.path).path == run.path
    with pytest.raises(RunError, match="not a tunesmith run folder"):
        RunFolder.open(tmp_path)


def test_atomic_writes_leave_no_temp_files(tmp_path):
    write_text(tmp_path / "a.txt", "one")
    write_text(tmp_path / "a.txt", "two")
    write_json(tmp_path / "b.json", {"x": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.json"]
    assert (tmp_path / "a.txt").read_text() == "two"


def test_a_failed_save_leaves_no_folder_and_an_existing_one_is_never_replaced(tmp_path):
    def broken(folder):
        (folder / "half.bin").write_bytes(b"x")
        raise RuntimeError("crash mid-save")

    with pytest.raises(RuntimeError):
        save_folder(tmp_path / "adapter", broken)
    assert list(tmp_path.iterdir()) == []
    save_folder(tmp_path / "adapter", lambda folder: (folder / "w.bin").write_bytes(b"ok"))
    assert (tmp_path / "adapter" / "w.bin").read_bytes() == b"ok"
    with pytest.raises(FileExistsError):
        save_folder(tmp_path / "adapter", lambda folder: None)


def test_a_checkpoint_of_several_processes_is_complete_only_with_every_process_random_state(tmp_path):
    run = RunFolder.create(tmp_path, "multi")
    for step, ranks in ((5, (0, 1)), (10, (0,))):  # the second: the main process finished, the other was killed
        folder = run.checkpoints_dir / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        (folder / "trainer_state.json").write_text("{}")
        for rank in ranks:
            (folder / f"rng_state_{rank}.pth").write_bytes(b"state")
    assert run.last_complete_checkpoint(world_size=2).name == "checkpoint-5"
    assert [path.name for path in run.checkpoints_dir.iterdir()] == ["checkpoint-5"]  # the partial one is gone


def test_staged_checkpoints_resume_from_the_newest_written_and_outputs_clear(tmp_path):
    import os

    run = RunFolder.create(tmp_path, "staged")
    for stage, step, stamp in (("simcse", 8, 1_000), ("train", 4, 2_000), ("train", 12, None)):
        folder = run.checkpoints_dir / stage / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        if stamp is not None:  # the last one was being written when the run stopped
            (folder / "trainer_state.json").write_text("{}")
            os.utime(folder / "trainer_state.json", (stamp, stamp))
    found = run.last_complete_checkpoint()
    assert (found.parent.name, found.name) == ("train", "checkpoint-4")  # newer than simcse's step 8
    assert not (run.checkpoints_dir / "train" / "checkpoint-12").exists()
    (run.path / "model").mkdir()
    (run.path / "model" / "weights").write_text("w")
    (run.path / "metrics.json").write_text("{}")
    assert run.clear_outputs() == ["model", "metrics.json"]
    assert sorted(path.name for path in run.path.iterdir()) == ["checkpoints"]

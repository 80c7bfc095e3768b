"""The benches find their data in shared/ beside the checkout (bench/_shared.py), never at a path of one machine,
and say clearly what is missing. Imports nothing heavy: the helper is loaded from its file, the benches are read
as text (two are started, and exit before importing anything but the standard library)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import load_bench

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
BENCHES = sorted(BENCH.glob("*.py"))
# an absolute path into a home, a mount or a machine's work folder: /work/..., /home/..., /root/..., C:\...
ABSOLUTE = re.compile(r"(?<![\w.~])/(?:work|home|root|mnt|media|Users|srv|scratch|data|shared|opt)/|\b[A-Z]:\\\\")


@pytest.fixture(scope="module")
def shared():
    return load_bench("_shared.py")


def test_there_are_benches_to_check():
    assert len(BENCHES) > 5 and BENCH / "_shared.py" in BENCHES


@pytest.mark.parametrize("bench", BENCHES, ids=lambda path: path.name)
def test_no_bench_names_an_absolute_data_path(bench):
    found = [
        f"{bench.name}:{number}: {line.strip()}"
        for number, line in enumerate(bench.read_text().splitlines(), 1)
        if ABSOLUTE.search(line)
    ]
    assert not found, "absolute paths (use bench/_shared.py):\n" + "\n".join(found)


@pytest.mark.parametrize("bench", [b for b in BENCHES if b.name != "_shared.py"], ids=lambda path: path.name)
def test_every_bench_that_reads_shared_goes_through_the_helper(bench):
    text = bench.read_text()
    assert not re.search(r"""/\s*["']shared["']""", text), "build the shared/ path with bench/_shared.py"
    assert "parents[2]" not in text
    if "shared" in text.replace("shared prefix", ""):  # the helper itself, or a bench whose shared/ code uses it
        helpers = ["_shared"] + [other.stem for other in BENCHES if "from _shared import" in other.read_text()]
        assert any(f"from {helper} import" in text for helper in helpers)


def test_the_helper_resolves_to_shared_beside_the_repository(shared, tmp_path):
    assert shared.REPO == REPO
    assert shared.SHARED == REPO.parent / "shared"
    assert shared.candidates()[0] == REPO.parent / "shared"
    assert shared.shared_dir() in [*shared.candidates(), shared.SHARED]
    assert shared.shared_dir(tmp_path) == tmp_path
    assert shared.shared_path("data", "msu", "x.json", shared=tmp_path) == tmp_path / "data" / "msu" / "x.json"


def test_a_path_the_example_configs_name_moves_with_the_shared_folder(shared, tmp_path):
    named = REPO / "examples" / ".." / ".." / "shared" / "data" / "stsb" / "sts-dev.csv"
    assert shared.relocate(named, tmp_path) == tmp_path / "data" / "stsb" / "sts-dev.csv"
    assert shared.relocate(tmp_path / "own.csv", tmp_path / "elsewhere") == tmp_path / "own.csv"


def test_a_missing_shared_file_gets_a_clear_message(shared):
    missing = shared.SHARED / "data" / "no-such-bench-data.json"
    with pytest.raises(SystemExit) as raised:
        shared.require(missing, "--data FILE")
    message = str(raised.value)
    assert message.startswith(f"data file not found: {missing}")
    assert f"looked in: {shared.SHARED}" in message and "pass --data FILE" in message


def test_a_missing_file_given_on_the_command_line_is_named(shared, tmp_path):
    with pytest.raises(SystemExit, match=rf"not found: {re.escape(str(tmp_path / 'x.json'))}\nPass --data FILE"):
        shared.require(tmp_path / "x.json", "--data FILE")
    (tmp_path / "x.json").write_text("[]")
    assert shared.require(tmp_path / "x.json") == tmp_path / "x.json"


def test_a_git_worktree_also_looks_beside_its_main_checkout(shared, tmp_path):
    worktree = tmp_path / "trees" / "feature"
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text(f"gitdir: {tmp_path / 'main' / '.git' / 'worktrees' / 'feature'}\n")
    assert shared._main_checkout(worktree) == tmp_path / "main"
    assert shared._main_checkout(tmp_path) is None


@pytest.mark.parametrize("bench", ["train_three_way.py", "processes_speed.py"])
def test_a_bench_without_its_data_exits_with_the_message_not_a_traceback(bench, tmp_path):
    missing = tmp_path / "missing.json"
    completed = subprocess.run(
        [sys.executable, str(BENCH / bench), "--data", str(missing)], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert f"data file not found: {missing}" in completed.stderr and "--data FILE" in completed.stderr

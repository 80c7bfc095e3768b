"""bench/estimates.py: the plan's time estimates beside what a finished run measured (training and scoring)."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_a_finished_run_shows_both_estimates_beside_its_measured_times(tiny_run_dir, capsys):
    spec = importlib.util.spec_from_file_location("bench_estimates", BENCH / "estimates.py")
    estimates = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(estimates)

    rows = estimates.estimate_rows(tiny_run_dir)
    assert [what for what, _, _ in rows] == ["training", "scoring"]
    assert all(planned > 0 and measured is not None and measured >= 0 for _, planned, measured in rows)
    estimates.print_estimates([tiny_run_dir])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[1].split()[1] == "training" and len(lines[2].split()) == 5
    (_, _, training), (_, _, scoring) = rows
    assert lines[3].endswith(f"scoring is {scoring / training:.0%} of training")

"""bench/estimates.py: the plan's time estimates beside what a finished run measured (training and scoring)."""

from tests.conftest import load_bench


def test_a_finished_run_shows_both_estimates_beside_its_measured_times(tiny_run_dir, capsys):
    estimates = load_bench("estimates.py")

    rows = estimates.estimate_rows(tiny_run_dir)
    assert [what for what, _, _ in rows] == ["training", "scoring"]
    assert all(planned > 0 and measured is not None and measured >= 0 for _, planned, measured in rows)
    estimates.print_estimates([tiny_run_dir])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[1].split()[1] == "training" and len(lines[2].split()) == 5
    (_, _, training), (_, _, scoring) = rows
    assert lines[3].endswith(f"scoring is {scoring / training:.0%} of training")


def test_a_run_whose_base_answers_came_from_the_cache_is_held_to_the_tuned_models_estimate(tmp_path, capsys):
    import json

    estimates = load_bench("estimates.py")
    estimate = {"train_minutes": 2.0, "selection_minutes": 0.5, "eval_minutes": 1.0, "base_eval_minutes": 0.75}
    (tmp_path / "plan.json").write_text(json.dumps({"estimate": estimate}))
    (tmp_path / "run.json").write_text(json.dumps({"training": {"train_seconds": 150.0}, "scoring_seconds": 15.0}))
    assert estimates.estimate_rows(tmp_path) == [("training", 2.5, 2.5), ("scoring", 1.0, 0.25)]
    (tmp_path / "metrics.json").write_text(json.dumps({"base_cache": {"reused": True}}))
    assert estimates.estimate_rows(tmp_path)[1] == ("scoring", 0.25, 0.25)
    estimates.print_estimates([tmp_path])
    assert capsys.readouterr().out.splitlines()[-1].endswith("scoring is 10% of training")


def test_replanning_a_run_makes_its_plan_again_for_the_machine_speed_it_measured(tiny_run_dir, capsys):
    import json

    estimates = load_bench("estimates.py")

    planned = json.loads((tiny_run_dir / "plan.json").read_text())["estimate"]
    again = estimates.replanned_estimate(tiny_run_dir)  # today's planner, the same config, data and machine speed
    assert again["train_minutes"] == planned["train_minutes"] and again["eval_minutes"] == planned["eval_minutes"]
    estimates.print_estimates([tiny_run_dir], replan=True)
    lines = capsys.readouterr().out.splitlines()
    assert "replanned" in lines[0] and len(lines[1].split()) == 7  # run, what, estimate, measured, ratio, twice
    assert lines[1].split()[2] == lines[1].split()[5]  # nothing changed since: the same estimate

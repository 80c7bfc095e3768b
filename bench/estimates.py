"""The plan's time estimates beside what finished runs took: the estimate is a promise to the user.

    python bench/estimates.py RUN [RUN ...]
    python bench/estimates.py --train examples/presscrafters.yaml examples/msu_cs.yaml ... --workdir DIR
    python bench/estimates.py --replan RUN [RUN ...]

``--train`` first trains each config in turn (``tunesmith train``, runs under DIR/runs), then prints the table for
those runs: one invocation, one sitting. For each run folder: training (with the validation answers after each
epoch, where they decide), the decoding search (runs that chose their decoding on the validation split) and scoring
minutes as planned (plan.json) and as measured (run.json), and the ratio measured / estimate. Scoring is timed from
its start to its end (base and tuned models; where the base model's answers came from the cache, its part of the
estimate is left out, for plans that record it). What a run made before these were recorded lacks shows "-".
The last line of each run gives scoring's share of the training time. ``--replan`` sets beside them the estimate
today's planner makes for each run: its saved config and data, planned for the machine speed the run measured (a
changed cost model checked against runs that already finished, without training them again).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def estimate_rows(run: Path, estimate: dict | None = None) -> list[tuple[str, float, float | None]]:
    """``(what, estimated minutes, measured minutes or None)`` for training and scoring: the run's own estimate
    (plan.json) unless another is given."""
    estimate = estimate or json.loads((run / "plan.json").read_text())["estimate"]
    record = json.loads((run / "run.json").read_text())
    trained = (record.get("training") or {}).get("train_seconds")
    scored = record.get("scoring_seconds")
    # train_seconds holds the validation answers after each epoch (training.select_by answers), planned apart
    planned = estimate["train_minutes"] + estimate.get("selection_minutes", 0.0)
    rows = [("training", planned, trained / 60 if trained is not None else None)]
    search = record.get("decoding_search")
    if search or estimate.get("search_minutes"):
        searched = sum(row["seconds"] for row in search["candidates"]) / 60 if search else None
        rows.append(("decoding", estimate.get("search_minutes", 0.0), searched))
    scoring = estimate["eval_minutes"]
    metrics = run / "metrics.json"
    if metrics.is_file() and (json.loads(metrics.read_text()).get("base_cache") or {}).get("reused"):
        scoring -= estimate.get("base_eval_minutes", 0.0)  # the base model's answers came from the cache
    return rows + [("scoring", scoring, scored / 60 if scored is not None else None)]


def replanned_estimate(run: Path) -> dict:
    """The estimate today's planner makes for a finished run: its saved config (its data split the same way),
    planned for the hardware the run measured (plan.json), not this machine now."""
    from tunesmith.pipeline import prepare, saved_config
    from tunesmith.plan import Hardware
    from tunesmith.runs import RunFolder

    hardware = Hardware(**json.loads((run / "plan.json").read_text())["hardware"])
    return prepare(saved_config(RunFolder(run)), hardware=hardware).plan.to_dict()["estimate"]


def print_estimates(runs: list[Path], replan: bool = False) -> None:
    again = f"{'replanned':>14}{'measured/re':>14}" if replan else ""
    print(f"{'run':40}{'':10}{'estimate min':>14}{'measured min':>14}{'measured/est':>14}{again}")
    for run in runs:
        rows = estimate_rows(run)
        replanned = estimate_rows(run, replanned_estimate(run)) if replan else [None] * len(rows)
        for (what, planned, measured), other in zip(rows, replanned):
            line = f"{run.name[:39]:40}{what:10}{planned:14.2f}" + _ratio(measured, planned, shown=False)
            print(line + (f"{other[1]:14.2f}" + _ratio(measured, other[1]) if other else ""))
        measured = {what: took for what, _, took in rows}
        if measured.get("training") and measured.get("scoring") is not None:
            print(f"{run.name[:39]:40}scoring is {measured['scoring'] / measured['training']:.0%} of training")


def _ratio(measured: float | None, planned: float, shown: bool = True) -> str:
    """measured / planned (and the measured minutes first, unless ``shown`` already), "-" where not measured."""
    took = "" if shown else (f"{measured:14.2f}" if measured is not None else f"{'-':>14}")
    return took + (f"{measured / planned:14.2f}" if measured is not None and planned else f"{'-':>14}")


def train_each(configs: list[Path], workdir: Path) -> list[Path]:
    """Train every config in turn from ``workdir`` (its relative runs folder lands there); the new run folders."""
    workdir.mkdir(parents=True, exist_ok=True)
    made = []
    for config in configs:
        before = set((workdir / "runs").glob("*/run.json"))
        command = [sys.executable, "-m", "tunesmith.cli", "train", str(config.resolve())]
        subprocess.run(command, cwd=workdir, check=True)
        made += sorted(path.parent for path in set((workdir / "runs").glob("*/run.json")) - before)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="finished run folders")
    parser.add_argument("--train", nargs="+", type=Path, default=[], help="configs to train first, in turn")
    parser.add_argument("--workdir", type=Path, default=Path("estimates-runs"), help="where --train runs them")
    parser.add_argument("--replan", action="store_true", help="beside each, the estimate today's planner makes")
    args = parser.parse_args()
    if not args.runs and not args.train:
        parser.error("give run folders, or configs to --train")
    print_estimates(args.runs + train_each(args.train, args.workdir), args.replan)


if __name__ == "__main__":
    main()

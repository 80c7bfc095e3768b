"""The plan's time estimates beside what finished runs took: the estimate is a promise to the user.

    python bench/estimates.py RUN [RUN ...]

For each run folder: training, the decoding search (runs that chose their decoding on the validation split) and
scoring minutes as planned (plan.json) and as measured (run.json), and the ratio measured / estimate. Scoring is
timed from its start to its end (base and tuned models; a base model whose answers came from the cache costs only
its scoring). What a run made before these were recorded lacks shows "-".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def estimate_rows(run: Path) -> list[tuple[str, float, float | None]]:
    """``(what, estimated minutes, measured minutes or None)`` for training and scoring."""
    estimate = json.loads((run / "plan.json").read_text())["estimate"]
    record = json.loads((run / "run.json").read_text())
    trained = (record.get("training") or {}).get("train_seconds")
    scored = record.get("scoring_seconds")
    rows = [("training", estimate["train_minutes"], trained / 60 if trained is not None else None)]
    search = record.get("decoding_search")
    if search or estimate.get("search_minutes"):
        searched = sum(row["seconds"] for row in search["candidates"]) / 60 if search else None
        rows.append(("decoding", estimate.get("search_minutes", 0.0), searched))
    return rows + [("scoring", estimate["eval_minutes"], scored / 60 if scored is not None else None)]


def print_estimates(runs: list[Path]) -> None:
    print(f"{'run':40}{'':10}{'estimate min':>14}{'measured min':>14}{'measured/est':>14}")
    for run in runs:
        for what, planned, measured in estimate_rows(run):
            took = f"{measured:14.1f}" if measured is not None else f"{'-':>14}"
            ratio = f"{measured / planned:14.2f}" if measured is not None and planned else f"{'-':>14}"
            print(f"{run.name[:39]:40}{what:10}{planned:14.1f}{took}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished run folders")
    print_estimates(parser.parse_args().runs)


if __name__ == "__main__":
    main()

"""Closed-book facts: what rewrites, answers as documents and selection by answers each add, side by side in one
invocation, on test questions that ask the training facts in words no run trained on.

    loss          the plan as it ships, but the kept checkpoint chosen by validation loss (training.select_by loss)
    answers       the same, the kept checkpoint chosen by the validation answers (token F1 with fact recall)
    rewrites K    + K rule-made rewrites of every fact's questions (rewrites.k, generator rules), selected by answers
    documents     + each distinct training answer also trained as plain text (documents.answers), by answers
    rewrites K + documents
    pissa         answers, with the adapter started from the weights' principal directions (lora.use_pissa)
    full          answers, every weight trained instead of an adapter (training.method full) at the plan's rate;
                  --full-rates adds a cell "full lr R" for each rate R

Every cell trains the same number of epochs (the plan's for the config, without its time budget, so a busy machine
cannot change what is compared); rewrites and documents add rows to an epoch, and so training time, which the table
shows. The base model is scored once, in the first cell. Prints token F1, fact recall, ROUGE-L and exact match of
the tuned model on the test split, the epoch kept, the training rows and minutes.

Usage: python bench/facts.py [--config examples/presscrafters.yaml] [--k 4] [--cells loss,answers,...]
       [--full-rates 1e-4,2e-4] [--epochs N] [--max-examples N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import yaml
from _shared import REPO
from retrieval_qa import planned_epochs, with_absolute_data

SHOWN = ("token_f1", "fact_recall", "rouge_l", "exact_match")


def cells(k: int, full_rates: tuple[float, ...] = ()) -> dict[str, dict]:
    """Each cell's settings on top of the config."""
    answers = {"training": {"select_by": "answers"}}
    rewrites = {"rewrites": {"k": k, "generator": "rules"}}
    documents = {"documents": {"answers": True}}
    full = {"select_by": "answers", "method": "full"}
    return {
        "loss": {"training": {"select_by": "loss"}},
        "answers": answers,
        f"rewrites {k}": {**answers, **rewrites},
        "documents": {**answers, **documents},
        f"rewrites {k} + documents": {**answers, **rewrites, **documents},
        "pissa": {**answers, "lora": {"use_pissa": True}},
        "full": {"training": full},
        **{f"full lr {rate:g}": {"training": {**full, "learning_rate": rate}} for rate in full_rates},
    }


def run_cell(raw: dict, label: str, settings: dict, source: Path, out: Path, compare_base: bool) -> Path:
    from tunesmith.config import config_from_dict
    from tunesmith.pipeline import train_run

    cell = json.loads(json.dumps(raw))
    for section, values in settings.items():
        cell[section] = {**cell.get(section, {}), **values}
    cell["name"] = f"{raw['name']}-{label.replace(' ', '').replace('+', '-')}"
    cell["output"] = {**cell.get("output", {}), "runs_dir": str(out)}
    cell["evaluation"] = {**cell.get("evaluation", {}), "compare_base": compare_base}
    return train_run(config_from_dict(cell, str(source))).path


def row(path: Path, model: str) -> dict:
    metrics = json.loads((path / "metrics.json").read_text())
    record = json.loads((path / "run.json").read_text())
    plan = json.loads((path / "plan.json").read_text())
    training = record["training"]
    kept = training.get("best_checkpoint")
    steps_per_epoch = plan["estimate"]["steps_per_epoch"]
    epoch = int(kept.split("-")[1]) / steps_per_epoch if kept else None
    return {
        **{name: metrics[model]["overall"].get(name) for name in SHOWN},
        "kept epoch": epoch,
        "rows": plan["data"]["n_train"],
        "train min": training["train_seconds"] / 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "examples" / "presscrafters.yaml")
    parser.add_argument("--k", type=int, default=4, help="rewrites per fact in the rewrite cells")
    parser.add_argument("--cells", help="comma-separated cell names (default: all)")
    parser.add_argument("--full-rates", default="", help="comma-separated learning rates of extra full cells")
    parser.add_argument("--epochs", type=float, help="epochs for every cell (default: the plan's)")
    parser.add_argument("--max-examples", type=int, help="score only the first N test questions")
    parser.add_argument("--out", type=Path, help="keep the run folders here")
    args = parser.parse_args()
    source = args.config.resolve()
    raw = with_absolute_data(yaml.safe_load(source.read_text()), source.parent)
    raw.setdefault("training", {}).pop("time_budget_minutes", None)
    raw["training"]["epochs"] = args.epochs or planned_epochs(raw, source)
    if args.max_examples:
        raw["evaluation"] = {**raw.get("evaluation", {}), "max_examples": args.max_examples}
    grid = cells(args.k, tuple(float(rate) for rate in args.full_rates.split(",") if rate.strip()))
    chosen = [name.strip() for name in args.cells.split(",")] if args.cells else list(grid)
    unknown = [name for name in chosen if name not in grid]
    if unknown:
        raise SystemExit(f"unknown cells {unknown}; choose from {list(grid)}")
    out = args.out or Path(tempfile.mkdtemp(prefix="facts-"))
    runs = {name: run_cell(raw, name, grid[name], source, out, index == 0) for index, name in enumerate(chosen)}

    columns = (*SHOWN, "kept epoch", "rows", "train min")
    print(f"\n{args.config.name}: {raw['training']['epochs']:g} epochs each; runs in {out}")
    print(f"{'':28}" + "".join(f"{name:>12}" for name in columns))
    lines = [("base", row(runs[chosen[0]], "base"))] + [(name, row(path, "tuned")) for name, path in runs.items()]
    for label, values in lines:
        cells_text = "".join(
            f"{'-':>12}" if values[name] is None or label == "base" and name not in SHOWN else f"{values[name]:12.3f}"
            for name in columns
        )
        print(f"{label:28}{cells_text}")


if __name__ == "__main__":
    main()

"""Closed-book facts: what rewrites, answers as documents, the method and selection by answers each add, side by
side in one invocation, on test questions that ask the training facts in words no run trained on.

A cell is a few words on top of the config (in any order, joined by spaces or "+"); unnamed, the plan decides:

    loss | answers    what chooses the kept checkpoint (training.select_by; answers where a cell names neither)
    lora | full       what is trained (training.method); pissa: LoRA started from the weights' principal
                      directions (lora.use_pissa); frozen: full with the input embeddings frozen
                      (training.freeze_embeddings)
    rewrites K        + K rule-made rewrites of every fact's questions (rewrites.k, generator rules); "k K" too
    documents         + each distinct training answer also trained as plain text (documents.answers)
    neftune           + noise on the input embeddings in training (training.neftune_alpha 5)
    prompts           + the loss on the questions' text too (training.train_on_prompt)
    lr R              the learning rate (training.learning_rate)
    seed S            another seed (training.seed): the adapter's start, the data order, the noise

e.g. --cells "answers,lora,full lr 2e-4,rewrites 4 + documents". --grid runs the issue's grid: rewrites 0/4/8 x
documents off/on x lora/full x loss/answers (24 cells). --full-rates R,... adds a cell "full lr R" for each R.
--seeds S,... runs every cell once per seed and adds each cell's means: one seed moved the demo's token F1 by 0.04
and its exact match by 0.10, as much as most settings compared here.

Every cell trains the same number of epochs (the plan's for the config, without its time budget, so a busy machine
cannot change what is compared); rewrites and documents add rows to an epoch, and so training time, which the table
shows. The base model is scored once, in the first cell. Prints token F1, fact recall, ROUGE-L and exact match of
the tuned model on the test split, the epoch kept, the training rows and minutes.

Usage: python bench/facts.py [--config examples/presscrafters.yaml] [--k 4] [--cells loss,answers,...] [--grid]
       [--full-rates 1e-4,2e-4] [--seeds 42,1,2] [--epochs N] [--max-examples N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
from pathlib import Path

import yaml
from _shared import REPO
from retrieval_qa import planned_epochs, with_absolute_data

SHOWN = ("token_f1", "fact_recall", "rouge_l", "exact_match")


DEFAULT_CELLS = ("loss", "answers", "rewrites {k}", "documents", "rewrites {k} + documents")
METHODS = {
    "lora": {"training": {"method": "lora"}},
    "full": {"training": {"method": "full"}},
    "pissa": {"training": {"method": "lora"}, "lora": {"use_pissa": True}},
    "frozen": {"training": {"method": "full", "freeze_embeddings": True}},
}


def cell_settings(name: str) -> dict[str, dict]:
    """The config sections a cell's words set (see the module's doc); SystemExit on a word it does not know."""
    words = name.replace("+", " ").split()
    settings: dict[str, dict] = {"training": {"select_by": "answers"}}

    def merge(sections: dict) -> None:
        for section, values in sections.items():
            settings[section] = {**settings.get(section, {}), **values}

    while words:
        word = words.pop(0)
        if word in ("loss", "answers"):
            merge({"training": {"select_by": word}})
        elif word in METHODS:
            merge(METHODS[word])
        elif word == "documents":
            merge({"documents": {"answers": True}})
        elif word == "neftune":
            merge({"training": {"neftune_alpha": 5.0}})
        elif word == "prompts":
            merge({"training": {"train_on_prompt": True}})
        elif word == "lr" and words and _is_number(words[0]):
            merge({"training": {"learning_rate": float(words.pop(0))}})
        elif word == "seed" and words and words[0].isdigit():
            merge({"training": {"seed": int(words.pop(0))}})
        elif word in ("rewrites", "k") and words and words[0].isdigit():
            k = int(words.pop(0))
            merge({"rewrites": {"k": k, "generator": "rules"}} if k else {})
        else:
            raise SystemExit(f"cell {name!r}: {word!r} is no cell word, or lacks its number (bench/facts.py -h)")
    return settings


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def grid_cells() -> list[str]:
    """The issue's grid: rewrites 0/4/8 x documents off/on x lora/full x selection by loss/answers."""
    return [
        f"{method} {select} rewrites {k}" + (" + documents" if documents else "")
        for k in (0, 4, 8)
        for documents in (False, True)
        for method in ("lora", "full")
        for select in ("loss", "answers")
    ]


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
    parser.add_argument("--cells", help="comma-separated cells (default: " + ", ".join(DEFAULT_CELLS) + ")")
    parser.add_argument("--grid", action="store_true", help="run the 24 cells of the issue's grid")
    parser.add_argument("--full-rates", default="", help="comma-separated learning rates of extra full cells")
    parser.add_argument("--seeds", default="", help="comma-separated seeds: every cell once per seed, then means")
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
    rates = [f"full lr {float(rate):g}" for rate in args.full_rates.split(",") if rate.strip()]
    if args.grid:
        chosen = grid_cells()
    elif args.cells:
        chosen = [name.strip() for name in args.cells.split(",")]
    else:
        chosen = [name.format(k=args.k) for name in DEFAULT_CELLS]
    chosen += rates
    seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
    if seeds:
        chosen = [f"{name} seed {seed}" for name in chosen for seed in seeds]
    settings = {name: cell_settings(name) for name in chosen}  # every name checked before the first run
    out = args.out or Path(tempfile.mkdtemp(prefix="facts-"))
    runs = {name: run_cell(raw, name, settings[name], source, out, index == 0) for index, name in enumerate(chosen)}

    columns = (*SHOWN, "kept epoch", "rows", "train min")
    print(f"\n{args.config.name}: {raw['training']['epochs']:g} epochs each; runs in {out}")
    print(f"{'':28}" + "".join(f"{name:>12}" for name in columns))
    lines = [("base", row(runs[chosen[0]], "base"))] + [(name, row(path, "tuned")) for name, path in runs.items()]
    for label, values in lines:
        print_line(label, values, columns, label == "base")
    seeded = seed_means(lines[1:])
    if seeded:
        print("\nmean over seeds (lowest - highest)")
        for label, (values, low, high) in seeded.items():
            print_line(label, values, columns)
            print(f"{'':28}" + "".join(f"{f'{low[name]:.2f}-{high[name]:.2f}':>12}" for name in SHOWN))


def print_line(label: str, values: dict, columns: tuple, base: bool = False) -> None:
    cells_text = "".join(
        f"{'-':>12}" if values[name] is None or base and name not in SHOWN else f"{values[name]:12.3f}"
        for name in columns
    )
    print(f"{label:28}{cells_text}")


def _mean(values: list) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.mean(known) if known else None


def seed_means(lines: list[tuple[str, dict]]) -> dict[str, tuple[dict, dict, dict]]:
    """Cells that differ only in their seed: the mean of every column, and the lowest and highest of the scores."""
    groups: dict[str, list[dict]] = {}
    for label, values in lines:
        groups.setdefault(re.sub(r"\s*\bseed \d+", "", label).strip() or "plan", []).append(values)
    return {
        label: (
            {name: _mean([v[name] for v in group]) for name in group[0]},
            {name: min(v[name] for v in group) for name in SHOWN},
            {name: max(v[name] for v in group) for name in SHOWN},
        )
        for label, group in groups.items()
        if len(group) > 1
    }


if __name__ == "__main__":
    main()

"""Closed-book against retrieval-augmented answers, the same plan side by side in one invocation.

    closed-book   examples/presscrafters.yaml as it ships (the demo: test questions ask the training facts in
                  words the model never saw)
    retrieval     the same config with retrieval.enabled (examples/presscrafters_rag.yaml): the encoder tuned on
                  the training questions, hybrid index, RAFT-style training, the top 3 passages in every prompt

Both runs train the same number of epochs (the closed-book plan's, without the config's time budget, so a busy
machine cannot change what is compared) and are scored on the same test questions, base and fine-tuned. Prints
token F1, fact recall, ROUGE-L and exact match (for the retrieval run also of the training record ranked first,
its answer copied: what retrieval alone gives), the retrieval's recall@3 and MRR (encoder as shipped and tuned),
the answers' grounding, how the retrieval run chose to answer, and training minutes.

Usage: python bench/retrieval_qa.py [--config examples/presscrafters.yaml] [--epochs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import yaml
from _shared import REPO

SHOWN = ("token_f1", "fact_recall", "rouge_l", "exact_match")


def run(raw: dict, source: Path, out: Path, retrieval: bool) -> Path:
    from tunesmith.config import config_from_dict
    from tunesmith.pipeline import train_run

    raw = {**raw, "name": raw["name"] + ("-rag" if retrieval else "-closed")}
    raw["output"] = {**raw.get("output", {}), "runs_dir": str(out), "save_checkpoints": False}
    if retrieval:
        raw["retrieval"] = {**raw.get("retrieval", {}), "enabled": True}
    return train_run(config_from_dict(raw, str(source))).path


def planned_epochs(raw: dict, source: Path) -> float:
    from tunesmith.config import config_from_dict
    from tunesmith.pipeline import prepare

    return prepare(config_from_dict(raw, str(source))).plan["epochs"]


def with_absolute_data(raw: dict, folder: Path) -> dict:
    """The config's data files relative to its own folder, as `tunesmith train` reads them."""
    data = {
        key: str((folder / value).resolve()) if key in ("train", "valid", "test") else value
        for key, value in raw["data"].items()
    }
    return {**raw, "data": data}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "examples" / "presscrafters.yaml")
    parser.add_argument("--epochs", type=float, help="epochs for both runs (default: the closed-book plan's)")
    parser.add_argument("--out", type=Path, help="keep the run folders here")
    args = parser.parse_args()
    raw = with_absolute_data(yaml.safe_load(args.config.read_text()), args.config.resolve().parent)
    raw.setdefault("training", {}).pop("time_budget_minutes", None)
    raw["training"]["epochs"] = args.epochs or planned_epochs(raw, args.config.resolve())
    out = args.out or Path(tempfile.mkdtemp(prefix="retrieval-qa-"))
    runs = {
        label: run(raw, args.config.resolve(), out, label == "retrieval") for label in ("closed-book", "retrieval")
    }

    print(f"\n{raw['training']['epochs']:g} epochs each; runs in {out}")
    print(f"{'':32}" + "".join(f"{name:>13}" for name in (*SHOWN, "train min")))
    for label, path in runs.items():
        metrics = json.loads((path / "metrics.json").read_text())
        minutes = json.loads((path / "run.json").read_text())["training"]["train_seconds"] / 60
        for model in ("base", "tuned", "retrieved"):  # retrieved: the first record's answer copied, no model
            if model not in metrics:
                continue
            scores = metrics[model]["overall"]
            cells = "".join(f"{scores.get(name) or 0:13.3f}" for name in SHOWN)
            print(f"{label + ', ' + model:32}{cells}{minutes if model == 'tuned' else float('nan'):13.1f}")
    retrieval = json.loads((runs["retrieval"] / "metrics.json").read_text())["retrieval"]
    print(f"\nretrieval: {json.dumps(retrieval)}")
    plan = json.loads((runs["retrieval"] / "plan.json").read_text())["choices"]
    answer = plan.get("retrieval_answer") or {}
    print(f"the retrieval run answers by {answer.get('value')}: {answer.get('reason')}")


if __name__ == "__main__":
    main()

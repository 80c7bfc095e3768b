"""Hard negatives for an embedding run, side by side in one invocation: none, TF-IDF, dense, dense in two rounds.

    off       the config as it is (in-batch negatives and the plan's loss only)
    tfidf     embedding.hard_negatives: tfidf (word-overlap negatives in a TF-IDF band)
    dense     embedding.hard_negatives: dense (the starting model's nearest text below the positive's margin,
              sentence-transformers' mine_hard_negatives)
    dense2    dense with negative_rounds: 2 (mined again by the half-trained model for the second half)

Every variant trains the same plan (its epochs fixed to the first variant's plan, so a busy machine cannot change
what is compared) on the same data and is scored on the same test split. Prints the primary metric and MRR@10 at
full size and at 128 dimensions, training minutes, and each variant's primary metric against the first one's.

Usage: python bench/embedding_negatives.py [--config examples/it_tickets.yaml] [--variants off,tfidf,dense,dense2]
       [--out DIR] [--shared DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import yaml
from _shared import REPO, add_shared_argument, relocate, require
from retrieval_qa import planned_epochs, with_absolute_data

VARIANTS = {
    "off": {},
    "tfidf": {"hard_negatives": "tfidf"},
    "dense": {"hard_negatives": "dense"},
    "dense2": {"hard_negatives": "dense", "negative_rounds": 2},
}


def run(raw: dict, source: Path, out: Path, variant: str) -> Path:
    from tunesmith.config import config_from_dict
    from tunesmith.pipeline import train_run

    raw = {**raw, "name": f"{raw['name']}-{variant}"}
    raw["embedding"] = {**raw.get("embedding", {}), **VARIANTS[variant]}
    raw["output"] = {**raw.get("output", {}), "runs_dir": str(out), "save_checkpoints": False}
    return train_run(config_from_dict(raw, str(source))).path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=REPO / "examples" / "it_tickets.yaml")
    parser.add_argument("--variants", default="off,tfidf,dense,dense2", help=f"among {', '.join(VARIANTS)}")
    parser.add_argument("--out", type=Path, help="keep the run folders here")
    add_shared_argument(parser)
    args = parser.parse_args()
    variants = args.variants.split(",")
    if unknown := [name for name in variants if name not in VARIANTS]:
        parser.error(f"unknown variant(s) {unknown}; choose among {list(VARIANTS)}")
    source = args.config.resolve()
    raw = with_absolute_data(yaml.safe_load(source.read_text()), source.parent)
    raw["data"]["train"] = str(require(relocate(raw["data"]["train"], args.shared), "--shared DIR"))
    raw.setdefault("training", {}).pop("time_budget_minutes", None)
    raw["training"]["epochs"] = planned_epochs(raw, source)
    out = args.out or Path(tempfile.mkdtemp(prefix="embedding-negatives-"))
    runs = {variant: run(raw, source, out, variant) for variant in variants}

    print(f"\n{raw['training']['epochs']:g} epochs each; runs in {out}")
    first = None
    print(f"{'':10}{'primary':>16}{'mrr@10':>10}{'at 128':>10}{'train min':>11}{'vs ' + variants[0]:>12}")
    for variant, path in runs.items():
        metrics = json.loads((path / "metrics.json").read_text())
        name = metrics["primary_metric"]
        full, small = metrics["tuned"]["overall"], metrics["tuned"]["by_dimension"].get("128", {})
        minutes = json.loads((path / "run.json").read_text())["training"]["train_seconds"] / 60
        first = full[name] if first is None else first
        print(
            f"{variant:10}{name + ' ' + format(full[name], '.4f'):>16}{full.get('mrr@10', float('nan')):10.4f}"
            f"{small.get(name, float('nan')):10.4f}{minutes:11.1f}{full[name] - first:+12.4f}"
        )
    base = json.loads((runs[variants[0]] / "metrics.json").read_text())["base"]["overall"]
    print(f"base model: {json.dumps({k: v for k, v in base.items() if isinstance(v, float)})}")


if __name__ == "__main__":
    main()

"""Two rounds of continual learning on the MSU CS Q&A: does round 2 make the model forget round 1?

The 106 questions are split by topic (the course or subject they are about) into two halves, so round 2
teaches facts round 1 never saw. Four runs, each with tunesmith's defaults:

    round 1             on the first half of the topics
    round 2, no replay  continue_from round 1, continual.replay_ratio 0 (the usual merge-and-continue recipe)
    round 2, replay     continue_from round 1, replay chosen by the plan
    round 2, KL         continue_from round 1, no replay, continual.parent_kl_weight 1 (pull toward round 1)
    round 2, fresh      round-2 data alone from the base model: the score round 2 should reach

Prints round-1 test scores after round 1 and after each round 2 (retention), and round-2 test scores.
Usage: python bench/continual_msu.py [--data ../shared/data/msu/msu_cs_106.json] [--out /tmp/continual-msu]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from _shared import require, shared_path

from tunesmith.config import config_from_dict
from tunesmith.pipeline import train_run

DATA = ("data", "msu", "msu_cs_106.json")  # under shared/
METRICS = ("token_f1", "fact_recall", "exact_match")


def topic(record: dict) -> str:
    return " ".join(record["metadata"]["topic"].split()[:2])  # "CSC 325 Credits" -> "CSC 325"


def split_by_topic(records: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    topics = sorted({topic(record) for record in records})
    random.Random(seed).shuffle(topics)
    first = set(topics[: len(topics) // 2])
    return [r for r in records if topic(r) in first], [r for r in records if topic(r) not in first]


def run(name: str, data: Path, out: Path, **extra) -> Path:
    config = {
        "name": name,
        "data": {
            "train": str(data),
            "prompt_field": "instruction",
            "answer_field": "response",
            "category_field": "metadata.content_type",
            "valid_fraction": 0.1,
            "test_fraction": 0.2,
        },
        "evaluation": {"compare_base": False},
        "output": {"runs_dir": str(out / "runs"), "save_checkpoints": False},
        **extra,
    }
    return train_run(config_from_dict(config, source=name)).path


def overall(run_path: Path) -> dict:
    """The run's metrics.json (overall scores, and the earlier stages re-scored)."""
    return json.loads((run_path / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="the MSU CS Q&A JSON (default: shared/data/msu)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/continual-msu"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.data = require(args.data or shared_path(*DATA), "--data FILE")

    first, second = split_by_topic(json.loads(args.data.read_text()), args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, records in enumerate((first, second), 1):
        path = args.out / f"round{index}.json"
        path.write_text(json.dumps(records))
        paths.append(path)
    print(f"round 1: {len(first)} examples, round 2: {len(second)} examples (split by topic)")

    round1 = run("round1", paths[0], args.out)
    no_replay = run("round2-no-replay", paths[1], args.out, continue_from=str(round1), continual={"replay_ratio": 0})
    replay = run("round2-replay", paths[1], args.out, continue_from=str(round1))
    kl_settings = {"replay_ratio": 0, "parent_kl_weight": 1.0}
    kl = run("round2-kl", paths[1], args.out, continue_from=str(round1), continual=kl_settings)
    fresh = run("round2-fresh", paths[1], args.out)

    before = overall(round1)["tuned"]["overall"]
    print("\nround-1 test split (what round 2 may make the model forget)")
    print(f"{'':28}" + "".join(f"{name:>14}" for name in METRICS) + f"{'retention F1':>14}")
    print(f"{'after round 1':28}" + "".join(f"{before[name] or 0:14.3f}" for name in METRICS) + f"{'':>14}")
    rounds_two = (
        ("after round 2, no replay", no_replay),
        ("after round 2, replay", replay),
        ("after round 2, KL", kl),
    )
    for label, path in rounds_two:
        [stage] = overall(path)["earlier_stages"]
        row = "".join(f"{stage['after'][name] or 0:14.3f}" for name in METRICS)
        print(f"{label:28}{row}{stage['retention']['token_f1'] or 0:14.0%}")
    print("\nround-2 test split")
    for label, path in (
        *((label.replace("after ", ""), path) for label, path in rounds_two),
        ("round 2, fresh", fresh),
    ):
        scores = overall(path)["tuned"]["overall"]
        minutes = json.loads((path / "run.json").read_text())["training"]["train_seconds"] / 60
        row = "".join(f"{scores[name] or 0:14.3f}" for name in METRICS)
        print(f"{label:28}{row}   {minutes:.1f} min training")


if __name__ == "__main__":
    main()

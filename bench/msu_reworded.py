"""The MSU CS Q&A as train / valid / test files whose test asks the trained facts in new words.

Like the bundled PressCrafters sample: the model trains on the department's 106 question/answer pairs and is tested
on questions that ask the same facts in wording no training example used. The re-worded questions are our own
(bench/data/msu_reworded.json: each names the record it re-words by index and by a hash of its instruction); the
answers are read from shared/data/msu/msu_cs_106.json, never copied into the project.

    train.jsonl   every record as {question, answer, category}, except the validation records
    valid.jsonl   ``--valid`` records held out, drawn (seeded) among records that are not re-worded
    test.jsonl    each re-worded question with the answer and category of the record it re-words
    msu_reworded.yaml   a config (examples/msu_cs.yaml's model) pointing at those three files

Usage: python bench/msu_reworded.py --out DIR [--shared DIR] [--valid 10] [--seed 0]
       then: tunesmith train DIR/msu_reworded.yaml
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from pathlib import Path

from _shared import add_shared_argument, require, shared_path

DATA = ("data", "msu", "msu_cs_106.json")  # under shared/
REWORDED = Path(__file__).resolve().parent / "data" / "msu_reworded.json"
CONFIG = """\
# Missouri State University CS department Q&A, tested on the same facts asked in new words.
# Written by bench/msu_reworded.py: train holds the department's own questions (less the validation records),
# test asks {count} of their facts in our re-wording. Everything else comes from the plan.
name: msu-reworded
model:
  name: HuggingFaceTB/SmolLM2-135M-Instruct
data:
  train: train.jsonl
  valid: valid.jsonl
  test: test.jsonl
"""


def instruction_sha1(text: str) -> str:
    """The first 12 hex digits of the instruction's SHA-1 (UTF-8): what msu_reworded.json records."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def as_qa(record: dict) -> dict:
    return {
        "question": record["instruction"],
        "answer": record["response"],
        "category": record["metadata"]["content_type"],
    }


def load_reworded(records: list[dict], reworded: Path = REWORDED) -> list[dict]:
    """The re-worded questions, each checked against the record it names; SystemExit when the source has changed."""
    questions = json.loads(reworded.read_text(encoding="utf-8"))["questions"]
    for item in questions:
        index = item["index"]
        if not 0 <= index < len(records):
            raise SystemExit(f"{reworded.name}: index {index} is outside msu_cs_106.json ({len(records)} records)")
        found = instruction_sha1(records[index]["instruction"])
        if found != item["instruction_sha1"]:
            raise SystemExit(
                f"{reworded.name}: record {index} of msu_cs_106.json has changed (instruction sha1 {found}, "
                f"expected {item['instruction_sha1']}); re-check its re-worded question and hash"
            )
    return questions


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def write_splits(out_dir: Path, shared: Path | None = None, valid: int = 10, seed: int = 0) -> Path:
    """Write train.jsonl, valid.jsonl, test.jsonl and msu_reworded.yaml into ``out_dir``; the config's path."""
    source = require(shared_path(*DATA, shared=shared), "--shared DIR", "MSU CS Q&A")
    records = json.loads(source.read_text(encoding="utf-8"))
    questions = load_reworded(records)
    reworded = {item["index"] for item in questions}
    candidates = [index for index in range(len(records)) if index not in reworded]
    if not 0 <= valid <= len(candidates):
        raise SystemExit(f"--valid must be between 0 and {len(candidates)} (the records that are not re-worded)")
    held_out = set(random.Random(seed).sample(candidates, valid))

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "train.jsonl", [as_qa(r) for i, r in enumerate(records) if i not in held_out])
    write_jsonl(out_dir / "valid.jsonl", [as_qa(records[i]) for i in sorted(held_out)])
    write_jsonl(
        out_dir / "test.jsonl",
        [{**as_qa(records[item["index"]]), "question": item["question"]} for item in questions],
    )
    config = out_dir / "msu_reworded.yaml"
    config.write_text(CONFIG.format(count=len(questions)), encoding="utf-8")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the three files and the config")
    add_shared_argument(parser)
    parser.add_argument("--valid", type=int, default=10, help="records held out for validation (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation draw")
    args = parser.parse_args()
    print(write_splits(args.out, args.shared, args.valid, args.seed))


if __name__ == "__main__":
    main()

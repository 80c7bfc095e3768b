"""Score the test split: generate with the tuned model (and the base model, adapter disabled), per example,
overall, and broken down by category and difficulty; write metrics.json, metrics.csv and predictions.jsonl."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

from tunesmith.data import Example
from tunesmith.metrics.generate import generate_answers
from tunesmith.metrics.text import METRICS, score_answer
from tunesmith.runs import write_json, write_text

PRIMARY_METRIC = "token_f1"


def evaluate_bundle(
    bundle, examples: Sequence[Example], max_new_tokens: int, batch_size: int, bf16: bool, compare_base: bool
) -> dict:
    """Generate and score; returns ``{"rows": [...], "summary": {model: {overall, by_category, by_difficulty}}}``."""
    from tunesmith.tasks.causal import prompt_text

    prompts = [prompt_text(bundle.tokenizer, example.prompt, bundle.system_prompt) for example in examples]
    models = {"tuned": nullcontext}
    if compare_base:
        models = {"base": bundle.model.disable_adapter, **models}
    rows = [_row(example) for example in examples]
    for label, context in models.items():
        with context():
            answers = generate_answers(
                bundle.model,
                bundle.tokenizer,
                prompts,
                max_new_tokens,
                batch_size,
                bf16,
                description=f"scoring {label}",
            )
        for row, answer in zip(rows, answers):
            row[label] = {"answer": answer, **score_answer(answer, row["reference"])}
    return {"rows": rows, "summary": {label: summarize(rows, label) for label in models}}


def summarize(rows: list[dict], label: str) -> dict:
    """Mean of every metric overall and per category / difficulty (groups only when the field is present)."""
    summary = {"overall": _means([row[label] for row in rows])}
    for field in ("category", "difficulty"):
        groups: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            if row[field] is not None:
                groups[row[field]].append(row[label])
        if groups:
            summary[f"by_{field}"] = {name: _means(scores) for name, scores in sorted(groups.items())}
    return summary


def write_results(folder: Path, result: dict, extra: dict | None = None) -> None:
    folder = Path(folder)
    write_json(folder / "metrics.json", {"primary_metric": PRIMARY_METRIC, **result["summary"], **(extra or {})})
    write_text(folder / "metrics.csv", metrics_csv(result["summary"]))
    lines = [_json_line(row) for row in result["rows"]]
    write_text(folder / "predictions.jsonl", "".join(lines))


def metrics_csv(summary: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["model", "group_by", "group", "n", *METRICS])
    for label, parts in summary.items():
        writer.writerow([label, "all", "all", parts["overall"]["n"], *_values(parts["overall"])])
        for group_by in ("category", "difficulty"):
            for group, scores in parts.get(f"by_{group_by}", {}).items():
                writer.writerow([label, group_by, group, scores["n"], *_values(scores)])
    return buffer.getvalue()


def _row(example: Example) -> dict:
    return {
        "question": example.question,
        "reference": example.answer,
        "category": example.category,
        "difficulty": example.difficulty,
        "source": example.source,
    }


def _means(scores: list[dict]) -> dict:
    means = {name: round(sum(s[name] for s in scores) / len(scores), 4) if scores else 0.0 for name in METRICS}
    return {"n": len(scores), **means}


def _values(scores: dict) -> list:
    return [scores[name] for name in METRICS]


def _json_line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"

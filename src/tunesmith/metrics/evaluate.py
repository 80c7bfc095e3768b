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

from tunesmith.atomic import write_text
from tunesmith.data import Example
from tunesmith.metrics import results
from tunesmith.metrics.generate import generate
from tunesmith.metrics.perplexity import answer_nll, perplexity
from tunesmith.metrics.text import METRICS, corpus_bleu, score_answer

CORPUS_METRICS = ("corpus_bleu", "perplexity")
OVERALL_METRICS = (*METRICS, *CORPUS_METRICS)


def evaluate_bundle(
    bundle,
    examples: Sequence[Example],
    max_new_tokens: int,
    batch_size: int,
    bf16: bool,
    compare_base: bool,
    max_length: int = 1024,
    generation: dict | None = None,
) -> dict:
    """Generate and score; returns ``{"rows": [...], "summary": {model: {overall, by_category, by_difficulty}}}``.

    Each model's overall scores also carry the corpus BLEU and the perplexity of the reference answers.
    """
    from tunesmith.models.chat import prompt_text

    prompts = [prompt_text(bundle.tokenizer, example.prompt, bundle.system_prompt) for example in examples]
    models = {"tuned": nullcontext}
    if compare_base:
        models = {"base": bundle.model.disable_adapter, **models}
    rows = [_row(example) for example in examples]
    corpus: dict[str, dict] = {}
    for label, context in models.items():
        with context():
            generations = generate(
                bundle.model,
                bundle.tokenizer,
                prompts,
                max_new_tokens,
                batch_size,
                bf16,
                description=f"scoring {label}",
                settings=generation,
            )
            nll = answer_nll(bundle.model, bundle.tokenizer, examples, bundle.system_prompt, max_length, batch_size)
        answers = [output.text for output in generations]
        for row, output, (loss, tokens) in zip(rows, generations, nll):
            scores = score_answer(output.text, row["reference"])
            row[label] = {"answer": output.text, **scores, "answer_nll": loss, "cut": output.cut}
            row["answer_tokens"] = tokens
        row_counts = [(row[label]["answer_nll"], row["answer_tokens"]) for row in rows]
        corpus[label] = {
            "corpus_bleu": round(corpus_bleu(answers, [row["reference"] for row in rows]), 4),
            "perplexity": round(perplexity(row_counts), 4),
        }
    summary = {label: summarize(rows, label) for label in models}
    for label in models:
        summary[label]["overall"].update(corpus[label])
    return {"rows": rows, "summary": summary}


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


def write_results(
    folder: Path, result: dict, task: str, primary: str, greater_is_better: bool = True, extra: dict | None = None
) -> None:
    """metrics.json in the shape of :mod:`tunesmith.metrics.results` (``result["summary"]`` holds the models),
    metrics.csv (one row per model and group) and predictions.jsonl (one line per example).

    Args:
        task: the run's task; ``primary`` its primary metric and ``greater_is_better`` that metric's direction.
    """
    folder = Path(folder)
    results.write_metrics(folder, task, primary, greater_is_better, result["summary"], extra)
    write_text(folder / "metrics.csv", metrics_csv(result["summary"]))
    lines = [_json_line(row) for row in result["rows"]]
    write_text(folder / "predictions.jsonl", "".join(lines))


def metrics_csv(summary: dict) -> str:
    """One row per model overall, then per category and difficulty; ``summary`` is ``{label: {overall, by_*}}``
    (a whole metrics.json works too: only its scored models are read)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["model", "group_by", "group", "n", *OVERALL_METRICS])
    for label, parts in results.models(summary).items():
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
    """Mean of each metric over the examples where it applies (fact recall: references holding facts)."""
    means = {}
    for name in METRICS:
        values = [s[name] for s in scores if s[name] is not None]
        means[name] = round(sum(values) / len(values), 4) if values else None
    facts = sum(s["fact_recall"] is not None for s in scores)
    return {"n": len(scores), **means, "n_with_facts": facts}


def _values(scores: dict) -> list:
    return ["" if scores.get(name) is None else scores[name] for name in OVERALL_METRICS]


def _json_line(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"

"""Build a run's report from its folder alone: report.md + report/*.png, and a self-contained report.html."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tunesmith.errors import RunError
from tunesmith.metrics.tables import RETENTION_HEADERS, format_score, overall_rows, retention_rows
from tunesmith.reports import document as doc
from tunesmith.reports.plots import plot_groups, plot_learning_rate, plot_losses
from tunesmith.reports.suggest import suggestions
from tunesmith.runs import write_text

WORST_EXAMPLES = 8


def write_report(run_path: Path) -> tuple[Path, Path]:
    """Render ``report.md`` and ``report.html`` in the run folder; returns both paths.

    Raises:
        RunError: the folder has no metrics.json (the run has not been scored).
    """
    run_path = Path(run_path)
    if not (run_path / "metrics.json").is_file():
        raise RunError(f"{run_path}: no metrics.json to report on (did the run finish scoring?)")
    document = build_document(run_path)
    markdown, page = run_path / "report.md", run_path / "report.html"
    write_text(markdown, doc.to_markdown(document, run_path))
    write_text(page, doc.to_html(document))
    return markdown, page


def build_document(run_path: Path) -> doc.Document:
    record = _json(run_path / "run.json")
    plan = _json(run_path / "plan.json")
    metrics = _json(run_path / "metrics.json")
    rows = _jsonl(run_path / "predictions.jsonl")
    log_rows = _jsonl(run_path / "logs" / "train_log.jsonl")
    primary = metrics.get("primary_metric", "token_f1")
    summary = {label: metrics[label] for label in ("base", "tuned") if label in metrics}
    train_categories = Counter(r.get("category") for r in _jsonl(run_path / "data" / "train.jsonl"))
    figures = run_path / "report"

    document = doc.Document(title=f"tunesmith report: {run_path.name}")
    document.add(doc.Paragraph(_headline(record, summary, primary)))
    document.add(doc.Heading("Results on the test split"), _overall_table(summary))
    for group_by in ("category", "difficulty"):
        document.add(*_group_section(summary, group_by, primary, train_categories, figures))
    document.add(*_earlier_stages(metrics.get("earlier_stages", []), primary))
    document.add(doc.Heading("What to do next"))
    document.add(doc.BulletList(suggestions(summary, rows, log_rows, plan, train_categories, primary)))
    document.add(*_training_section(log_rows, figures))
    document.add(*_plan_section(plan))
    document.add(*_worst_examples(rows, primary))
    return document


def _headline(record: dict, summary: dict, primary: str) -> str:
    parts = [f"Base model {record.get('parent', {}).get('name', '?')}", f"status {record.get('status', '?')}"]
    training = record.get("training", {})
    if "train_seconds" in training:
        parts.append(f"training {training['train_seconds'] / 60:.1f} min")
    if "peak_memory_gb" in training:
        parts.append(f"peak memory {training['peak_memory_gb']:.2f} GiB")
    tuned = summary["tuned"]["overall"]
    parts.append(f"{tuned['n']} test examples")
    if "base" in summary:
        parts.append(
            f"{primary}: {summary['base']['overall'][primary]:.3f} (base) -> {tuned[primary]:.3f} (fine-tuned)"
        )
    return "; ".join(parts) + "."


def _overall_table(summary: dict) -> doc.Table:
    return doc.Table(*overall_rows(summary))


def _group_section(summary, group_by, primary, train_categories, figures) -> list:
    key = f"by_{group_by}"
    if key not in summary["tuned"]:
        return []
    by_group = {label: summary[label][key] for label in summary}
    labels = list(summary)
    headers = [group_by, "test n", *(["train n"] if group_by == "category" else []), *labels, "fact_recall (tuned)"]
    rows = []
    for group, scores in summary["tuned"][key].items():
        train_n = [str(train_categories.get(group, 0))] if group_by == "category" else []
        values = [format_score(by_group[label][group][primary]) for label in labels]
        rows.append([group, str(scores["n"]), *train_n, *values, format_score(scores.get("fact_recall"))])
    blocks: list = [doc.Heading(f"By {group_by}"), doc.Table(headers, rows, caption=f"{primary} per {group_by}")]
    image = plot_groups(by_group, primary, group_by, figures / f"by_{group_by}.png")
    if image:
        blocks.append(doc.Image(image, f"{primary} by {group_by}, base vs fine-tuned"))
    return blocks


def _earlier_stages(stages: list[dict], primary: str) -> list:
    """Forgetting: each earlier stage's test split, scored after that stage and after this run."""
    if not stages:
        return []
    caption = f"{primary} on each earlier stage's test split: after that stage, and after this run"
    table = doc.Table(RETENTION_HEADERS, retention_rows(stages, primary), caption=caption)
    return [doc.Heading("Earlier stages (forgetting)"), table]


def _training_section(log_rows: list[dict], figures: Path) -> list:
    blocks: list = [doc.Heading("Training")]
    losses = plot_losses(log_rows, figures / "loss.png")
    if losses:
        blocks.append(doc.Image(losses, "training and validation loss"))
    rate = plot_learning_rate(log_rows, figures / "learning_rate.png")
    if rate:
        blocks.append(doc.Image(rate, "learning rate per step"))
    valid = [row for row in log_rows if "eval_loss" in row]
    if valid:
        rows = [[f"{row.get('epoch', 0):g}", str(row["step"]), f"{row['eval_loss']:.4f}"] for row in valid]
        blocks.append(doc.Table(["epoch", "step", "validation loss"], rows))
    if len(blocks) == 1:
        blocks.append(doc.Paragraph("No training log in this run folder."))
    return blocks


def _plan_section(plan: dict) -> list:
    choices = plan.get("choices", {})
    rows = [[name, str(choice["value"]), choice["source"], choice["reason"]] for name, choice in choices.items()]
    return [doc.Heading("Plan"), doc.Table(["setting", "value", "from", "why"], rows)] if rows else []


def _worst_examples(rows: list[dict], primary: str) -> list:
    if not rows:
        return []
    worst = sorted(rows, key=lambda row: (row["tuned"][primary], -len(row["reference"])))[:WORST_EXAMPLES]
    blocks: list = [doc.Heading(f"The {len(worst)} worst answers ({primary}, fine-tuned)")]
    for number, row in enumerate(worst, 1):
        fields = [("question", row["question"]), ("reference", row["reference"])]
        fields.append((f"fine-tuned ({primary} {row['tuned'][primary]:.2f})", row["tuned"]["answer"]))
        if "base" in row:
            fields.append((f"base ({primary} {row['base'][primary]:.2f})", row["base"]["answer"]))
        group = ", ".join(str(row[key]) for key in ("category", "difficulty") if row.get(key))
        blocks.append(doc.Example(f"{number}. {group}" if group else f"{number}.", fields))
    return blocks


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

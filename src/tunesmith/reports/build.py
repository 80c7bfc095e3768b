"""Build a run's report from its folder alone: report.md + report/*.png, and a self-contained report.html.

It reads metrics.json through :mod:`tunesmith.metrics.results` only, so one report serves every task: the
models' overall scores, a section per breakdown present (category, difficulty, dimension), earlier stages, the
training curves, the plan, and for generated answers the worst examples.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tunesmith.atomic import write_text
from tunesmith.errors import RunError
from tunesmith.metrics.results import group_names, models, primary, read_metrics, reference_label
from tunesmith.metrics.tables import RETENTION_HEADERS, format_score, group_rows, overall_rows, retention_rows
from tunesmith.reports import document as doc
from tunesmith.reports.plots import log_steps, plot_groups, plot_learning_rate, plot_losses, plot_validation
from tunesmith.reports.suggest import suggestions

WORST_EXAMPLES = 8
GROUP_TITLES = {"dimension": "By embedding dimension (Matryoshka)"}


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
    run_path = Path(run_path)
    record = _json(run_path / "run.json")
    plan = _json(run_path / "plan.json")
    metrics = read_metrics(run_path)
    metric, greater = primary(metrics)
    summary = models(metrics)
    rows = _jsonl(run_path / "predictions.jsonl")
    log_rows = training_log(run_path)
    train_categories = Counter(r.get("category") for r in _jsonl(run_path / "data" / "train.jsonl"))
    figures = run_path / "report"

    document = doc.Document(title=f"tunesmith report: {run_path.name}")
    document.add(doc.Paragraph(_headline(record, metrics, summary, metric, greater)))
    if summary:
        document.add(doc.Heading("Results on the test split"), doc.Table(*overall_rows(summary)))
    document.add(*_extras(metrics))
    for group_by in group_names(summary):
        document.add(*_group_section(summary, group_by, metric, train_categories, figures))
    document.add(*_earlier_stages(metrics.get("earlier_stages", []), metric))
    found = suggestions(summary, rows, log_rows, plan, train_categories, metric, greater)
    if found:
        document.add(doc.Heading("What to do next"), doc.BulletList(found))
    document.add(*_training_section(log_rows, figures, metric))
    document.add(*_decoding_section(record.get("decoding_search")))
    document.add(*_plan_section(plan))
    document.add(*_worst_examples(rows, metric, greater))
    return document


def training_log(run_path: Path) -> list[dict]:
    """logs/train_log.jsonl; without it, every logs/*_log.jsonl (one per training stage) in the order written,
    each row tagged with its stage."""
    logs = Path(run_path) / "logs"
    if (logs / "train_log.jsonl").is_file():
        return _jsonl(logs / "train_log.jsonl")
    files = sorted(logs.glob("*_log.jsonl"), key=lambda path: (path.stat().st_mtime, path.name))
    return [{"stage": path.name.removesuffix("_log.jsonl"), **row} for path in files for row in _jsonl(path)]


def _headline(record: dict, metrics: dict, summary: dict, metric: str, greater: bool) -> str:
    parts = [f"Base model {_base_model(record.get('parent', {}))}", f"status {record.get('status', '?')}"]
    if metrics.get("task"):
        parts.append(f"task {metrics['task']}" + (f" ({metrics['data_shape']})" if metrics.get("data_shape") else ""))
    training = record.get("training", {})
    if isinstance(training.get("train_seconds"), int | float):
        parts.append(f"training {training['train_seconds'] / 60:.1f} min")
    if isinstance(training.get("peak_memory_gb"), int | float):
        parts.append(f"peak memory {training['peak_memory_gb']:.2f} GiB")
    reference = reference_label(summary)
    if reference is None:
        parts.append("no model scores")
        return "; ".join(parts) + "."
    overall = summary[reference]["overall"]
    if overall.get("n") is not None:
        parts.append(f"{overall['n']} test examples")
    direction = "higher is better" if greater else "lower is better"
    after = overall.get(metric)
    if "base" in summary and reference != "base":
        before = summary["base"]["overall"].get(metric)
        verdict = _verdict(before, after, greater)
        parts.append(
            f"{metric} ({direction}): {format_score(before)} (base) -> {format_score(after)} (fine-tuned){verdict}"
        )
    else:
        parts.append(f"{metric} ({direction}): {format_score(after)} ({reference})")
    return "; ".join(parts) + "."


def _base_model(parent: dict) -> str:
    """The parent's name, with the copy it is when its weights are not the named model's own (run.json's
    ``source``: an offline copy or a dequantised GGUF)."""
    from tunesmith.models.resolve import COPY_KINDS

    name, source = parent.get("name", "?"), parent.get("source")
    if isinstance(source, str) and source.startswith(COPY_KINDS):
        return f"{name} ({source})"
    return name


def _verdict(before: float | None, after: float | None, greater: bool) -> str:
    if before is None or after is None:
        return ""
    change = after - before
    better = change > 0 if greater else change < 0
    return f", {change:+.3f}: " + ("better" if better else "no change" if change == 0 else "worse")


def _extras(metrics: dict) -> list:
    """Task extras worth a line: base answers reused from the cache, retrieval and grounding, the INT8 copy."""
    blocks = []
    cached = metrics.get("base_cache")
    if isinstance(cached, dict) and cached.get("reused"):
        blocks.append(
            doc.Paragraph(
                f"The base model's answers were reused from {cached.get('created', 'an earlier run')} (same base "
                "weights, test questions and decoding): scored again, not generated again."
            )
        )
    retrieval = metrics.get("retrieval")
    if isinstance(retrieval, dict) and retrieval.get("questions"):
        k = retrieval["k"]
        text = (
            f"Retrieval ({k} passages a question, {retrieval.get('ranking', 'hybrid')} ranking): the gold passage "
            "was among them for "
            f"{retrieval.get(f'recall_at_{k}', 0):.0%} of {retrieval['questions']} test questions "
            f"(MRR@{k} {retrieval.get(f'mrr_at_{k}', 0):.3f})"
        )
        if retrieval.get("answers_with_facts"):
            text += (
                f"; {retrieval['grounded']:.0%} of the {retrieval['answers_with_facts']} fine-tuned answers that "
                "state facts (numbers, prices, URLs) found every one of them in the retrieved passages"
            )
        copied = (metrics.get("retrieved") or {}).get("overall") or {}
        if copied.get("token_f1") is not None:
            text += (
                f". The 'retrieved' column answers each question with the answer of the training record ranked "
                f"first, copied (no model): token F1 {copied['token_f1']:.3f}"
                + (f", fact recall {copied['fact_recall']:.3f}" if copied.get("fact_recall") is not None else "")
            )
        blocks.append(doc.Paragraph(text + "."))
    return blocks + _int8_line(metrics)


def _int8_line(metrics: dict) -> list:
    int8 = metrics.get("int8_export")
    if not isinstance(int8, dict) or "speedup" not in int8:
        return []
    text = (
        f"INT8 copy (model-int8/): {int8['speedup']:.2f}x the fp32 encoding speed "
        f"({int8.get('int8_texts_per_s', 0):.0f} vs {int8.get('fp32_texts_per_s', 0):.0f} texts/s over "
        f"{int8.get('timed_texts', '?')} texts)"
    )
    if isinstance(int8.get("change"), int | float):
        text += f"; {int8.get('metric', 'primary metric')} {int8['change']:+.4f} against the fp32 model at full size"
    return [doc.Paragraph(text + ".")]


def _group_section(summary: dict, group_by: str, metric: str, train_categories: Counter, figures: Path) -> list:
    key = f"by_{group_by}"
    extra = {}
    if group_by == "category":
        groups = {group for scores in summary.values() for group in scores.get(key, {})}
        extra["train n"] = {group: str(train_categories.get(group, 0)) for group in groups}
    headers, rows = group_rows(summary, group_by, metric, extra)
    if not rows:
        return []
    reference = reference_label({label: s for label, s in summary.items() if key in s})
    facts = summary[reference][key]
    if any(scores.get("fact_recall") is not None for scores in facts.values()):
        headers = [*headers, f"fact_recall ({reference})"]
        rows = [[*row, format_score(facts.get(row[0], {}).get("fact_recall"))] for row in rows]
    title = GROUP_TITLES.get(group_by, f"By {group_by}")
    blocks: list = [doc.Heading(title), doc.Table(headers, rows, caption=f"{metric} per {group_by}")]
    by_group = {label: scores[key] for label, scores in summary.items() if key in scores}
    image = plot_groups(by_group, metric, group_by, figures / f"by_{group_by}.png")
    if image:
        blocks.append(doc.Image(image, f"{metric} by {group_by}, " + " vs ".join(by_group)))
    return blocks


def _earlier_stages(stages: list[dict], metric: str) -> list:
    """Forgetting: each earlier stage's test split, scored after that stage and after this run."""
    if not stages:
        return []
    caption = f"{metric} on each earlier stage's test split: after that stage, and after this run"
    table = doc.Table(RETENTION_HEADERS, retention_rows(stages, metric), caption=caption)
    return [doc.Heading("Earlier stages (forgetting)"), table]


def _training_section(log_rows: list[dict], figures: Path, metric: str) -> list:
    blocks: list = [doc.Heading("Training")]
    stages = list(dict.fromkeys(row["stage"] for row in log_rows if row.get("stage")))
    if len(stages) > 1:
        blocks.append(doc.Paragraph("Training stages, in order: " + ", ".join(stages) + "."))
    losses = plot_losses(log_rows, figures / "loss.png")
    if losses:
        blocks.append(doc.Image(losses, "training and validation loss"))
    score = plot_validation(log_rows, metric, figures / f"validation_{_file_part(metric)}.png")
    if score:
        blocks.append(doc.Image(score, f"validation {metric}"))
    rate = plot_learning_rate(log_rows, figures / "learning_rate.png")
    if rate:
        blocks.append(doc.Image(rate, "learning rate per step"))
    table = _validation_table(log_rows, metric, bool(stages))
    if table:
        blocks.append(table)
    if len(blocks) == 1:
        blocks.append(doc.Paragraph("No training log in this run folder."))
    return blocks


def _validation_table(log_rows: list[dict], metric: str, staged: bool) -> doc.Table | None:
    """One row per evaluation during training: validation loss and ``eval_<metric>``, where logged; with the
    kept checkpoint chosen by its answers (``training.select_by``), their fact recall and deciding score too."""
    wanted = (
        ("eval_loss", "validation loss"),
        (f"eval_{metric}", f"validation {metric}"),
        ("eval_fact_recall", "validation fact_recall"),
        ("eval_answer_score", "validation answer score (decides)"),
    )
    columns = [(key, label) for key, label in wanted if any(row.get(key) is not None for row in log_rows)]
    if not columns:
        return None
    headers = [*(["stage"] if staged else []), "epoch", "step", *(label for _, label in columns)]
    rows = []
    for step, row in zip(log_steps(log_rows), log_rows):
        if not any(row.get(key) is not None for key, _ in columns):
            continue
        values = ["-" if row.get(key) is None else f"{row[key]:.4f}" for key, _ in columns]
        stage = [str(row.get("stage", "-"))] if staged else []
        rows.append([*stage, f"{row.get('epoch', 0) or 0:g}", str(step), *values])
    return doc.Table(headers, rows)


def _decoding_section(search: dict | None) -> list:
    """The decodings tried on the validation split after training, and the one the test split was scored with."""
    if not search:
        return []
    rows = [
        [
            row["label"] + (" (chosen)" if row["label"] == search["chosen"] else ""),
            f"{row['score']:.4f}",
            "baseline" if row["label"] == search.get("baseline") else _share(row.get("confidence")),
            f"{row['seconds']:.0f} s",
        ]
        for row in search["candidates"]
    ]
    caption = f"{search['metric']} on {search['examples']} validation examples; the test split used the chosen one"
    if search.get("confidence_required") is not None:
        caption += (
            f". A decoding replaces {search.get('baseline', 'greedy')} only when it scores higher in at least "
            f"{search['confidence_required']:.0%} of bootstrap resamples of these examples"
        )
    table = doc.Table(["decoding", search["metric"], "better than baseline in", "time"], rows, caption=caption)
    return [doc.Heading("Decoding, chosen on the validation split"), table]


def _share(value) -> str:
    return f"{value:.0%} of resamples" if isinstance(value, int | float) else ""


def _plan_section(plan: dict) -> list:
    choices = plan.get("choices", {})
    rows = [
        [name, str(choice.get("value")), str(choice.get("source", "")), str(choice.get("reason", ""))]
        for name, choice in choices.items()
        if isinstance(choice, dict)
    ]
    return [doc.Heading("Plan"), doc.Table(["setting", "value", "from", "why"], rows)] if rows else []


def _worst_examples(rows: list[dict], metric: str, greater: bool) -> list:
    """The generated answers that scored worst (predictions.jsonl: Q&A and summaries only)."""
    rows = [row for row in rows if isinstance(row.get("tuned"), dict) and "answer" in row["tuned"]]
    if not rows:
        return []

    def badness(row: dict) -> tuple:
        value = row["tuned"].get(metric)
        score = float("-inf") if value is None else value if greater else -value
        return (score, -len(str(row.get("reference", ""))))

    worst = sorted(rows, key=badness)[:WORST_EXAMPLES]
    blocks: list = [doc.Heading(f"The {len(worst)} worst answers ({metric}, fine-tuned)")]
    for number, row in enumerate(worst, 1):
        fields = [("question", str(row.get("question", ""))), ("reference", str(row.get("reference", "")))]
        fields.append((f"fine-tuned ({metric} {_short(row['tuned'].get(metric))})", row["tuned"]["answer"]))
        if isinstance(row.get("base"), dict) and "answer" in row["base"]:
            fields.append((f"base ({metric} {_short(row['base'].get(metric))})", row["base"]["answer"]))
        group = ", ".join(str(row[key]) for key in ("category", "difficulty") if row.get(key))
        blocks.append(doc.Example(f"{number}. {group}" if group else f"{number}.", fields))
    return blocks


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _file_part(name: str) -> str:
    return "".join(char if char.isalnum() or char in "-_" else "_" for char in name)


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

"""metrics.json: one shape for every task, written and read here alone.

Every scored run folder (and every ``evals/eval-*/`` folder) holds::

    {
      "task": "causal_lm" | "summarization" | "embedding",
      "primary_metric": "token_f1" | "rouge_l" | "spearman" | "roc_auc" | "ndcg@10" | ...,
      "greater_is_better": true,
      "<model label>": {
        "overall": {"n": int, <metric>: float | None, ...},
        "by_<group>": {"<group>": {"n": int, <metric>: float | None, ...}, ...},
        ...
      },
      ...
      "earlier_stages": [{"run": name, "n": int, "before": {metric: v}, "after": {metric: v},
                          "retention": {metric: v}}],
      <other task extras>
    }

Model labels are "base" (the model before fine-tuning), "tuned", and for embeddings optionally "int8" (the
quantised copy). A scored model is any top-level key whose value is a dict holding "overall"; everything else is
metadata or a task extra ("earlier_stages" for continual runs; "data_shape" and "int8_export" for embeddings).

Groups: Q&A and summaries break scores down "by_category" and "by_difficulty" (when the data has them). Embeddings
score every Matryoshka dimension: "overall" holds the full-size scores (plus "n" and "dim"), and "by_dimension"
holds every scored dimension, keyed by the dimension as a string ("384", "256", ...), the full size first.

Older embedding runs wrote ``{"<label>": {"<dim>": {metric: v}}}`` with no "overall", and older runs of any task
may lack "task" or "greater_is_better": :func:`read_metrics` upgrades them to the shape above, so every reader
(reports, compare, the runs listing) handles one shape only.
"""

from __future__ import annotations

import json
from pathlib import Path

from tunesmith.atomic import write_json

FILE_NAME = "metrics.json"
TASKS = ("causal_lm", "summarization", "embedding")
MODEL_ORDER = ("base", "tuned", "int8")  # the usual labels, in the order tables show them
LOWER_IS_BETTER = frozenset({"perplexity", "loss", "eval_loss", "answer_nll"})
NOT_SCORES = frozenset({"n", "dim"})  # counts and sizes carried beside the scores


def write_metrics(
    folder: Path,
    task: str,
    primary: str,
    greater_is_better: bool,
    models: dict[str, dict],
    extra: dict | None = None,
) -> dict:
    """Write ``folder/metrics.json`` atomically in the shape above; returns what was written.

    Args:
        models: ``{label: {"overall": {...}, "by_<group>": {...}}}``, e.g. ``{"base": ..., "tuned": ...}``.
        extra: task extras written beside the models (``earlier_stages``, ``data_shape``, ``int8_export``).
    """
    for label, summary in models.items():
        if not isinstance(summary, dict) or "overall" not in summary:
            raise ValueError(f"metrics for {label!r} need an 'overall' entry")
    clashes = set(extra or {}) & {*models, "task", "primary_metric", "greater_is_better"}
    if clashes:
        raise ValueError(f"extra entries clash with the metrics.json contract: {sorted(clashes)}")
    data = {
        "task": task,
        "primary_metric": primary,
        "greater_is_better": bool(greater_is_better),
        **models,
        **(extra or {}),
    }
    write_json(Path(folder) / FILE_NAME, data)
    return data


def read_metrics(path_or_folder: Path) -> dict:
    """A metrics.json (or the one in a folder), upgraded to the current shape.

    Raises:
        FileNotFoundError: there is no metrics.json there.
    """
    path = Path(path_or_folder)
    if path.is_dir():
        path = path / FILE_NAME
    return upgrade(json.loads(path.read_text(encoding="utf-8")))


def upgrade(metrics: dict) -> dict:
    """A copy of ``metrics`` in the current shape: old embedding scores (``{label: {dim: {metric: v}}}``) become
    ``{"overall", "by_dimension"}``; a missing task, primary metric or direction is filled in."""
    data = dict(metrics)
    for key, value in metrics.items():
        if _old_embedding_scores(value):
            data[key] = embedding_summary(value)
            data.setdefault("task", "embedding")
    if "task" not in data:
        data["task"] = _guess_task(data)
    if "primary_metric" not in data:
        data["primary_metric"] = "rouge_l" if data["task"] == "summarization" else "token_f1"
    data.setdefault("greater_is_better", greater_is_better(data["primary_metric"]))
    return data


def embedding_summary(by_dim: dict[str, dict]) -> dict:
    """One model's embedding scores ``{dim: {metric: v}}`` (the full size first, as
    :func:`tunesmith.metrics.embedding_eval.evaluate_embeddings` returns them) as
    ``{"overall": {full-size scores, "n", "dim"}, "by_dimension": {dim: scores}}``."""
    by_dimension = {str(dim): dict(scores) for dim, scores in by_dim.items()}
    if not by_dimension:
        return {"overall": {"n": 0}, "by_dimension": {}}
    full, scores = next(iter(by_dimension.items()))
    overall = {"n": scores.get("n", 0), **scores}
    if full.isdigit():
        overall["dim"] = int(full)
    return {"overall": overall, "by_dimension": by_dimension}


def model_labels(metrics: dict) -> list[str]:
    """The scored models: base, tuned, int8 first (those present), then any other, in file order."""
    found = [key for key, value in metrics.items() if isinstance(value, dict) and "overall" in value]
    return [label for label in MODEL_ORDER if label in found] + [label for label in found if label not in MODEL_ORDER]


def models(metrics: dict) -> dict[str, dict]:
    """``{label: summary}`` for every scored model, in :func:`model_labels` order."""
    return {label: metrics[label] for label in model_labels(metrics)}


def primary(metrics: dict) -> tuple[str, bool]:
    """The primary metric's name and whether a greater value is better."""
    name = metrics.get("primary_metric") or "token_f1"
    return name, bool(metrics.get("greater_is_better", greater_is_better(name)))


def greater_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER and not metric.endswith("loss")


def reference_label(metrics_or_models: dict) -> str | None:
    """The model a run is judged by: tuned when scored, else the last scored model."""
    labels = model_labels(metrics_or_models)
    return "tuned" if "tuned" in labels else (labels[-1] if labels else None)


def group_names(models_: dict[str, dict]) -> list[str]:
    """The breakdowns present (``"category"``, ``"difficulty"``, ``"dimension"``, ...), in the order first seen."""
    names: dict[str, None] = {}
    for summary in models_.values():
        names.update(dict.fromkeys(key[3:] for key, value in summary.items() if _is_group(key, value)))
    return list(names)


def is_score(name: str) -> bool:
    """A score worth a table row: not a count (``n``, ``n_with_facts``, ``trap_n``), a size (``dim``) or a
    threshold (``f1_threshold``)."""
    return (
        name not in NOT_SCORES
        and not name.startswith("n_")
        and not name.endswith("_n")
        and not name.endswith("threshold")
    )


def score_names(summaries: list[dict], first: tuple[str, ...] = ()) -> list[str]:
    """The union of score names in these ``{metric: value}`` dicts: ``first`` (those present) then the rest in
    order of appearance."""
    seen: dict[str, None] = {}
    for scores in summaries:
        seen.update(dict.fromkeys(name for name in scores if is_score(name)))
    return [name for name in first if name in seen] + [name for name in seen if name not in first]


def _is_group(key: str, value) -> bool:
    return key.startswith("by_") and isinstance(value, dict)


def _old_embedding_scores(value) -> bool:
    """``{"384": {metric: v}, ...}``: dimension keys, each mapping to scores, and no "overall"."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(key, str) and key.isdigit() and isinstance(item, dict) for key, item in value.items())
    )


def _guess_task(metrics: dict) -> str:
    if "data_shape" in metrics or any("by_dimension" in summary for summary in models(metrics).values()):
        return "embedding"
    return "summarization" if metrics.get("primary_metric") == "rouge_l" else "causal_lm"

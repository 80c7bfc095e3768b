"""Scored run folders written by hand (no training): what the report, compare and the runs listing read.

``make_qa_run`` and ``make_embedding_run`` are plain functions so that other test folders can build runs too."""

import json
from pathlib import Path

import pytest

from tunesmith.metrics import summarize


def _scores(f1: float, facts: float | None = None) -> dict:
    return {
        "exact_match": float(f1 == 1.0),
        "accuracy": float(f1 > 0.5),
        "token_f1": f1,
        "rouge_1": f1,
        "rouge_2": f1 / 2,
        "rouge_l": f1,
        "rouge_lsum": f1,
        "bleu": f1 / 3,
        "fact_recall": facts,
        "length_ratio": 1.0,
    }


def _rows() -> list[dict]:
    rows = []
    for i in range(6):
        category = "hours" if i < 4 else "rare"
        tuned = 0.9 if category == "hours" else 0.1
        rows.append(
            {
                "question": f"question {i}?",
                "reference": f"Call (417) 836-41{i:02d} or see https://example.edu/page{i}.",
                "category": category,
                "difficulty": "easy" if i % 2 else "hard",
                "base": {"answer": "I do not know.", **_scores(0.05, 0.0), "cut": False},
                "tuned": {"answer": f"Call (417) 836-41{i:02d}.", **_scores(tuned, 0.5), "cut": i == 5},
            }
        )
    return rows


@pytest.fixture
def scored_run(tmp_path) -> Path:
    return make_qa_run(tmp_path)


def make_qa_run(folder: Path, name: str = "demo-20261123-101500") -> Path:
    run = folder / name
    (run / "logs").mkdir(parents=True)
    (run / "data").mkdir()
    rows = _rows()
    summary = {label: summarize(rows, label) for label in ("base", "tuned")}
    (run / "metrics.json").write_text(json.dumps({"primary_metric": "token_f1", **summary}))
    (run / "predictions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (run / "run.json").write_text(
        json.dumps({"status": "done", "parent": {"name": "tiny"}, "training": {"train_seconds": 90.0}})
    )
    choices = {
        "max_length": {"value": 64, "source": "plan", "reason": "fits"},
        "max_new_tokens": {"value": 32, "source": "plan", "reason": "longest answer"},
        "epochs": {"value": 6, "source": "config", "reason": "set in the config"},
    }
    (run / "plan.json").write_text(json.dumps({"choices": choices, "data": {"sequence": {"max": 80}}}))
    log = [{"step": s, "epoch": s / 10, "loss": 2.0 / s, "learning_rate": 1e-3 * (1 - s / 60)} for s in range(1, 61)]
    log += [{"step": 10 * e, "epoch": float(e), "eval_loss": v} for e, v in enumerate([1.0, 0.6, 0.5, 0.7, 0.8], 1)]
    (run / "logs" / "train_log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log))
    train = [{"messages": [], "category": "hours"}] * 12 + [{"messages": [], "category": "rare"}] * 2
    (run / "data" / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in train))
    return run


def embedding_scores(with_int8: bool = True) -> dict:
    """``{model: {dim: scores}}`` as evaluate_embeddings gives them for scored pairs: the full size (32) first."""

    def dims(shift: float) -> dict:
        return {
            str(dim): {
                "n": 24,
                "spearman": round(0.40 + shift - (32 - dim) / 400, 4),
                "pearson": round(0.45 + shift - (32 - dim) / 400, 4),
                "trap_n": 3,
                "trap_correct": round(0.33 + shift, 4),
                "trap_mean_cos": 0.7,
                "paraphrase_n": 2,
                "paraphrase_correct": 0.5,
                "paraphrase_mean_cos": 0.6,
            }
            for dim in (32, 16, 8)
        }

    scores = {"base": dims(0.0), "tuned": dims(0.4)}
    if with_int8:
        scores["int8"] = dims(0.37)
    return scores


def make_embedding_run(folder: Path, name: str = "embed-20261124-090000", old_shape: bool = False) -> Path:
    """A finished embedding run on scored pairs: base, tuned and int8 at dimensions 32, 16 and 8; the training
    log in two stages, with validation spearman. ``old_shape``: metrics.json as written before the one contract
    (``{label: {dim: scores}}``)."""
    from tunesmith.metrics.embedding_report import write_embedding_results

    run = folder / name
    (run / "logs").mkdir(parents=True)
    scores = embedding_scores()
    int8 = {"fp32_texts_per_s": 120.0, "int8_texts_per_s": 240.0, "speedup": 2.0, "metric": "spearman"}
    int8.update(change=round(scores["int8"]["32"]["spearman"] - scores["tuned"]["32"]["spearman"], 4), timed_texts=48)
    if old_shape:
        metrics = {"primary_metric": "spearman", "data_shape": "scored_pairs", **scores, "int8_export": int8}
        (run / "metrics.json").write_text(json.dumps(metrics))
    else:
        write_embedding_results(run, scores, "scored_pairs", {"int8_export": int8})
    parent = {"kind": "base_model", "name": "tiny-bert"}
    record = {
        "status": "done",
        "parent": parent,
        "started_at": "2026-11-24T09:00:00",
        "training": {"train_seconds": 30.0},
    }
    (run / "run.json").write_text(json.dumps(record))
    choices = {
        "loss": {"value": "cosent", "source": "plan", "reason": "scored pairs"},
        "matryoshka_dims": {"value": [32, 16, 8], "source": "config", "reason": "set in the config"},
    }
    (run / "plan.json").write_text(json.dumps({"choices": choices}))
    log = []
    for stage, steps in (("curriculum-1", 6), ("curriculum-2", 12)):
        log += [
            {"stage": stage, "step": s, "epoch": s / 6, "loss": 3.0 / s, "learning_rate": 1e-4}
            for s in range(1, steps + 1)
        ]
        log.append(
            {"stage": stage, "step": steps, "epoch": steps / 6, "eval_loss": 0.5, "eval_spearman": 0.6 + steps / 100}
        )
    (run / "logs" / "train_log.jsonl").write_text("".join(json.dumps(row) + "\n" for row in log))
    return run


@pytest.fixture
def embedding_run(tmp_path) -> Path:
    return make_embedding_run(tmp_path)


@pytest.fixture
def old_embedding_run(tmp_path) -> Path:
    return make_embedding_run(tmp_path, old_shape=True)

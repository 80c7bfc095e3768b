"""A scored run folder written by hand (no training): what the report reads."""

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
    run = tmp_path / "demo-20261123-101500"
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

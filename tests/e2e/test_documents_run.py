"""A tiny Q&A run that trains its answers as documents too: the rows reach training, the run folder and resume."""

import json

from tests.e2e.test_cli import make_config
from tunesmith.config import load_config
from tunesmith.data import load_examples
from tunesmith.pipeline import train_run


def test_a_run_with_documents_trains_on_them_and_keeps_them_in_its_split(tmp_path, tiny_model_dir):
    config = load_config(make_config(tmp_path, tiny_model_dir, documents={"answers": True}))
    run = train_run(config)
    record = json.loads((run.path / "run.json").read_text())
    assert record["status"] == "done"
    documents = record["data"]["documents"]
    saved = load_examples(run.path / "data" / "train.jsonl", "messages")
    assert sum(example.is_document for example in saved) == documents["rows"] > 0
    assert not any(example.is_document for example in load_examples(run.path / "data" / "test.jsonl", "messages"))
    plan = json.loads((run.path / "plan.json").read_text())
    assert plan["choices"]["document_rows"]["value"] == documents["rows"]
    assert plan["data"]["n_train"] == len(saved)  # the steps were planned over the Q&A and document rows
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert "token_f1" in metrics["tuned"]["overall"]

"""metrics.json: one shape for every task (tunesmith.metrics.results), and the tables that read it."""

import csv
import io
import json

import pytest
from rich.console import Console

from tests.reports.conftest import _rows, embedding_scores
from tunesmith.metrics import OVERALL_METRICS, summarize, write_results
from tunesmith.metrics.embedding_report import embedding_summary, print_embedding_metrics, write_embedding_results
from tunesmith.metrics.results import model_labels, primary, read_metrics, upgrade, write_metrics
from tunesmith.metrics.show import print_metrics
from tunesmith.metrics.tables import group_rows, overall_rows


def qa_result() -> dict:
    rows = _rows()
    return {"rows": rows, "summary": {label: summarize(rows, label) for label in ("base", "tuned")}}


def test_write_and_read_round_trip(tmp_path):
    models = {"tuned": {"overall": {"n": 2, "rouge_l": 0.5}}, "base": {"overall": {"n": 2, "rouge_l": 0.25}}}
    written = write_metrics(tmp_path, "summarization", "rouge_l", True, models, {"note": "x"})
    assert read_metrics(tmp_path) == read_metrics(tmp_path / "metrics.json") == written
    assert written["task"] == "summarization" and written["note"] == "x"
    assert model_labels(written) == ["base", "tuned"]  # base first, whatever the order written
    assert primary(written) == ("rouge_l", True)
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temp file left behind


def test_write_refuses_a_model_without_overall_or_a_clashing_extra(tmp_path):
    with pytest.raises(ValueError, match="'overall'"):
        write_metrics(tmp_path, "embedding", "spearman", True, {"tuned": {"32": {"spearman": 0.5}}})
    with pytest.raises(ValueError, match="clash"):
        write_metrics(tmp_path, "causal_lm", "token_f1", True, {"tuned": {"overall": {"n": 1}}}, {"task": "x"})


def test_qa_results_keep_their_shape_and_csv(tmp_path):
    write_results(tmp_path, qa_result(), "causal_lm", "token_f1", extra={"earlier_stages": []})
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["task"] == "causal_lm" and metrics["primary_metric"] == "token_f1"
    assert metrics["greater_is_better"] is True and metrics["earlier_stages"] == []
    assert set(metrics["tuned"]) == {"overall", "by_category", "by_difficulty"}
    header, first, *_ = (tmp_path / "metrics.csv").read_text().splitlines()
    assert header == "model,group_by,group,n," + ",".join(OVERALL_METRICS) and first.startswith("base,all,all,6,")
    assert len((tmp_path / "predictions.jsonl").read_text().splitlines()) == 6
    write_results(tmp_path, qa_result(), "summarization", "rouge_l")
    assert read_metrics(tmp_path)["task"] == "summarization" and read_metrics(tmp_path)["primary_metric"] == "rouge_l"


def test_embedding_results_are_summaries_with_every_dimension(tmp_path):
    scores = embedding_scores()
    write_embedding_results(tmp_path, scores, "scored_pairs", {"int8_export": {"speedup": 2.0}})
    metrics = read_metrics(tmp_path)
    assert metrics["task"] == "embedding" and metrics["data_shape"] == "scored_pairs"
    assert primary(metrics) == ("spearman", True) and model_labels(metrics) == ["base", "tuned", "int8"]
    tuned = metrics["tuned"]
    assert tuned["overall"] == {**scores["tuned"]["32"], "dim": 32}
    assert tuned["overall"]["n"] == 24 and list(tuned["by_dimension"]) == ["32", "16", "8"]
    assert tuned["by_dimension"]["8"] == scores["tuned"]["8"] and metrics["int8_export"] == {"speedup": 2.0}
    rows = list(csv.DictReader(io.StringIO((tmp_path / "metrics.csv").read_text())))
    assert [(row["model"], row["dim"]) for row in rows][:4] == [
        ("base", "32"),
        ("base", "16"),
        ("base", "8"),
        ("tuned", "32"),
    ]
    assert len(rows) == 9 and rows[0]["spearman"] == "0.4"


def test_read_metrics_upgrades_the_old_embedding_shape(tmp_path):
    scores = embedding_scores(with_int8=False)
    old = {"primary_metric": "spearman", "data_shape": "scored_pairs", **scores, "int8_export": {"change": -0.01}}
    (tmp_path / "metrics.json").write_text(json.dumps(old))
    metrics = read_metrics(tmp_path)
    assert metrics["task"] == "embedding" and metrics["greater_is_better"] is True
    for label in ("base", "tuned"):
        assert metrics[label] == embedding_summary(scores[label])
        assert metrics[label]["overall"]["n"] == 24 and set(metrics[label]["by_dimension"]) == {"32", "16", "8"}
    assert metrics["int8_export"] == {"change": -0.01} and model_labels(metrics) == ["base", "tuned"]


def test_upgrade_fills_in_what_old_qa_files_lack():
    summary = qa_result()["summary"]
    assert upgrade({**summary})["task"] == "causal_lm" and upgrade({**summary})["primary_metric"] == "token_f1"
    assert upgrade({"primary_metric": "rouge_l", **summary})["task"] == "summarization"
    assert upgrade({"primary_metric": "perplexity", **summary})["greater_is_better"] is False
    new = upgrade({"primary_metric": "spearman", "tuned": embedding_summary(embedding_scores()["tuned"])})
    assert upgrade(new) == new and new["task"] == "embedding"


def test_embedding_summary_of_an_empty_or_unscored_model():
    assert embedding_summary({}) == {"overall": {"n": 0}, "by_dimension": {}}
    assert embedding_summary({"32": {}}) == {"overall": {"n": 0, "dim": 32}, "by_dimension": {"32": {}}}


def test_overall_rows_list_every_metric_present_qa_order_first():
    summary = qa_result()["summary"]
    summary["tuned"]["overall"]["spearman"] = 0.9  # a name the Q&A list lacks comes after it
    headers, rows = overall_rows(summary)
    names = [row[0] for row in rows]
    assert headers == ["metric", "base", "tuned", "change"]
    assert names[:3] == ["exact_match", "accuracy", "token_f1"] and names[-1] == "spearman"
    assert "n" not in names and "n_with_facts" not in names
    assert rows[-1] == ["spearman", "-", "0.900", "-"]


def test_group_rows_for_dimensions_with_int8():
    metrics = upgrade({"primary_metric": "spearman", "data_shape": "scored_pairs", **embedding_scores()})
    headers, rows = group_rows({label: metrics[label] for label in model_labels(metrics)}, "dimension", "spearman")
    assert headers == ["dimension", "test n", "base", "tuned", "int8", "change", "int8 change"]
    assert rows[0] == ["32", "24", "0.400", "0.800", "0.770", "+0.400", "-0.030"]


def terminal(render) -> str:
    console = Console(file=io.StringIO(), width=200)
    render(console)
    return console.file.getvalue()


def test_print_metrics_shows_any_task():
    metrics = upgrade({"primary_metric": "spearman", "data_shape": "scored_pairs", **embedding_scores()})
    output = terminal(lambda console: print_metrics(metrics, console, "spearman"))
    assert "Test set (24 examples)" in output and "spearman by dimension" in output
    assert "trap_correct" in output and "int8 change" in output
    output = terminal(lambda console: print_metrics(qa_result()["summary"], console))
    assert "token_f1 by category" in output and "token_f1 by difficulty" in output and "perplexity" not in output


def test_print_embedding_metrics_takes_raw_scores_or_summaries():
    scores = embedding_scores()
    raw = terminal(lambda console: print_embedding_metrics(scores, "scored_pairs", console))
    summaries = {label: embedding_summary(by_dim) for label, by_dim in scores.items()}
    assert terminal(lambda console: print_embedding_metrics(summaries, "scored_pairs", console)) == raw
    assert "Scores (primary: spearman)" in raw and "trap_n" in raw

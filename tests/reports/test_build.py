import base64
import re
from collections import Counter

import pytest

from tunesmith.errors import RunError
from tunesmith.reports import write_report


def test_report_has_results_groups_curves_plan_and_worst_examples(scored_run):
    markdown_path, html_path = write_report(scored_run)
    markdown = markdown_path.read_text()
    assert "| token_f1 | 0.050 | 0.633 | +0.583 |" in markdown
    assert "## By category" in markdown and "| rare | 2 | 2 | 0.050 | 0.100 |" in markdown
    assert "## By difficulty" in markdown
    for png in ("loss.png", "learning_rate.png", "by_category.png", "by_difficulty.png"):
        assert (scored_run / "report" / png).read_bytes().startswith(b"\x89PNG")
        assert f"](report/{png})" in markdown
    assert "| epochs | 6 | config | set in the config |" in markdown
    assert "The 6 worst answers" in markdown and "https://example.edu/page5." in markdown


def test_suggestions_come_from_the_evidence(scored_run):
    markdown = write_report(scored_run)[0].read_text()
    assert "lowest (0.500) at epoch 3 and rose to 0.800 by epoch 5. Try about 3 epochs" in markdown
    assert "Category 'rare' has only 2 training examples" in markdown
    assert "1 of 6 answers were cut at evaluation.max_new_tokens (32)" in markdown
    assert "longer than training.max_length (64)" in markdown
    assert "No real gain" not in markdown


def test_html_is_self_contained(scored_run):
    page = write_report(scored_run)[1].read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 4 and all(base64.b64decode(data).startswith(b"\x89PNG") for data in images)
    assert "report/" not in page  # nothing points outside the file
    assert page.count("<table>") >= 5


def test_unscored_run_is_a_clear_error(tmp_path):
    with pytest.raises(RunError, match="no metrics.json"):
        write_report(tmp_path)


def test_report_command_rebuilds_the_report(scored_run):
    from typer.testing import CliRunner

    from tunesmith.cli import app

    result = CliRunner().invoke(app, ["report", str(scored_run)])
    assert result.exit_code == 0, result.output
    assert (scored_run / "report.html").is_file() and "report.html" in result.output


def test_qa_headline_names_the_direction(scored_run):
    markdown = write_report(scored_run)[0].read_text()
    assert "task causal_lm" in markdown
    assert "token_f1 (higher is better): 0.050 (base) -> 0.633 (fine-tuned), +0.583: better" in markdown
    assert "## By embedding dimension" not in markdown and "INT8" not in markdown


@pytest.mark.parametrize("fixture", ["embedding_run", "old_embedding_run"])
def test_embedding_report_has_every_model_dimension_and_stage(fixture, request):
    run = request.getfixturevalue(fixture)
    markdown_path, html_path = write_report(run)
    markdown = markdown_path.read_text()
    assert "task embedding (scored_pairs)" in markdown and "24 test examples" in markdown
    assert "spearman (higher is better): 0.400 (base) -> 0.800 (fine-tuned), +0.400: better" in markdown
    assert "| metric | base | tuned | int8 | change | int8 change |" in markdown
    assert "| spearman | 0.400 | 0.800 | 0.770 | +0.400 | -0.030 |" in markdown
    for name in ("pearson", "trap_correct", "paraphrase_mean_cos"):
        assert f"| {name} |" in markdown
    assert "| trap_n |" not in markdown and "| dim |" not in markdown and "| n |" not in markdown
    assert "## By embedding dimension (Matryoshka)" in markdown
    assert "| dimension | test n | base | tuned | int8 | change | int8 change |" in markdown
    assert "| 16 | 24 | 0.360 | 0.760 | 0.730 | +0.400 | -0.030 |" in markdown
    assert "2.00x the fp32 encoding speed" in markdown
    assert "The INT8 copy loses 0.030 spearman" in markdown
    assert "Training stages, in order: curriculum-1, curriculum-2." in markdown
    assert "| stage | epoch | step | validation loss | validation spearman |" in markdown
    assert "| curriculum-2 | 2 | 18 | 0.5000 | 0.7200 |" in markdown  # the second stage's steps follow the first's
    for png in ("loss.png", "validation_spearman.png", "learning_rate.png", "by_dimension.png"):
        assert (run / "report" / png).read_bytes().startswith(b"\x89PNG") and f"](report/{png})" in markdown
    assert "| loss | cosent | plan | scored pairs |" in markdown
    assert "worst answers" not in markdown and "Category" not in markdown  # no predictions, no categories
    assert html_path.read_text().count("<table>") >= 4


def test_a_report_needs_only_the_scores(tmp_path):
    from tunesmith.metrics.embedding_report import write_embedding_results

    write_embedding_results(tmp_path, {"tuned": {"32": {"n": 5, "ndcg@10": 0.5}}}, "classes")
    markdown = write_report(tmp_path)[0].read_text()
    assert "ndcg@10 (higher is better): 0.500 (tuned)" in markdown
    assert "| ndcg@10 | 0.500 |" in markdown and "No training log in this run folder." in markdown


def test_suggestions_for_embeddings_point_at_a_smaller_dimension():
    from tunesmith.metrics.results import embedding_summary
    from tunesmith.reports.suggest import suggestions

    scores = {"64": {"spearman": 0.80}, "32": {"spearman": 0.795}, "16": {"spearman": 0.792}, "8": {"spearman": 0.6}}
    summary = {"base": embedding_summary({"64": {"spearman": 0.5}}), "tuned": embedding_summary(scores)}
    found = suggestions(summary, [], [], {}, Counter(), "spearman")
    assert found == [
        "Dimension 16 scores 0.792 spearman against 0.800 at the full 64: truncating the embeddings to it saves "
        "storage and search time at almost no cost."
    ]
    summary["tuned"]["overall"]["spearman"] = 0.51
    assert any(
        item.startswith("No real gain: spearman 0.500 -> 0.510")
        for item in suggestions(summary, [], [], {}, Counter(), "spearman")
    )
    summary["base"]["overall"]["spearman"], summary["tuned"]["overall"]["spearman"] = 0.867, 0.885
    # +0.018 from 0.867 is 14% of what was left to gain: a real gain
    assert not any("No real gain" in item for item in suggestions(summary, [], [], {}, Counter(), "spearman"))
    summary["base"]["overall"]["spearman"] = 0.5
    summary["tuned"]["overall"]["spearman"] = 0.3  # worse when higher is better, a gain when lower is
    assert any("No real gain" in item for item in suggestions(summary, [], [], {}, Counter(), "spearman"))
    assert not any("No real gain" in item for item in suggestions(summary, [], [], {}, Counter(), "spearman", False))

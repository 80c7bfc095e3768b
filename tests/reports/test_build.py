import base64
import re

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

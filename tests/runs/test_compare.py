import json

import pytest
import yaml

from tunesmith.errors import RunError
from tunesmith.runs.compare import collect, to_markdown


def make_run(folder, name, lora_r, f1):
    run = folder / name
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump({"name": name, "lora": {"r": lora_r, "dropout": 0.0}}))
    plan = {"choices": {"lora_r": {"value": lora_r, "source": "config", "reason": ""}}}
    (run / "plan.json").write_text(json.dumps(plan))
    (run / "run.json").write_text(json.dumps({"status": "done", "training": {"train_seconds": 120}}))
    metrics = {"tuned": {"overall": {"n": 3, "token_f1": f1}}, "base": {"overall": {"n": 3, "token_f1": 0.1}}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def test_differing_settings_are_marked_and_metrics_lined_up(tmp_path):
    runs = [make_run(tmp_path, "a", 16, 0.3), make_run(tmp_path, "b", 32, 0.4)]
    comparison = collect(runs)
    rows = {(section, key): (values, differs) for section, key, values, differs in comparison["rows"]}
    assert comparison["runs"] == ["a", "b"]
    assert rows[("config", "lora.r")] == ([16, 32], True)
    assert rows[("config", "lora.dropout")] == ([0.0, 0.0], False)
    assert rows[("plan", "lora_r")] == ([16, 32], True)
    assert rows[("metrics", "token_f1 (tuned)")][0] == [0.3, 0.4]
    assert rows[("metrics", "training minutes")][0] == [2.0, 2.0]
    markdown = to_markdown(comparison)
    assert "| config | **lora.r** | **16** | **32** |" in markdown
    assert "| config | lora.dropout | 0 | 0 |" in markdown.replace("0.0", "0")


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(RunError, match="not a run folder"):
        collect([tmp_path])


def test_compare_command_prints_and_writes_markdown(tmp_path):
    from typer.testing import CliRunner

    from tunesmith.cli import app

    runs = [make_run(tmp_path, "a", 16, 0.3), make_run(tmp_path, "b", 32, 0.4)]
    out = tmp_path / "compare.md"
    result = CliRunner().invoke(app, ["compare", *map(str, runs), "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "lora.r" in result.output and "lora.dropout" not in result.output  # equal config rows hidden
    assert "**lora.r**" in out.read_text()


def test_an_embedding_run_and_a_qa_run_side_by_side(tmp_path):
    from tests.reports.conftest import make_embedding_run, make_qa_run

    qa, new, old = make_qa_run(tmp_path), make_embedding_run(tmp_path), make_embedding_run(tmp_path, "old", True)
    comparison = collect([qa, new, old])
    rows = {key: values for section, key, values, _ in comparison["rows"] if section == "metrics"}
    assert rows["task"] == ["causal_lm", "embedding", "embedding"]
    assert rows["primary metric"] == ["token_f1 (higher is better)", *["spearman (higher is better)"] * 2]
    assert rows["spearman (tuned)"] == [None, 0.8, 0.8] and rows["spearman (int8)"] == [None, 0.77, 0.77]
    assert rows["spearman (base)"] == [None, 0.4, 0.4] and rows["trap_correct (tuned)"][1] == 0.73
    assert rows["token_f1 (tuned)"][0] == pytest.approx(0.633, abs=1e-3) and rows["token_f1 (tuned)"][1:] == [None] * 2
    assert not any(key.startswith(("n (", "dim (", "trap_n (")) for key in rows)
    assert "| metrics | spearman (tuned) | - | 0.8 | 0.8 |" in to_markdown(comparison)

"""The command line end to end on a tiny model: plan, train, eval, and clean errors for bad input."""

import json
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import SAMPLES, write_jsonl
from tunesmith.cli import app
from tunesmith.metrics import OVERALL_METRICS


def make_config(tmp_path, model_dir, **overrides):
    train = [json.loads(line) for line in (SAMPLES / "train.jsonl").read_text().splitlines()][:24]
    test = [json.loads(line) for line in (SAMPLES / "test.jsonl").read_text().splitlines()][:6]
    config = {
        "name": "tiny",
        "model": {"name": str(model_dir)},
        "data": {"train": "train.jsonl", "test": "test.jsonl", "valid_fraction": 0.2},
        "training": {"epochs": 2, "bf16": False},
        "evaluation": {"max_new_tokens": 8},
        "output": {"runs_dir": str(tmp_path / "runs"), "logging_steps": 1},
        **overrides,
    }
    config["training"] = {"method": "lora", **config["training"]}  # the plan would train the tiny model in full
    write_jsonl(tmp_path / "train.jsonl", train)
    write_jsonl(tmp_path / "test.jsonl", test)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(*args):
    result = CliRunner().invoke(app, [str(arg) for arg in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_plan_prints_each_choice_with_its_reason_and_an_estimate(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    output = run_cli("plan", make_config(tmp_path, tiny_model_dir), "--plot")
    assert (tmp_path / "tiny-lr.png").read_bytes()[:4] == b"\x89PNG" and "tiny-lr.png" in output
    for expected in (
        "lora_r",
        "epochs",
        "set in the config",
        "grad_accum",
        "warmup_steps",
        "estimate:",
        "peak memory",
    ):
        assert expected in output
    assert not (tmp_path / "runs").exists()  # planning writes nothing


def test_plan_plot_out_writes_where_asked_and_nothing_in_the_current_folder(tmp_path, tiny_model_dir, monkeypatch):
    config_path = make_config(tmp_path, tiny_model_dir)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    target = tmp_path / "plots" / "deep" / "schedule.png"  # missing folders are created
    output = run_cli("plan", config_path, "--plot-out", target)
    assert target.read_bytes()[:4] == b"\x89PNG" and "schedule.png" in output.replace("\n", "")
    assert list(work.iterdir()) == [] and not (tmp_path / "tiny-lr.png").exists()
    assert [p.name for p in target.parent.iterdir()] == ["schedule.png"]  # written atomically: no temp file left
    run_cli("plan", config_path, "--plot", "--plot-out", tmp_path / "plots")  # a folder gets <name>-lr.png
    assert (tmp_path / "plots" / "tiny-lr.png").read_bytes()[:4] == b"\x89PNG" and list(work.iterdir()) == []
    (tmp_path / "a-file").write_text("x")
    refused = CliRunner().invoke(app, ["plan", str(config_path), "--plot-out", str(tmp_path / "a-file" / "lr.png")])
    message = " ".join(refused.output.replace("│", " ").split())  # however the usage error box wraps it
    assert refused.exit_code == 2 and "cannot write the plot there" in message


def test_train_writes_a_complete_new_run_folder_and_eval_rescores_it(tmp_path, tiny_model_dir):
    config_path = make_config(tmp_path, tiny_model_dir)
    output = run_cli("train", config_path)
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    assert "Training plan" in output and "token_f1" in output and str(run) in output.replace("\n", "")
    names = ("config.yaml", "plan.json", "run.json", "metrics.json", "metrics.csv", "predictions.jsonl", "report.html")
    for name in (*names, "report.md", "report/loss.png"):
        assert (run / name).is_file(), name
    assert (run / "adapter" / "adapter_config.json").is_file()
    assert len(list((run / "checkpoints").glob("checkpoint-*"))) == 2
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "done" and record["parent"]["name"] == str(tiny_model_dir)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["base"]["overall"]["n"] == metrics["tuned"]["overall"]["n"] == 6
    assert set(metrics["tuned"]["by_category"]) and set(metrics["tuned"]["by_difficulty"]) <= {
        "easy",
        "medium",
        "hard",
    }
    header, *rows = (run / "metrics.csv").read_text().splitlines()
    assert header == "model,group_by,group,n," + ",".join(OVERALL_METRICS)
    assert "rouge_lsum" in header and "perplexity" in header
    assert rows[0].startswith("base,all,all,6,")
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert {"question", "reference", "base", "tuned"} <= set(predictions[0])
    assert len((run / "data" / "test.jsonl").read_text().splitlines()) == 6

    before = {path: path.read_bytes() for path in run.rglob("*") if path.is_file()}
    output = run_cli("eval", run, "--max-examples", "3")
    [evaluation] = list((run / "evals").iterdir())
    assert json.loads((evaluation / "metrics.json").read_text())["tuned"]["overall"]["n"] == 3
    assert all(path.read_bytes() == content for path, content in before.items())  # nothing rewritten

    run_cli("train", config_path)
    assert len(list((tmp_path / "runs").glob("*/run.json"))) == 2  # a second run never reuses the first's folder
    assert json.loads((tmp_path / "runs" / "current.json").read_text())["previous"] == run.name


def cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def test_bad_config_is_one_clear_error_before_anything_loads(tmp_path, tiny_model_dir):
    config_path = make_config(tmp_path, tiny_model_dir, lora={"rank": 8})
    result = cli("train", config_path, cwd=tmp_path)
    assert result.returncode == 2
    assert f"{config_path}: invalid config" in result.stderr and "lora.rank: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_data_line_is_named_before_training(tmp_path, tiny_model_dir):
    config_path = make_config(tmp_path, tiny_model_dir)
    with (tmp_path / "train.jsonl").open("a") as handle:
        handle.write('{"question": "Where?", "answer": ""}\n')
    result = cli("train", config_path, cwd=tmp_path)
    assert result.returncode == 2
    assert f"{tmp_path / 'train.jsonl'}:25: field 'answer' is empty" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("model", ["/no/such/folder.gguf", "not-a-model-id"])
def test_unknown_model_is_a_clear_error(tmp_path, tiny_model_dir, model):
    config_path = make_config(tmp_path, tiny_model_dir, model={"name": model})
    result = cli("plan", config_path, cwd=tmp_path)
    assert result.returncode == 2 and "error:" in result.stderr and "Traceback" not in result.stderr


def test_train_needs_exactly_one_of_a_config_and_resume(tmp_path, tiny_model_dir):
    for args in ([], [str(make_config(tmp_path, tiny_model_dir)), "--resume", str(tmp_path)]):
        result = CliRunner().invoke(app, ["train", *args])
        assert result.exit_code == 2 and "--resume RUN_DIR" in result.output

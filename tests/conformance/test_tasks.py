"""One list of checks over every task (as peft's tests/testing_common.py runs one list over every method).

Each task trains on a tiny model (a 2-layer Llama for Q&A and decoder-only summaries, a 2-layer BERT for
embeddings) through the same chain, and must give: a plan with reasons that writes nothing; a finished run whose
metrics.json follows the one contract; a run stopped after its first checkpoint that resumes to the weights of
a run never stopped; a report that renders in Chromium; compare with the primary metric; a continued run that
leaves its parent byte-identical and reports retention on the parent's test split; an export that loads back and
gives the run's own outputs; a server that answers.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from tests.conftest import SAMPLES, launch_chromium, write_jsonl
from tunesmith.cli import app
from tunesmith.config import load_config
from tunesmith.pipeline import resume_run, train_run
from tunesmith.training.callbacks import ProgressCallback

pytestmark = pytest.mark.slow  # whole runs on tiny models, about a minute per task on 2 cores

TASKS = ("causal_lm", "summarization", "embedding")


class Killed(RuntimeError):
    pass


def _qa_data(folder: Path, offset: int) -> dict:
    records = [json.loads(line) for line in (SAMPLES / "train.jsonl").read_text().splitlines()]
    tests = [json.loads(line) for line in (SAMPLES / "test.jsonl").read_text().splitlines()]
    write_jsonl(folder / "train.jsonl", records[offset : offset + 20])
    write_jsonl(folder / "test.jsonl", tests[offset // 5 : offset // 5 + 4])
    return {"train": "train.jsonl", "test": "test.jsonl", "valid_fraction": 0.2}


def _dialogue_data(folder: Path, offset: int) -> dict:
    names, places = ["Anna", "Ben", "Carla", "Dev"], ["the cafe", "the park", "the gym", "the office"]
    for name, count, start in (("train", 20, offset), ("test", 4, offset + 40)):
        with (folder / f"{name}.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "summary", "dialogue"])
            writer.writeheader()
            for i in range(start, start + count):
                a, b, place = names[i % 4], names[(i + 1) % 4], places[i % 4]
                dialogue = f"{a}: are you coming to {place}?\n{b}: yes, at {i % 12 + 1} pm"
                writer.writerow({"id": i, "summary": f"{b} meets {a} at {place}.", "dialogue": dialogue})
    return {"train": "train.csv", "test": "test.csv", "valid_fraction": 0.2}


def _pair_data(folder: Path, offset: int) -> dict:
    from tests.data.test_pairs import scored_pair_rows, write_stsb

    write_stsb(folder / "train.tsv", scored_pair_rows(40, seed=1 + offset))
    write_stsb(folder / "test.tsv", scored_pair_rows(16, seed=100 + offset))
    return {"train": "train.tsv", "test": "test.tsv", "valid_fraction": 0.2}


def write_config(folder: Path, task: str, model_dir: Path, runs_dir: Path, offset: int = 0, **extra) -> Path:
    """A config of ``task`` with its data in ``folder``: 2 epochs, validation, a checkpoint per epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "name": f"conf-{task}",
        "task": task,
        "model": {"name": str(model_dir)},
        "training": {"epochs": 2, "batch_size": 4, "learning_rate": 1e-2, "early_stopping_patience": None},
        "output": {"runs_dir": str(runs_dir), "logging_steps": 1},
        **extra,
    }
    if task == "embedding":
        config["data"] = _pair_data(folder, offset)
        config["training"]["learning_rate"] = 1e-3
        config["embedding"] = {"data_format": "stsb", "matryoshka_dims": [32, 16], "export_int8": False}
    else:
        config["data"] = _qa_data(folder, offset) if task == "causal_lm" else _dialogue_data(folder, offset)
        config["training"] |= {"bf16": False, "grad_accum": 1}
        config["evaluation"] = {"max_new_tokens": 8, "mode": "fast"}
        config["lora"] = {"r": 4, "alpha": 8}
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def weights(run: Path) -> dict[str, torch.Tensor]:
    """The trained weights a run leaves: the adapter (generative tasks) or the whole model (embeddings)."""
    from safetensors.torch import load_file

    files = [run / "adapter" / "adapter_model.safetensors", *sorted((run / "model").rglob("model.safetensors"))]
    return load_file(next(file for file in files if file.is_file()))


def snapshot(folder: Path) -> dict:
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.fixture(scope="module", params=TASKS)
def case(request, tmp_path_factory):
    """For one task: a straight run, a stopped-and-resumed one, and a run continuing the straight one."""
    task = request.param
    model_dir = request.getfixturevalue("tiny_bert_dir" if task == "embedding" else "tiny_model_dir")
    root = tmp_path_factory.mktemp(task)
    runs = root / "runs"
    with pytest.MonkeyPatch.context() as patch:  # module-scoped: the per-test isolation is not active yet
        patch.setenv("TUNESMITH_HOME", str(root / "home"))
        config_path = write_config(root / "stage1", task, model_dir, runs)
        straight = train_run(load_config(config_path)).path

        def kill_after_first_checkpoint(self, args, state, control, **kwargs):
            raise Killed(f"killed after saving step {state.global_step}")

        patch.setattr(ProgressCallback, "on_save", kill_after_first_checkpoint, raising=False)
        with pytest.raises(Killed):
            train_run(load_config(config_path))
        patch.undo()
        patch.setenv("TUNESMITH_HOME", str(root / "home"))
        [stopped] = [path.parent for path in runs.glob("*/run.json") if path.parent != straight]
        status_when_stopped = json.loads((stopped / "run.json").read_text())["status"]
        resumed = resume_run(stopped).path

        parent_before = snapshot(straight)
        child_config = write_config(root / "stage2", task, model_dir, runs, offset=20, continue_from=str(straight))
        child = train_run(load_config(child_config)).path
        parent_after = snapshot(straight)
    return {
        "task": task,
        "model_dir": model_dir,
        "root": root,
        "config": config_path,
        "straight": straight,
        "stopped_status": status_when_stopped,
        "resumed": resumed,
        "child": child,
        "parent_unchanged": parent_before == parent_after,
        "runs": runs,
    }


def run_cli(*args) -> str:
    result = CliRunner().invoke(app, [str(arg) for arg in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_plan_gives_every_value_a_reason_and_writes_nothing(case):
    before = sorted(path.name for path in case["runs"].iterdir())
    output = run_cli("plan", case["config"])
    for expected in ("learning_rate", "batch_size", "epochs", "set in the config"):
        assert expected in output
    assert sorted(path.name for path in case["runs"].iterdir()) == before


def test_a_finished_run_follows_the_metrics_contract(case):
    run = case["straight"]
    record = json.loads((run / "run.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert record["status"] == "done" and metrics["task"] == case["task"]
    primary = metrics["primary_metric"]
    assert primary == {"causal_lm": "token_f1", "summarization": "rouge_l", "embedding": "spearman"}[case["task"]]
    assert metrics["greater_is_better"] is True
    assert isinstance(metrics["base"]["overall"][primary], float)
    assert isinstance(metrics["tuned"]["overall"][primary], float)
    training = record["training"]
    assert training["validation_metric"] in ("eval_loss", f"eval_{primary}")
    assert len(training["validation"]) == 2  # scored on the validation split after each epoch
    assert training["best_checkpoint"].startswith("checkpoint-")  # the kept weights are the best epoch's
    assert (run / "logs" / "tensorboard").is_dir() and any((run / "logs" / "tensorboard").rglob("events.*"))
    assert (run / "report.md").is_file() and (run / "report.html").is_file()


def test_a_stopped_run_resumes_to_the_weights_of_a_straight_run(case):
    assert case["stopped_status"] == "failed"
    record = json.loads((case["resumed"] / "run.json").read_text())
    assert record["status"] == "done" and "checkpoint-" in record["resumed_from"]
    expected, actual = weights(case["straight"]), weights(case["resumed"])
    assert expected.keys() == actual.keys()
    for name in expected:
        assert torch.allclose(expected[name], actual[name], atol=1e-5), name


def test_the_report_renders_in_chromium(case):
    sync_api = pytest.importorskip("playwright.sync_api")
    run_cli("report", case["straight"])
    page_path = case["straight"] / "report.html"
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all("img", "all => all.map(i => [i.complete, i.naturalWidth])")
            tables = page.eval_on_selector_all("table", "all => all.map(t => t.rows.length)")
            text = page.inner_text("body")
        finally:
            browser.close()
    assert images and all(done and width > 0 for done, width in images)  # the loss curve at least
    assert tables and all(rows > 1 for rows in tables)
    primary = json.loads((case["straight"] / "metrics.json").read_text())["primary_metric"]
    assert primary in text


def test_compare_puts_the_primary_metric_side_by_side(case):
    from tunesmith.runs.compare import collect

    primary = json.loads((case["straight"] / "metrics.json").read_text())["primary_metric"]
    comparison = collect([case["straight"], case["resumed"]])
    rows = {(section, key): values for section, key, values, _ in comparison["rows"]}
    base, tuned = rows[("metrics", f"{primary} (base)")], rows[("metrics", f"{primary} (tuned)")]
    assert all(isinstance(value, float) for value in base + tuned)
    assert tuned[0] == pytest.approx(tuned[1], abs=1e-3)  # the resumed run scores as the straight one


def test_a_continued_run_keeps_its_parent_and_reports_retention(case):
    assert case["parent_unchanged"]  # continue_from leaves the parent's folder byte-identical
    record = json.loads((case["child"] / "run.json").read_text())
    assert record["parent"]["kind"] == "run" and record["parent"]["path"] == str(case["straight"].resolve())
    plan = json.loads((case["child"] / "plan.json").read_text())["choices"]
    assert plan["replay_examples"]["value"] > 0  # earlier rounds' records rehearsed
    [stage] = json.loads((case["child"] / "metrics.json").read_text())["earlier_stages"]
    primary = stage["primary_metric"]
    assert stage["run"] == case["straight"].name and primary in stage["retention"]
    assert (
        stage["before"][primary]
        == json.loads((case["straight"] / "metrics.json").read_text())["tuned"]["overall"][primary]
    )


def test_an_export_loads_back_and_gives_the_runs_outputs(case):
    out = case["root"] / "exported"
    if out.exists():
        shutil.rmtree(out)
    run_cli("export", case["straight"], "--format", "merged", "--out", out)
    if case["task"] == "embedding":
        from sentence_transformers import SentenceTransformer

        texts = ["a printer on the third floor", "reset my password"]
        exported = SentenceTransformer(str(out), device="cpu").encode(texts)
        original = SentenceTransformer(str(case["straight"] / "model"), device="cpu").encode(texts)
        assert exported == pytest.approx(original, abs=1e-5)
        return
    from transformers import AutoModelForCausalLM

    from tunesmith.serve import load_served

    exported = AutoModelForCausalLM.from_pretrained(out).eval()
    served = load_served(case["straight"])
    ids = served.tokenizer("Anna: are you coming?", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(exported(ids).logits, served.model(ids).logits, atol=1e-4)


def test_the_server_answers(case):
    from fastapi.testclient import TestClient

    from tunesmith.serve import create_app, load_served

    served = load_served(case["straight"])
    with TestClient(create_app(served, api_key=None, max_batch=4)) as client:
        if case["task"] == "embedding":
            body = {"model": served.name, "input": ["one text", "another"]}
            response = client.post("/v1/embeddings", json=body)
            assert response.status_code == 200, response.text
            assert [len(item["embedding"]) for item in response.json()["data"]] == [32, 32]
            return
        messages = [{"role": "user", "content": "Where is the cafe?"}]
        response = client.post(
            "/v1/chat/completions", json={"model": served.name, "messages": messages, "max_tokens": 4}
        )
        assert response.status_code == 200, response.text
        assert isinstance(response.json()["choices"][0]["message"]["content"], str)

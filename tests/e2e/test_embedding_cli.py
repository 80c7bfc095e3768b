"""``tunesmith train`` on a task: embedding config, end to end on a tiny BERT."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from tests.data.test_pairs import scored_pair_rows, write_stsb
from tunesmith.cli import app
from tunesmith.models.int8 import INT8_FILE, load_int8

pytestmark = pytest.mark.slow  # whole runs, each 5-25 s on 2 cores


def run_cli(*args):
    result = CliRunner().invoke(app, [str(arg) for arg in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def make_config(tmp_path, model_dir, **embedding):
    write_stsb(tmp_path / "train.tsv", scored_pair_rows(48, seed=1))
    write_stsb(tmp_path / "test.tsv", scored_pair_rows(24, seed=2))
    config = {
        "name": "tiny-embed",
        "task": "embedding",
        "model": {"name": str(model_dir)},
        "data": {"train": "train.tsv", "test": "test.tsv"},
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 1e-3},
        "embedding": {"data_format": "stsb", "matryoshka_dims": [32, 16, 8], **embedding},
        "output": {"runs_dir": str(tmp_path / "runs"), "logging_steps": 1},
    }
    path = tmp_path / "embed.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_plan_for_an_embedding_run_gives_reasons_and_writes_nothing(tmp_path, tiny_bert_dir):
    output = run_cli("plan", make_config(tmp_path, tiny_bert_dir))
    for expected in ("method", "full", "loss", "cosent", "matryoshka_dims", "max_seq_length", "set in the config"):
        assert expected in output
    assert not (tmp_path / "runs").exists()


def test_train_scores_base_and_tuned_at_every_dimension_and_saves_a_loadable_model(tmp_path, tiny_bert_dir):
    from sentence_transformers import SentenceTransformer

    run_cli("train", make_config(tmp_path, tiny_bert_dir))
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    for name in ("config.yaml", "plan.json", "run.json", "metrics.json", "metrics.csv", "logs/train_log.jsonl"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["primary_metric"] == "spearman" and metrics["task"] == "embedding"
    assert metrics["greater_is_better"] is True and metrics["data_shape"] == "scored_pairs"
    assert list(metrics["base"]["by_dimension"]) == list(metrics["tuned"]["by_dimension"]) == ["32", "16", "8"]
    assert metrics["base"]["overall"]["n"] == 24 and metrics["base"]["overall"]["dim"] == 32
    assert metrics["tuned"]["overall"]["spearman"] == metrics["tuned"]["by_dimension"]["32"]["spearman"]
    assert metrics["tuned"]["overall"]["spearman"] != metrics["base"]["overall"]["spearman"]  # the weights moved
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [(row["model"], row["dim"]) for row in rows][:3] == [("base", "32"), ("base", "16"), ("base", "8")]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "done" and record["data"]["train_records"] == 48
    dropped = record["data"]["validation"]["dropped"]
    assert dropped["self_pair"] > 0  # pairs that kept all six words are the same sentence twice
    assert record["data"]["valid_used"] == 5  # 10% of the 48 pairs, for the best epoch and early stopping
    assert record["training"]["stages"][0]["rows"] == {"cosent": 48 - 5 - sum(dropped.values())}
    model = SentenceTransformer(str(run / "model"), local_files_only=True)
    assert model.encode(["a cat sits on the mat"]).shape == (1, 32)
    assert set(metrics["int8_export"]) == {
        "file",
        "fp32_texts_per_s",
        "int8_texts_per_s",
        "speedup",
        "metric",
        "change",
        "timed_texts",
    }
    assert metrics["int8_export"]["change"] == round(
        metrics["int8"]["overall"]["spearman"] - metrics["tuned"]["overall"]["spearman"], 4
    )
    assert metrics["int8_export"]["file"] == INT8_FILE and (run / "model-int8" / INT8_FILE).is_file()
    assert not list((run / "model-int8").glob("*.safetensors"))  # ONNX only: the torch weights are in model/
    int8 = load_int8(run / "model-int8")  # SentenceTransformer(..., backend="onnx"), the file run in onnxruntime
    texts = ["a cat sits on the mat", "a dog runs"]
    assert np.allclose(int8.encode(texts), model.encode(texts), atol=0.1)  # int8 weights: close, not equal
    assert int8.get_backend() == "onnx" and int8[0].auto_model.path.name == INT8_FILE.split("/")[-1]
    assert len((run / "data" / "test.jsonl").read_text().splitlines()) == 24

    output = run_cli("eval", run)
    [evaluation] = list((run / "evals").iterdir())
    rescored = json.loads((evaluation / "metrics.json").read_text())
    assert abs(rescored["tuned"]["overall"]["spearman"] - metrics["tuned"]["overall"]["spearman"]) < 1e-4
    assert "spearman" in output

    run_cli("report", run)  # the report reads the same metrics.json contract as a Q&A run's
    report = (run / "report.md").read_text()
    assert "## By embedding dimension (Matryoshka)" in report and "| metric | base | tuned | int8 |" in report
    assert (run / "report" / "by_dimension.png").is_file() and (run / "report.html").is_file()


def test_lora_run_saves_the_adapter_and_a_merged_model(tmp_path, tiny_bert_dir):
    run_cli("train", make_config(tmp_path, tiny_bert_dir, method="lora"))
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    assert (run / "adapter" / "adapter_config.json").is_file()
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert not list((run / "model").glob("adapter_*"))


def write_tickets(path, n_per_topic=10, seed=0):
    import random

    rng = random.Random(seed)
    topics = {
        "hardware": "printer screen laptop battery keyboard mouse".split(),
        "access": "password login account vpn token reset".split(),
        "purchase": "order invoice licence quote vendor budget".split(),
    }
    filler = "please help urgent today again user team".split()
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Document", "Topic_group"])
        for topic, words in topics.items():
            for _ in range(n_per_topic):
                writer.writerow([" ".join(rng.sample(words, 3) + rng.sample(filler, 3)), topic])


def tickets_config(tmp_path, model_dir, **embedding):
    write_tickets(tmp_path / "tickets.csv")
    config = {
        "name": "tiny-tickets",
        "task": "embedding",
        "model": {"name": str(model_dir)},
        "data": {"train": "tickets.csv", "test_fraction": 0.3},
        "training": {"epochs": 1, "batch_size": 8, "learning_rate": 1e-3},
        "embedding": {"columns": {"label": "Topic_group"}, "retrieval_k": [1, 3], **embedding},
        "output": {"runs_dir": str(tmp_path / "runs"), "logging_steps": 1},
    }
    path = tmp_path / "tickets.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_class_labelled_texts_train_and_score_as_retrieval(tmp_path, tiny_bert_dir):
    run_cli("train", tickets_config(tmp_path, tiny_bert_dir, hard_negatives=True))
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["primary_metric"] == "ndcg@10" and metrics["data_shape"] == "classes"
    for label in ("base", "tuned"):
        scores = metrics[label]["overall"]
        assert scores["n"] == 9 and scores == {**metrics[label]["by_dimension"]["32"], "dim": 32}
        assert {"ndcg@10", "mrr@10", "recall@1", "recall@3", "pairs_roc_auc"} <= set(scores)
    stage = json.loads((run / "run.json").read_text())["training"]["stages"][0]
    # 21 training texts less 3 carved out (one per topic) for validation: a positive and a negative per text
    assert stage["rows"]["cosent"] == 18 * 2 and stage["rows"]["mnrl"] == 18


def test_dense_negatives_in_two_rounds_train_two_stages_on_triplets(tmp_path, tiny_bert_dir):
    run_cli("train", tickets_config(tmp_path, tiny_bert_dir, hard_negatives="dense", negative_rounds=2))
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    record = json.loads((run / "run.json").read_text())
    stages = record["training"]["stages"]
    assert [s["stage"] for s in stages] == ["round-1", "round-2"]
    assert all(s["rows"] == {"cosent": 36, "mnrl": 18} for s in stages)
    logged = [json.loads(line) for line in (run / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert {line["stage"] for line in logged} == {"round-1", "round-2"}


def test_simcse_first_then_supervised_and_simcse_alone(tmp_path, tiny_bert_dir):
    run_cli("train", tickets_config(tmp_path, tiny_bert_dir, simcse="first"))
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    stages = json.loads((run / "run.json").read_text())["training"]["stages"]
    assert [s["stage"] for s in stages] == ["simcse", "train"] and stages[0]["rows"] == {"mnrl": 18}
    logged = [json.loads(line) for line in (run / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert {line["stage"] for line in logged} == {"simcse", "train"}
    assert any("eval_ndcg@10" in line for line in logged if line["stage"] == "train")  # validated every epoch

    (tmp_path / "runs").rename(tmp_path / "first")
    run_cli("train", tickets_config(tmp_path, tiny_bert_dir, simcse="only"))
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    record = json.loads((run / "run.json").read_text())
    assert [s["stage"] for s in record["training"]["stages"]] == ["train"]
    assert record["training"]["stages"][0]["rows"] == {"mnrl": 18} and record["data"]["simcse_texts"] == 18
    assert json.loads((run / "metrics.json").read_text())["tuned"]["overall"]["n"] == 9  # scored with the labels


def test_curriculum_trains_the_easier_half_then_every_pair(tmp_path, tiny_bert_dir):
    run_cli("train", make_config(tmp_path, tiny_bert_dir, curriculum=True, export_int8=False))
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    record = json.loads((run / "run.json").read_text())
    stages = record["training"]["stages"]
    kept = record["data"]["train_used"]
    assert [s["stage"] for s in stages] == ["curriculum-1", "curriculum-2"]
    assert [s["rows"]["cosent"] for s in stages] == [round(kept / 2), kept]
    assert "int8" not in json.loads((run / "metrics.json").read_text()) and not (run / "model-int8").exists()


def test_a_lora_run_in_two_stages_stopped_in_the_first_resumes_to_the_straight_weights(tmp_path, tiny_bert_dir):
    """SimCSE then supervised, LoRA: killed after SimCSE's first checkpoint, resumed, the best epoch kept."""
    from safetensors.torch import load_file

    from tunesmith.pipeline import resume_run

    settings = {"method": "lora", "simcse": "first", "simcse_epochs": 2}
    straight, stopped = straight_and_stopped(tmp_path, tiny_bert_dir, settings, "simcse")
    resumed = resume_run(stopped).path
    assert "/simcse/checkpoint-" in json.loads((resumed / "run.json").read_text())["resumed_from"]
    record = json.loads((straight / "run.json").read_text())["training"]
    assert [stage["stage"] for stage in record["stages"]] == ["simcse", "train"]
    assert record["best_checkpoint"].startswith("checkpoint-")  # the best epoch's adapter loaded back
    for name in ("adapter/adapter_model.safetensors", "model/model.safetensors"):
        expected, actual = load_file(straight / name), load_file(resumed / name)
        assert all(torch.equal(expected[key], actual[key]) for key in expected), name


def test_an_ensemble_trains_each_member_scores_them_and_distils_them_into_the_run_model(tmp_path, tiny_bert_dir):
    from tunesmith.tasks.embedding import EnsembleEncoder, load_sentence_model, unit_embeddings

    run_cli("train", make_config(tmp_path, tiny_bert_dir, ensemble_members=2, export_int8=False))
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    record = json.loads((run / "run.json").read_text())
    assert [s["stage"] for s in record["training"]["stages"]] == ["train", "member-2-train", "distill"]
    metrics = json.loads((run / "metrics.json").read_text())
    for label in ("base", "member-1", "member-2", "ensemble", "tuned"):
        assert list(metrics[label]["by_dimension"]) == ["32", "16", "8"], label
    report = (run / "report.md").read_text()
    assert all(label in report for label in ("member-1", "member-2", "ensemble")), report
    run_cli("eval", run)  # a finished run finds its members again
    [evaluation] = list((run / "evals").iterdir())
    rescored = json.loads((evaluation / "metrics.json").read_text())
    for label in ("member-1", "member-2", "ensemble", "tuned"):
        assert rescored[label]["overall"]["spearman"] == pytest.approx(metrics[label]["overall"]["spearman"], abs=1e-4)
    plan = json.loads((run / "plan.json").read_text())
    assert plan["choices"]["ensemble_members"]["value"] == 2 and plan["choices"]["distill_epochs"]["value"] == 1.0

    members = [load_sentence_model(run / "members" / f"member-{n}") for n in (1, 2)]
    student = load_sentence_model(run / "model")
    train_texts = sorted({text for _, *pair in scored_pair_rows(48, seed=1) for text in pair})
    first, second = (unit_embeddings(member, train_texts) for member in members)
    assert not np.allclose(first, second, atol=1e-3)  # two seeds, two models
    teacher = EnsembleEncoder([run / "members" / "member-1", run / "members" / "member-2"], None, "cpu", False)
    target = teacher.encode(train_texts)
    np.testing.assert_allclose(target, (first + second) / 2, atol=1e-5)

    def agreement(embeddings):  # mean cosine with the teacher's embedding of the same text (members: equal)
        unit = target / np.linalg.norm(target, axis=1, keepdims=True)
        return float(np.mean(np.sum(embeddings * unit, axis=1)))

    # the run's model started as member 1; distilled, it is closer to the members' mean (measured: the gap to it
    # shrinks from 0.0030 to 0.0018)
    assert 1 - agreement(unit_embeddings(student, train_texts)) < 0.8 * (1 - agreement(first))


def test_an_ensemble_killed_in_its_second_member_resumes_to_the_straight_run(tmp_path, tiny_bert_dir):
    """Killed at member 2's first checkpoint: the resumed run keeps member 1 as saved, resumes member 2 from its
    checkpoint, distils, and ends at the straight run's weights (members and distilled model)."""
    from safetensors.torch import load_file

    from tunesmith.pipeline import resume_run

    # bit for bit in fp32; with bf16 autocast the distilled weights differ by ~2e-3
    straight, stopped = straight_and_stopped(tmp_path, tiny_bert_dir, {"ensemble_members": 2}, "member-2", bf16=False)
    member_one = (stopped / "members" / "member-1" / "model.safetensors").read_bytes()
    resumed = resume_run(stopped).path
    assert "/member-2-train/checkpoint-" in json.loads((resumed / "run.json").read_text())["resumed_from"]
    assert (resumed / "members" / "member-1" / "model.safetensors").read_bytes() == member_one
    stages = json.loads((resumed / "run.json").read_text())["training"]["stages"]
    assert [stage["stage"] for stage in stages] == ["train", "member-2-train", "distill"]
    for name in ("members/member-1", "members/member-2", "model"):
        expected = load_file(straight / name / "model.safetensors")
        actual = load_file(resumed / name / "model.safetensors")
        assert all(torch.equal(expected[key], actual[key]) for key in expected), name


def straight_and_stopped(tmp_path, model_dir, embedding: dict, stage: str, **training):
    """The conformance config with ``embedding`` (and ``training``) settings, trained straight, then again killed
    at the first checkpoint of the stage whose folder name holds ``stage``: the two run folders."""
    from tests.conformance.test_tasks import Killed, write_config
    from tunesmith.config import load_config
    from tunesmith.pipeline import train_run
    from tunesmith.training.callbacks import ProgressCallback

    path = write_config(tmp_path / "data", "embedding", model_dir, tmp_path / "runs")
    raw = yaml.safe_load(path.read_text())
    raw["embedding"] |= embedding
    raw["training"] |= training
    path.write_text(yaml.safe_dump(raw))
    straight = train_run(load_config(path)).path

    def kill(self, args, state, control, **kwargs):
        if stage in Path(args.output_dir).name:
            raise Killed("stopped")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ProgressCallback, "on_save", kill, raising=False)
        with pytest.raises(Killed):
            train_run(load_config(path))
    [stopped] = [p.parent for p in (tmp_path / "runs").glob("*/run.json") if p.parent != straight]
    return straight, stopped

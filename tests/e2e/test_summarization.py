"""task: summarization on both model families (a tiny T5 and a tiny Llama), and the SAMSum CSV through a config."""

import csv
import json
from pathlib import Path

import pytest
import yaml

from tunesmith.config import load_config
from tunesmith.data import load_splits
from tunesmith.pipeline import train_run
from tunesmith.tasks import get_task
from tunesmith.tasks.generative import encode_for

SAMSUM = Path(__file__).resolve().parents[3] / "shared" / "data" / "samsum" / "samsum_val.csv"
NAMES = ["Anna", "Ben", "Carla", "Dev", "Eli", "Fay"]
PLACES = ["the cafe", "the library", "the station", "the park", "the gym", "the office"]


def dialogues(count: int, offset: int = 0) -> list[dict]:
    rows = []
    for i in range(offset, offset + count):
        a, b, place = NAMES[i % 6], NAMES[(i + 1) % 6], PLACES[i % 6]
        dialogue = f"{a}: are you coming to {place}?\n{b}: yes, at {i % 12 + 1} pm\n{a}: great, see you"
        rows.append(
            {"id": str(i), "summary": f"{b} will meet {a} at {place} at {i % 12 + 1} pm.", "dialogue": dialogue}
        )
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "summary", "dialogue"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def summarization_config(tmp_path: Path, model_dir: Path) -> Path:
    write_csv(tmp_path / "train.csv", dialogues(24))
    write_csv(tmp_path / "test.csv", dialogues(4, offset=30))
    config = {
        "name": "summaries",
        "task": "summarization",
        "model": {"name": str(model_dir)},
        "data": {"train": "train.csv", "test": "test.csv", "valid_fraction": 0.0},
        "training": {"epochs": 15, "batch_size": 8, "grad_accum": 1, "learning_rate": 1e-2, "bf16": False},
        "evaluation": {"max_new_tokens": 12},
        "output": {"runs_dir": str(tmp_path / "runs"), "logging_steps": 1, "save_checkpoints": False},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    return tmp_path / "run.yaml"


@pytest.mark.parametrize("family", ["tiny_t5_dir", "tiny_model_dir"])
def test_summarization_run_learns_and_is_scored_with_rouge(tmp_path, family, request):
    run = train_run(load_config(summarization_config(tmp_path, request.getfixturevalue(family))))
    log = [json.loads(line) for line in (run.path / "logs" / "train_log.jsonl").read_text().splitlines()]
    losses = [row["loss"] for row in log if "loss" in row]
    assert losses[-1] < losses[0] * 0.7
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert metrics["primary_metric"] == "rouge_l"
    tuned = metrics["tuned"]["overall"]
    assert {"rouge_1", "rouge_2", "rouge_l", "rouge_lsum", "length_ratio"} <= set(tuned) and tuned["n"] == 4
    assert tuned["rouge_1"] > metrics["base"]["overall"]["rouge_1"]
    plan = json.loads((run.path / "plan.json").read_text())["choices"]
    assert plan["generation_mode"]["value"] == "quality" and plan["num_beams"]["value"] == 4
    assert "fast (greedy)" in plan["generation_mode"]["reason"]
    assert plan["no_repeat_ngram_size"]["value"] == 3


def test_a_decoder_learns_the_summary_only(tmp_path, tiny_model_dir):
    config = load_config(summarization_config(tmp_path, tiny_model_dir))
    splits = load_splits(config.data)
    plan = {"lora_r": 4, "lora_alpha": 8, "target_modules": "all-linear"}
    bundle = get_task("summarization").build(config, plan, tiny_model_dir)
    [row] = encode_for(bundle, splits.train[:1], 256, 32)
    labelled = [token for token in row["labels"] if token != -100]
    assert bundle.tokenizer.decode(labelled).strip() == splits.train[0].answer + "<|im_end|>"
    assert splits.train[0].messages[0]["content"].startswith("Summarize this dialogue:\n\nAnna:")


def test_an_encoder_decoder_reads_the_text_and_targets_the_summary(tmp_path, tiny_t5_dir):
    config = load_config(summarization_config(tmp_path, tiny_t5_dir))
    example = load_splits(config.data).train[0]
    plan = {"lora_r": 4, "lora_alpha": 8, "target_modules": "all-linear"}
    bundle = get_task("summarization").build(config, plan, tiny_t5_dir)
    assert bundle.model.config.is_encoder_decoder
    [row] = encode_for(bundle, [example], 256, 32)
    assert bundle.tokenizer.decode(row["labels"], skip_special_tokens=True) == example.answer
    assert bundle.tokenizer.decode(row["input_ids"], skip_special_tokens=True).startswith("Summarize this dialogue:")


@pytest.mark.skipif(not SAMSUM.is_file(), reason="../shared/data/samsum is not here (a user's clone has none)")
def test_samsum_csv_loads_through_a_config(tmp_path):
    (tmp_path / "run.yaml").write_text(
        yaml.safe_dump(
            {"task": "summarization", "data": {"train": str(SAMSUM), "valid_fraction": 0.0, "test_fraction": 0.0}}
        )
    )
    splits = load_splits(load_config(tmp_path / "run.yaml").data)
    assert len(splits.train) == 818
    assert all(example.messages[0]["content"].startswith("Summarize this dialogue:") for example in splits.train)
    assert any("\n" in example.messages[0]["content"].split("\n\n", 1)[1] for example in splits.train)


def test_the_decoding_chosen_on_validation_is_the_one_eval_scores_with(tmp_path, tiny_model_dir):
    from tunesmith.pipeline import evaluate_run

    config_file = summarization_config(tmp_path, tiny_model_dir)
    raw = yaml.safe_load(config_file.read_text())
    raw["data"]["valid"] = str(write_csv(tmp_path / "valid.csv", dialogues(8, offset=40)))
    raw["training"]["epochs"] = 4
    config_file.write_text(yaml.safe_dump(raw))
    run = train_run(load_config(config_file))

    search = json.loads((run.path / "run.json").read_text())["decoding_search"]
    scores = {row["label"]: row["score"] for row in search["candidates"]}
    assert list(scores) == ["greedy", "greedy, 3-gram guard", "beam 4", "beam 4, 3-gram guard"]
    assert search["examples"] == 8 and search["baseline"] == "greedy"
    confident = [
        row for row in search["candidates"] if row["label"] == "greedy" or row["confidence"] >= 0.95
    ]  # greedy unless another decoding beat it in 95% of resamples; then the best of those
    chosen = next(row for row in search["candidates"] if row["label"] == search["chosen"])
    assert chosen in confident and chosen["score"] == max(row["score"] for row in confident)
    plan = json.loads((run.path / "plan.json").read_text())["choices"]
    assert plan["num_beams"]["value"] == chosen["num_beams"]
    assert plan["no_repeat_ngram_size"]["value"] == chosen["no_repeat_ngram_size"]
    assert plan["choose_decoding"]["reason"] == search["summary"]
    assert "Decoding, chosen on the validation split" in (run.path / "report.md").read_text()

    scored = json.loads((run.path / "metrics.json").read_text())["tuned"]["overall"]
    again = json.loads((evaluate_run(run.path) / "metrics.json").read_text())["tuned"]["overall"]
    assert again["rouge_l"] == scored["rouge_l"] and again["length_ratio"] == scored["length_ratio"]


def test_a_second_run_on_the_same_split_reuses_the_base_models_answers(tmp_path, tiny_model_dir):
    config_file = summarization_config(tmp_path, tiny_model_dir)
    raw = yaml.safe_load(config_file.read_text())
    raw["training"]["epochs"] = 2
    config_file.write_text(yaml.safe_dump(raw))
    first = train_run(load_config(config_file))
    raw["training"]["learning_rate"] = 5e-3  # another adapter, the same base and test split
    config_file.write_text(yaml.safe_dump(raw))
    second = train_run(load_config(config_file))

    metrics = [json.loads((run.path / "metrics.json").read_text()) for run in (first, second)]
    assert "base_cache" not in metrics[0] and metrics[1]["base_cache"]["reused"] is True
    assert metrics[1]["base"]["overall"] == metrics[0]["base"]["overall"]
    assert metrics[1]["tuned"]["overall"] != metrics[0]["tuned"]["overall"]
    assert "The base model's answers were reused" in (second.path / "report.md").read_text()

"""Settings that do not apply to the config's task are errors naming the key and the task, never ignored."""

import pytest
import yaml

from tunesmith.config import config_from_dict, dump_config
from tunesmith.config.schema import NOT_FOR_TASK, TASKS, USE_INSTEAD, RunConfig
from tunesmith.errors import ConfigError


def raw_config(task: str, key: str | None = None, value=None) -> dict:
    raw = {"task": task, "data": {"train": "t.csv"}}
    if key:
        *sections, name = key.split(".")
        section = raw
        for part in sections:
            section = section.setdefault(part, {})
        section[name] = value
    return raw


def rejection(raw: dict) -> str:
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, "run.yaml")
    return str(err.value)


def test_an_embedding_section_on_a_generative_run_names_the_key_and_the_task():
    for task in ("causal_lm", "summarization"):
        message = rejection(raw_config(task, "embedding", {"loss": "cosent"}))
        expected = f"embedding: does not apply to task '{task}' (only to: embedding)"
        assert message == f"run.yaml: invalid config\n  {expected}"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("training.packing", True),
        ("training.curriculum", "difficulty"),
        ("training.curriculum_phases", 2),
        ("evaluation.max_new_tokens", 64),
        ("evaluation.mode", "quality"),
        ("evaluation.num_beams", 4),
        ("evaluation.length_penalty", 2.0),
        ("evaluation.no_repeat_ngram_size", 3),
        ("model.system_prompt", "You are helpful."),
        ("data.format", "qa"),
        ("data.instruction", "Summarize:"),
        ("data.prompt_field", "question"),
        ("data.answer_field", "answer"),
        ("data.category_field", "topic"),
        ("data.difficulty_field", "level"),
        ("continual.parent_kl_weight", 1.0),
    ],
)
def test_generative_settings_on_an_embedding_run_name_the_key_and_the_task(key, value):
    message = rejection(raw_config("embedding", key, value))
    assert message.startswith(f"run.yaml: invalid config\n  {key}: does not apply to task 'embedding'")
    assert "(only to: causal_lm, summarization)" in message


def test_settings_with_an_embedding_counterpart_point_at_it():
    message = rejection(raw_config("embedding", "training.max_length", 256))
    assert "training.max_length: does not apply to task 'embedding'" in message
    assert message.endswith("; set embedding.max_seq_length instead")
    for key, instead in USE_INSTEAD["embedding"].items():
        assert f"set {instead} instead" in rejection(raw_config("embedding", key, 1))


def test_the_error_reads_cleanly_and_lists_every_key_at_once():
    raw = raw_config("embedding", "training.packing", True)
    raw["evaluation"] = {"num_beams": 4, "compare_base": False}
    message = rejection(raw)
    lines = message.splitlines()
    assert lines[0] == "run.yaml: invalid config"
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["training.packing", "evaluation.num_beams"]
    for noise in ("Value error", "(top level)", "(got ", "pydantic"):
        assert noise not in message


def test_a_value_equal_to_the_default_is_still_a_setting_that_does_not_apply():
    assert "training.packing" in rejection(raw_config("embedding", "training.packing", False))
    assert "embedding:" in rejection(raw_config("causal_lm", "embedding", {}))


@pytest.mark.parametrize("task", sorted(NOT_FOR_TASK))
def test_every_entry_of_the_table_is_rejected_for_its_task(task):
    for key in NOT_FOR_TASK[task]:
        message = rejection(raw_config(task, key, {} if key == "embedding" else 1))
        assert f"  {key}: does not apply to task '{task}'" in message


def test_the_table_names_real_settings_and_known_tasks():
    assert set(NOT_FOR_TASK) <= set(TASKS) == set(RunConfig.model_fields["task"].annotation.__args__)
    for keys in NOT_FOR_TASK.values():
        for key in keys:
            model = RunConfig
            *sections, name = key.split(".")
            for section in sections:
                model = model.model_fields[section].annotation
            assert name in model.model_fields, key
    for task, moved in USE_INSTEAD.items():
        assert set(moved) <= set(NOT_FOR_TASK[task])


@pytest.mark.parametrize("task", TASKS)
def test_defaults_never_trigger_it(task):
    config = config_from_dict(raw_config(task))
    assert config.embedding.loss == "auto" and config.training.packing is False  # the attributes keep working
    assert config.evaluation.num_beams is None and config.model.system_prompt is None
    config.continue_from = "earlier"  # assignment re-validates the model: the defaults still do not count
    config.name = "renamed"
    assert config.name == "renamed"


@pytest.mark.parametrize("task", TASKS)
def test_a_saved_config_reads_back_the_same(task):
    config = config_from_dict(raw_config(task))
    saved = yaml.safe_load(dump_config(config))
    for key in NOT_FOR_TASK[task]:  # written out: every default, except what does not apply
        *sections, name = key.split(".")
        assert name not in saved if not sections else name not in saved[sections[0]], key
    assert config_from_dict(saved) == config


def test_a_config_saved_with_every_section_reads_back_as_a_saved_config():
    config = config_from_dict(raw_config("embedding"))
    everything = config.model_dump(mode="json")  # what older versions wrote to a run's config.yaml
    with pytest.raises(ConfigError, match="does not apply"):
        config_from_dict(everything)
    assert config_from_dict(everything, saved=True) == config
    assert "training" in everything and "packing" in everything["training"]  # the input is left as it was


def test_generative_runs_keep_their_settings():
    for task in ("causal_lm", "summarization"):
        config = config_from_dict(
            {
                "task": task,
                "model": {"system_prompt": "Be brief."},
                "data": {"train": "t.csv", "format": "summary", "prompt_field": "dialogue"},
                "training": {"packing": True, "curriculum": "length", "max_length": 512, "grad_accum": 2},
                "evaluation": {"mode": "quality", "num_beams": 4, "max_new_tokens": 64, "batch_size": 8},
                "continual": {"replay_ratio": 0.5, "parent_kl_weight": 1.0},
            }
        )
        assert config.training.packing and config.evaluation.num_beams == 4


def test_an_embedding_run_keeps_what_it_reads_and_what_will_be_wired():
    config = config_from_dict(
        {
            "task": "embedding",
            "continue_from": "earlier-run",
            "data": {"train": "t.csv", "valid": "v.csv", "valid_fraction": 0.1, "test_fraction": 0.2},
            "lora": {"r": 8, "alpha": 16, "dropout": 0.1, "target_modules": "all-linear"},
            "training": {
                "epochs": 2,
                "batch_size": 16,
                "learning_rate": 5e-5,
                "max_steps": 100,
                "seed": 1,
                "weight_decay": 0.01,
                "max_grad_norm": 0.5,
                "bf16": False,
                "time_budget_minutes": 10,
                "early_stopping_patience": 2,
                "keep_best": True,
            },
            "schedule": {"type": "linear", "warmup_ratio": 0.1, "plateau": {"patience": 2}},
            "evaluation": {"compare_base": False, "max_examples": 50},
            "continual": {"evaluate_earlier": False, "replay_ratio": 0.5},
            "output": {"runs_dir": "runs", "logging_steps": 1, "tensorboard": False},
            "embedding": {"max_seq_length": 128, "curriculum": True, "eval_batch_size": 32},
        }
    )
    assert config.schedule.plateau.patience == 2 and config.training.early_stopping_patience == 2
    assert config.continue_from == "earlier-run" and config.embedding.max_seq_length == 128

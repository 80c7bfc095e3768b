from pathlib import Path

import pytest

from tunesmith.config import config_from_dict, load_config
from tunesmith.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_data_paths_are_relative_to_the_file_and_runs_to_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    monkeypatch.chdir(tmp_path)
    config = load_config(write(tmp_path / "configs", "data:\n  train: data/train.jsonl\n"))
    assert config.data.train == (tmp_path / "configs" / "data" / "train.jsonl").resolve()
    assert config.output.runs_dir == (tmp_path / "runs").resolve()
    assert config.model.name == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert config.lora.r is None and config.training.epochs is None  # left to the plan


def test_json_config_is_accepted(tmp_path):
    config = load_config(write(tmp_path, '{"name": "x", "data": {"train": "t.csv"}, "lora": {"r": 4}}', "run.json"))
    assert config.lora.r == 4 and config.name == "x"


def test_unknown_key_is_named_with_the_file(tmp_path):
    path = write(tmp_path, "data:\n  train: t.jsonl\ntraining:\n  epochz: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert "training.epochz: unknown key" in str(err.value)


@pytest.mark.parametrize(
    "section, expected",
    [
        ("lora:\n  r: many\n", "lora.r"),
        ("lora:\n  r: 0\n", "lora.r"),
        ("training:\n  learning_rate: -1\n", "training.learning_rate"),
        ("schedule:\n  type: triangle\n", "schedule.type"),
        ("evaluation:\n  batch_size: 0\n", "evaluation.batch_size"),
    ],
)
def test_wrong_types_and_impossible_values_name_the_key(tmp_path, section, expected):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "data:\n  train: t.jsonl\n" + section))
    assert expected in str(err.value)


def test_missing_data_section_is_reported():
    with pytest.raises(ConfigError, match="data: Field required"):
        config_from_dict({"name": "x"})


def test_split_fractions_that_leave_no_training_data_are_rejected():
    with pytest.raises(ConfigError, match="leaves almost nothing"):
        config_from_dict({"data": {"train": "t.jsonl", "valid_fraction": 0.5, "test_fraction": 0.45}})


def test_malformed_yaml_and_missing_file_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "data: [unclosed\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def run_configs(folder: Path) -> list[Path]:
    """Every YAML under ``folder`` that is a run config (has a data section): accelerate's configs are not."""
    import yaml

    found = [path for path in sorted(folder.rglob("*.y*ml")) if path.suffix in (".yaml", ".yml")]
    return [path for path in found if "data" in (yaml.safe_load(path.read_text()) or {})]


def test_the_examples_hold_run_configs_of_every_task():
    tasks = {load_config(path).task for path in run_configs(EXAMPLES)}
    assert tasks == {"causal_lm", "summarization", "embedding"}


@pytest.mark.parametrize("path", run_configs(EXAMPLES), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_shipped_example_config_parses(path):
    config = load_config(path)
    assert config.data.train.is_absolute()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"lora": {"use_pissa": True, "use_dora": True}}, "use_pissa and use_dora cannot be combined"),
        (
            {"lora": {"use_pissa": True}, "continue_from": "earlier", "continual": {"parent_kl_weight": 0.1}},
            "lora.use_pissa cannot be combined with continual.parent_kl_weight",
        ),
    ],
)
def test_pissa_is_refused_where_it_cannot_work(extra, expected):
    with pytest.raises(ConfigError, match=expected):
        config_from_dict({"data": {"train": "t.jsonl"}, **extra})
    config_from_dict({"data": {"train": "t.jsonl"}, "lora": {"use_pissa": True}, "continue_from": "earlier"})

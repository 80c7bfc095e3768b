"""The plateau layer in a real (tiny) training run: the logged learning rate drops after a stalled evaluation."""

import pytest

from tests.training.helpers import fact_examples, log_lines, train_tiny


def test_the_trainers_rate_halves_after_an_evaluation_without_improvement(tiny_model_dir, tmp_path):
    _, run, _ = train_tiny(
        tiny_model_dir,
        tmp_path,
        fact_examples(repeat=2),
        fact_examples(),
        lora={"r": 8, "alpha": 16},
        training={"epochs": 3, "batch_size": 4, "grad_accum": 1, "learning_rate": 1e-2, "bf16": False},
        # threshold 0.9: only a 90% drop of the validation loss counts as progress, so every evaluation stalls
        schedule={"type": "constant", "warmup_ratio": 0.0, "plateau": {"patience": 1, "threshold": 0.9}},
        output={"logging_steps": 1, "save_checkpoints": False},
    )
    rates = {line["step"]: line["learning_rate"] for line in log_lines(run) if "learning_rate" in line}
    assert rates[1] == rates[2] == rates[4] == pytest.approx(1e-2)  # epoch 2: the first evaluation sets the best
    assert rates[5] == rates[6] == pytest.approx(5e-3)  # epoch 3: after the second evaluation, halved
    assert list((run.logs_dir / "tensorboard").glob("events.out.tfevents.*"))  # TensorBoard logs by default


def test_wandb_asked_for_but_not_installed_is_a_config_error(tmp_path, monkeypatch):
    import importlib.util

    from tunesmith.config import config_from_dict
    from tunesmith.errors import ConfigError
    from tunesmith.training.callbacks import logging_callbacks

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "wandb" else real_find_spec(name))
    output = config_from_dict({"data": {"train": "t.jsonl"}, "output": {"wandb": True}}).output
    with pytest.raises(ConfigError, match="wandb is not installed"):
        logging_callbacks(output, tmp_path)
    assert [type(c).__name__ for c in logging_callbacks(output.model_copy(update={"wandb": False}), tmp_path)] == [
        "TensorBoardCallback"
    ]

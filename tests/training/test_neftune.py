"""training.neftune_alpha: noisy input embeddings in the training steps only, through transformers' own hook."""

import pytest
import torch

from tests.training.helpers import fact_examples, train_tiny
from tunesmith.config import config_from_dict
from tunesmith.errors import ConfigError

SETTINGS = {"epochs": 3, "batch_size": 4, "grad_accum": 1, "learning_rate": 3e-2, "bf16": False}


def trained_weights(tiny_model_dir, runs_dir, **training):
    bundle, _, result = train_tiny(
        tiny_model_dir,
        runs_dir,
        fact_examples(repeat=2),
        fact_examples(),
        training={**SETTINGS, **training},
        output={"save_checkpoints": False},
    )
    weights = {name: tensor.detach().clone() for name, tensor in bundle.model.named_parameters() if "lora_" in name}
    return bundle, weights, result


def test_noise_changes_training_and_leaves_no_hook(tiny_model_dir, tmp_path):
    _, plain, plain_result = trained_weights(tiny_model_dir, tmp_path / "plain")
    bundle, noisy, noisy_result = trained_weights(tiny_model_dir, tmp_path / "noisy", neftune_alpha=5.0)
    assert plain.keys() == noisy.keys()
    # the same seed and data: only the noise tells the two runs apart
    assert any(not torch.equal(plain[name], noisy[name]) for name in plain)
    assert noisy_result.final_loss != plain_result.final_loss

    embeddings = bundle.model.get_input_embeddings()
    assert not embeddings._forward_hooks  # removed when training ends: scoring and export see clean embeddings
    ids = torch.tensor([[1, 2, 3, 4]])
    embeddings.train()
    assert torch.equal(embeddings(ids), embeddings(ids))


def test_must_be_positive():
    with pytest.raises(ConfigError, match="neftune_alpha"):
        config_from_dict({"data": {"train": "t.jsonl"}, "training": {"neftune_alpha": 0}})

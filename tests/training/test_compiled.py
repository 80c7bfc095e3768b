"""training.compile: each decoder layer compiled in place for the training steps, eager again afterwards."""

import pytest

from tests.training.helpers import fact_examples, log_lines, train_tiny
from tunesmith.errors import ConfigError
from tunesmith.models.load import add_lora, load_base_model
from tunesmith.training import compiled


def test_the_repeated_blocks_are_the_decoder_layers_not_the_lora_modules(tiny_model_dir):
    model = add_lora(load_base_model(tiny_model_dir), 4, 8, 0.0, "all-linear")
    blocks = compiled.repeated_blocks(model)
    assert blocks == list(model.get_base_model().model.layers)
    assert len(blocks) == 2


def test_no_cpp_compiler_is_a_config_error_before_training(monkeypatch, tiny_model_dir):
    monkeypatch.setattr("tunesmith.plan.hardware.shutil.which", lambda name: None)
    model = add_lora(load_base_model(tiny_model_dir), 4, 8, 0.0, "all-linear")
    with pytest.raises(ConfigError, match="training.compile.*C\\+\\+ compiler"):
        with compiled.compiled_blocks(model, enabled=True, on_cpu=True):
            pass
    assert all(block._compiled_call_impl is None for block in compiled.repeated_blocks(model))


def test_short_sequences_train_with_the_eager_attention_on_a_cpu_and_get_their_own_back_after(tiny_model_dir):
    import torch

    model = add_lora(load_base_model(tiny_model_dir), 4, 8, 0.0, "all-linear")
    config = model.get_base_model().config
    before = config._attn_implementation
    assert before == "sdpa"
    ids = torch.randint(0, config.vocab_size, (2, 12))
    with torch.no_grad():
        reference = model(input_ids=ids).logits
    with compiled.compiled_blocks(model, enabled=True, on_cpu=True, max_length=128):
        assert config._attn_implementation == "eager"
        with torch.no_grad(), torch.compiler.set_stance("force_eager"):
            assert torch.allclose(model(input_ids=ids).logits, reference, atol=1e-5)  # the same numbers (fp32)
    assert config._attn_implementation == before
    from tunesmith.plan.make import EAGER_ATTENTION_MAX_LENGTH

    longest = EAGER_ATTENTION_MAX_LENGTH + 16
    for on_cpu, max_length in ((True, longest), (False, 128), (True, None)):
        with compiled.compiled_blocks(model, enabled=True, on_cpu=on_cpu, max_length=max_length):
            assert config._attn_implementation == before  # long sequences, a GPU, or no length known: unchanged


def test_the_setting_is_refused_for_embeddings():
    from tunesmith.config import config_from_dict

    with pytest.raises(ConfigError, match="training.compile"):
        config_from_dict({"task": "embedding", "data": {"train": "x.jsonl"}, "training": {"compile": True}})


@pytest.mark.slow
def test_compiled_training_matches_eager_and_ends_eager(tmp_path, tiny_model_dir):
    examples = fact_examples(repeat=2)  # 4 steps an epoch, 2 epochs
    sections = {
        "training": {"max_steps": 8, "bf16": False, "batch_size": 2, "grad_accum": 1, "early_stopping_patience": None},
        "output": {"save_checkpoints": False, "logging_steps": 1},
    }
    _, eager_run, eager = train_tiny(tiny_model_dir, tmp_path / "eager", examples, fact_examples(), **sections)
    sections["training"]["compile"] = True
    bundle, run, result = train_tiny(tiny_model_dir, tmp_path / "compiled", examples, fact_examples(), **sections)
    assert result.steps == eager.steps == 8
    losses = [[line["loss"] for line in log_lines(r) if "loss" in line] for r in (run, eager_run)]
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-5)  # the first step alike (fp32); later ones drift
    assert result.final_loss == pytest.approx(eager.final_loss, rel=0.01)
    assert len(result.validation) == 2
    assert result.validation == pytest.approx(eager.validation, rel=0.01)  # evaluated (eager) after each epoch
    blocks = compiled.repeated_blocks(bundle.model)
    assert blocks and all(block._compiled_call_impl is None for block in blocks)
    assert bundle.model.get_base_model().config._attn_implementation == "sdpa"  # eager attention while training

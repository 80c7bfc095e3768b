"""A short real training run on a tiny Llama: loss falls, only LoRA weights move, the adapter round-trips."""

import json

import pytest
import torch

from tunesmith.config import config_from_dict
from tunesmith.data import Example
from tunesmith.models.chat import encode_examples
from tunesmith.models.load import build_causal, load_trained_model
from tunesmith.plan import DataProfile, Hardware, LengthStats, ModelInfo, make_plan
from tunesmith.runs import RunFolder
from tunesmith.training import train

FACTS = [
    ("When do you open?", "We open at 8 am."),
    ("Where are you?", "418 Linden Avenue."),
    ("What is your phone?", "(541) 555-0187."),
    ("Do you print banners?", "Yes, vinyl banners."),
]
CPU = Hardware(device="cpu", name="test", cores=2, memory_gb=8, bf16=False, matmul_gflops=100.0)


def examples() -> list[Example]:
    return [
        Example(messages=({"role": "user", "content": q}, {"role": "assistant", "content": a}), source=f"t:{i}")
        for i, (q, a) in enumerate(FACTS * 4)
    ]


@pytest.fixture(scope="module")
def trained(tiny_model_dir, tmp_path_factory):
    config = config_from_dict(
        {
            "data": {"train": "unused.jsonl"},
            "lora": {"r": 16, "alpha": 32, "dropout": 0.0},
            "training": {"epochs": 12, "batch_size": 4, "grad_accum": 1, "learning_rate": 3e-2, "bf16": False},
            "output": {"logging_steps": 1, "keep_checkpoints": 2},
        }
    )
    stats = LengthStats(30, 30, 30, 30, 30, 480)
    profile = DataProfile(16, 4, 0, 0, stats, stats, train_tokens=480)
    info = ModelInfo(n_params=40_000, hidden_size=48, n_layers=2, vocab_size=600, max_positions=256)
    plan = make_plan(profile, config, CPU, info)
    bundle = build_causal(tiny_model_dir, plan, 0.0, None)
    base_weight = bundle.model.get_base_model().model.layers[0].mlp.down_proj.base_layer.weight.detach().clone()
    lora_before = bundle.model.get_base_model().model.layers[0].mlp.down_proj.lora_B["default"].weight.detach().clone()
    run = RunFolder.create(tmp_path_factory.mktemp("runs"), "tiny")
    data = encode_examples(bundle.tokenizer, examples(), plan["max_length"], None)
    result = train(
        bundle, data, encode_examples(bundle.tokenizer, examples()[:4], 64, None), plan, config, run, use_cpu=True
    )
    return bundle, run, result, base_weight, lora_before


def test_training_loss_goes_down(trained):
    _, run, result, _, _ = trained
    losses = [
        json.loads(line)["loss"]
        for line in (run.logs_dir / "train_log.jsonl").read_text().splitlines()
        if '"loss"' in line
    ]
    assert len(losses) >= 8
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3
    assert result.validation[-1] < result.validation[0]
    assert result.steps == 48 and result.peak_memory_gb > 0
    lines = [json.loads(line) for line in (run.logs_dir / "train_log.jsonl").read_text().splitlines()]
    assert {line["phase"] for line in lines} == {"warmup", "decay"}


def test_only_lora_weights_move(trained):
    bundle, _, _, base_weight, lora_before = trained
    layer = bundle.model.get_base_model().model.layers[0].mlp.down_proj
    assert torch.equal(layer.base_layer.weight, base_weight)
    assert not torch.equal(layer.lora_B["default"].weight, lora_before)


def test_checkpoints_per_epoch_are_kept_up_to_the_limit(trained):
    _, run, result, _, _ = trained
    checkpoints = {path.name for path in run.checkpoints_dir.glob("checkpoint-*")}
    # the limit is 2: the newest, and the best one that keep_best returns to (the one before when it is the newest)
    assert "checkpoint-48" in checkpoints and result.best_checkpoint in checkpoints and len(checkpoints) == 2


def test_saved_adapter_reloads_to_the_same_outputs(trained, tiny_model_dir):
    bundle, run, _, _, _ = trained
    assert (run.adapter_dir / "adapter_config.json").is_file()
    reloaded = load_trained_model(tiny_model_dir, run.adapter_dir, None)
    inputs = bundle.tokenizer("When do you open?", return_tensors="pt")
    bundle.model.eval()
    reloaded.model.eval()
    with torch.no_grad():
        expected = bundle.model(**inputs).logits
        actual = reloaded.model(**inputs).logits
        with reloaded.model.disable_adapter():
            base = reloaded.model(**inputs).logits
    assert torch.allclose(expected, actual, atol=1e-5)
    assert not torch.allclose(base, actual, atol=1e-3)

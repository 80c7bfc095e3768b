"""Train the tiny Llama with a config's overrides: shared by the training tests."""

from __future__ import annotations

import json

from transformers import set_seed

from tunesmith.config import config_from_dict
from tunesmith.data import Example
from tunesmith.models.chat import encode_examples
from tunesmith.models.load import build_causal
from tunesmith.plan import DataProfile, Hardware, LengthStats, ModelInfo, make_plan
from tunesmith.runs import RunFolder
from tunesmith.training import train

CPU = Hardware(device="cpu", name="test", cores=2, memory_gb=8, bf16=False, matmul_gflops=100.0)
FACTS = [
    ("When do you open?", "We open at 8 am."),
    ("Where are you?", "418 Linden Avenue."),
    ("What is your phone?", "(541) 555-0187."),
    ("Do you print banners?", "Yes, vinyl banners."),
]


def fact_examples(pairs=FACTS, repeat: int = 1) -> list[Example]:
    return [
        Example(messages=({"role": "user", "content": q}, {"role": "assistant", "content": a}), source=f"t:{i}")
        for i, (q, a) in enumerate(list(pairs) * repeat)
    ]


def train_tiny(
    model_dir,
    runs_dir,
    train_examples,
    valid_examples,
    with_difficulty=False,
    scorer=None,
    lora_options=None,
    **sections,
):
    """Plan and train a LoRA adapter unless ``training`` says otherwise (``scorer``: a function of the bundle giving
    train()'s ValidationScorer; ``lora_options``: add_lora's further settings); returns (bundle, run folder,
    TrainResult)."""
    sections["training"] = {"method": "lora", **sections.get("training", {})}
    config = config_from_dict({"data": {"train": "unused.jsonl"}, **sections})
    stats = LengthStats(30, 30, 30, 30, 30, 480)
    profile = DataProfile(len(train_examples), len(valid_examples), 0, 0, stats, stats, train_tokens=480)
    info = ModelInfo(n_params=40_000, hidden_size=48, n_layers=2, vocab_size=600, max_positions=256)
    plan = make_plan(profile, config, CPU, info)
    set_seed(config.training.seed)  # the adapter's random start too, as the pipeline does: runs compare alike
    bundle = build_causal(model_dir, plan, 0.0, None, **(lora_options or {}))
    run = RunFolder.create(runs_dir, "tiny")
    encode = lambda examples: encode_examples(bundle.tokenizer, examples, plan["max_length"], None)  # noqa: E731
    train_data = encode_examples(bundle.tokenizer, train_examples, plan["max_length"], None, with_difficulty)
    chosen = scorer(bundle) if scorer else None
    result = train(bundle, train_data, encode(valid_examples), plan, config, run, use_cpu=True, scorer=chosen)
    return bundle, run, result


def log_lines(run) -> list[dict]:
    return [json.loads(line) for line in (run.logs_dir / "train_log.jsonl").read_text().splitlines()]

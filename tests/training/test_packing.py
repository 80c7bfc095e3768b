"""Packing: several examples in one row, positions restarting at 0, give each example the loss it has alone."""

import pytest
import torch

from tests.training.helpers import fact_examples, log_lines, train_tiny
from tunesmith.models.chat import encode_examples, training_collator
from tunesmith.models.heads import answer_only_loss
from tunesmith.models.load import load_base_model, load_tokenizer


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_a_packed_batch_gives_each_example_its_unpacked_logits_and_the_same_loss(tiny_model_dir, attention):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = load_base_model(tiny_model_dir)
    model.config._attn_implementation = attention
    # transformers builds the block-diagonal mask from restarting position ids only without a KV cache
    rows = [dict(row) for row in encode_examples(tokenizer, fact_examples(), 64, None)]
    packed = training_collator(tokenizer, packing=True)(rows)
    padded = training_collator(tokenizer, packing=False)(rows)
    assert packed["input_ids"].shape == (1, sum(len(row["input_ids"]) for row in rows))
    assert "attention_mask" not in packed
    with torch.no_grad():
        packed_logits = model(
            input_ids=packed["input_ids"], position_ids=packed["position_ids"], use_cache=False
        ).logits[0]
        start = 0
        for row in rows:
            alone = model(input_ids=torch.tensor([row["input_ids"]])).logits[0]
            assert torch.allclose(packed_logits[start : start + len(alone)], alone, atol=1e-5)
            start += len(alone)
        assert answer_only_loss(model, packed) == pytest.approx(float(answer_only_loss(model, padded)), rel=1e-5)
        assert model(**packed, use_cache=False).loss == pytest.approx(float(model(**padded).loss), rel=1e-5)


def test_the_padding_share_is_logged_and_recorded_and_packing_removes_it(tiny_model_dir, tmp_path):
    pairs = [("Hi?", "Yes."), ("Where exactly is your second shop, and when does it open on Sundays?", "Not yet.")]
    results = {}
    for packing in (False, True):
        _, run, result = train_tiny(
            tiny_model_dir,
            tmp_path / str(packing),
            fact_examples(pairs, repeat=2),
            fact_examples(pairs),
            lora={"r": 4, "alpha": 8},
            training={"max_steps": 2, "batch_size": 2, "grad_accum": 1, "bf16": False, "packing": packing},
            output={"logging_steps": 1, "save_checkpoints": False},
        )
        results[packing] = result.padding_share
        assert [line["padding_share"] for line in log_lines(run) if "loss" in line][-1] == result.padding_share
    assert results[False] > 0.05 and results[True] == 0.0  # length grouping leaves the rounding to 8

"""Answer perplexity against a direct, one-example-at-a-time computation with the model's own loss."""

import math

import pytest
import torch
from transformers import AutoModelForCausalLM

from tunesmith.data import Example
from tunesmith.metrics.perplexity import answer_nll, perplexity
from tunesmith.models.chat import encode_example
from tunesmith.models.load import load_tokenizer

QA = [("When do you open?", "We open at 8 am on weekdays."), ("Where?", "418 Linden Avenue."), ("Phone?", "No.")]


def _examples():
    return [
        Example(messages=({"role": "user", "content": q}, {"role": "assistant", "content": a}), source=f"t:{i}")
        for i, (q, a) in enumerate(QA)
    ]


def test_batched_answer_nll_matches_the_model_loss_per_example(tiny_model_dir):
    tokenizer = load_tokenizer(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    results = answer_nll(model, tokenizer, _examples(), None, max_length=128, batch_size=3)
    for example, (nll, tokens) in zip(_examples(), results):
        encoded = encode_example(tokenizer, example, 128, None)
        with torch.no_grad():
            mean_loss = model(
                input_ids=torch.tensor([encoded["input_ids"]]), labels=torch.tensor([encoded["labels"]])
            ).loss
        assert tokens == sum(label != -100 for label in encoded["labels"][1:])
        assert nll / tokens == pytest.approx(float(mean_loss), abs=1e-5)


def test_perplexity_pools_tokens_across_examples():
    assert perplexity([(2.0, 1), (4.0, 3)]) == pytest.approx(math.exp(6.0 / 4))
    assert math.isnan(perplexity([]))

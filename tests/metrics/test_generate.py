"""Batched generation: beams count toward the batch, and batching does not change what each prompt gets."""

import pytest

from tunesmith.metrics.generate import generate
from tunesmith.models.load import load_base_model, load_tokenizer

PROMPTS = ["one two three", "a much longer prompt with many more words in it", "short", "four five", "six"]
BEAM_SEARCH = {"num_beams": 4, "no_repeat_ngram_size": 2, "early_stopping": True}


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir):
    return load_base_model(tiny_model_dir), load_tokenizer(tiny_model_dir)


def calls_made(model, monkeypatch) -> list[int]:
    """Records the number of prompts in each ``model.generate`` call."""
    sizes, real_generate = [], model.generate

    def counting(**kwargs):
        sizes.append(kwargs["input_ids"].shape[0])
        return real_generate(**kwargs)

    monkeypatch.setattr(model, "generate", counting)
    return sizes


def test_beam_search_takes_a_batch_of_sequences_not_of_prompts(model_and_tokenizer, monkeypatch):
    model, tokenizer = model_and_tokenizer
    sizes = calls_made(model, monkeypatch)
    answers = generate(model, tokenizer, PROMPTS, 6, batch_size=8, settings=BEAM_SEARCH)
    assert sizes == [2, 2, 1] and len(answers) == len(PROMPTS)
    sizes.clear()
    generate(model, tokenizer, PROMPTS, 6, batch_size=8)
    assert sizes == [5]


def test_answers_keep_the_prompts_order_whatever_the_batch(model_and_tokenizer):
    model, tokenizer = model_and_tokenizer
    alone = [generate(model, tokenizer, [prompt], 6, batch_size=1)[0] for prompt in PROMPTS]
    together = generate(model, tokenizer, PROMPTS, 6, batch_size=3)
    assert [answer.text for answer in together] == [answer.text for answer in alone]

"""The base model's answers, generated once per base weights, test split and decoding, then reused."""

import json

import pytest
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from tunesmith.data import Example
from tunesmith.metrics import evaluate as evaluate_module
from tunesmith.metrics.base_cache import CACHE_VERSION, cache_dir, weights_fingerprint
from tunesmith.metrics.evaluate import evaluate_bundle
from tunesmith.models.load import CausalBundle, load_tokenizer


def with_lora(folder, **lora):
    model = AutoModelForCausalLM.from_pretrained(folder)
    return get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **lora))


def test_one_base_gives_one_fingerprint_whatever_adapter_sits_on_it(tiny_model_dir, tmp_path):
    from tests.conftest import build_tiny_llama

    small = weights_fingerprint(with_lora(tiny_model_dir, r=4, target_modules=["q_proj"]))
    wide = weights_fingerprint(with_lora(tiny_model_dir, r=8, target_modules="all-linear"))
    plain = weights_fingerprint(AutoModelForCausalLM.from_pretrained(tiny_model_dir))
    other = weights_fingerprint(AutoModelForCausalLM.from_pretrained(build_tiny_llama(tmp_path / "other", seed=1)))
    assert small == wide == plain and other != plain


@pytest.fixture
def bundle(tiny_model_dir):
    return CausalBundle(
        with_lora(tiny_model_dir, r=4, target_modules=["q_proj"]), load_tokenizer(tiny_model_dir), None
    )


def examples(count: int = 3) -> list[Example]:
    return [
        Example(
            [
                {"role": "user", "content": f"When is the shop open on day {i}?"},
                {"role": "assistant", "content": "At 9."},
            ]
        )
        for i in range(count)
    ]


def count_generations(monkeypatch) -> list[str]:
    made = []
    real = evaluate_module.generate

    def counting(*args, **kwargs):
        made.append(kwargs["description"])
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate_module, "generate", counting)
    return made


def score(bundle, records, max_new_tokens=6):
    return evaluate_bundle(bundle, records, max_new_tokens, 4, False, compare_base=True, cache_base=True)


def test_a_second_scoring_reuses_the_base_answers_and_scores_them_the_same(bundle, monkeypatch):
    made = count_generations(monkeypatch)
    first = score(bundle, examples())
    second = score(bundle, examples())
    assert made == ["scoring base", "scoring tuned", "scoring tuned"]
    assert "base_cache" not in first and second["base_cache"]["reused"] is True
    assert second["summary"]["base"] == first["summary"]["base"]
    assert [row["base"] for row in second["rows"]] == [row["base"] for row in first["rows"]]
    assert len(list(cache_dir().glob("*.json"))) == 1


def test_another_split_or_decoding_generates_again(bundle, monkeypatch):
    made = count_generations(monkeypatch)
    score(bundle, examples())
    score(bundle, examples(2))  # other questions
    score(bundle, examples(), max_new_tokens=5)  # another length budget
    assert made.count("scoring base") == 3


def test_an_unreadable_entry_is_generated_and_written_again(bundle, monkeypatch):
    score(bundle, examples())
    [entry] = cache_dir().glob("*.json")
    entry.write_text("{not json")
    made = count_generations(monkeypatch)
    assert "base_cache" not in score(bundle, examples()) and made[0] == "scoring base"
    assert json.loads(entry.read_text())["version"] == CACHE_VERSION

"""One suite over the decoder families users bring (Llama 3, TinyLlama, Qwen2.5, Qwen3, Phi-3, Mistral, Gemma 2,
Gemma 3): tiny random models from each architecture's config, a local tokenizer, and the family's real chat
template (tests/models/families.py). For each: the loss is on the answer and its end token only, the answer-only
head equals the model's loss or is refused, LoRA on all linear layers reaches attention and MLP and trains,
merging keeps the logits, batched generation equals one prompt at a time and stops at the end of the turn.
A base model without a chat template gets tunesmith's default one, and the plan says so.
"""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import train_tiny_run
from tests.models.families import FAMILIES, build_family
from tests.training.helpers import fact_examples, log_lines, train_tiny
from tunesmith.data import Example
from tunesmith.models.chat import chat_text, encode_example, prompt_text, training_collator
from tunesmith.models.heads import IGNORE_INDEX

SYSTEM = "You answer for PressCrafters."
QUESTIONS = ["When do you open?", "Where are you?", "Do you print banners for a street fair next week?", "Phone?"]
# The text closing an answer that is not the conversation's last; None: the template renders earlier answers
# otherwise than when it generates them (Qwen3 drops their thinking block), so they are context, not learned.
HISTORY_END = {
    "llama3": "<|eot_id|>",
    "tinyllama": "</s> \n",  # "▁" before the text after a special token (legacy SentencePiece, as llama.cpp)
    "qwen2": "<|im_end|>\n",
    "qwen3": None,
    # <|end|> eats the newline after it, and the next answer starts with "▁"; end-of-text closes the conversation
    "phi3": "<|end|> ",
    "mistral": "</s>",
    "gemma2": "<end_of_turn>\n",
    "gemma3": "<end_of_turn>\n",
}
LORA_TARGETS = {"phi3": {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"}}  # Phi-3 fuses q/k/v and gate/up
LLAMA_LIKE = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.fixture(scope="module", params=list(FAMILIES))
def family(request, tmp_path_factory):
    """(Family, model folder): one tiny random model per family, built once for this module."""
    spec = FAMILIES[request.param]
    return spec, build_family(tmp_path_factory.mktemp(spec.name), spec)


@pytest.fixture(scope="module")
def tokenizer(family):
    from tunesmith.models.load import load_tokenizer

    return load_tokenizer(family[1])


@pytest.fixture(scope="module")
def base_model(family):
    from tunesmith.models.load import load_base_model

    return load_base_model(family[1]).eval()


def qa(question: str, answer: str) -> Example:
    return Example(messages=({"role": "user", "content": question}, {"role": "assistant", "content": answer}))


def labelled_text(tokenizer, encoded) -> str:
    return tokenizer.decode([token for token in encoded["labels"] if token != IGNORE_INDEX])


# -- 1. the loss is on the answer and its end token, never on the prompt or the system prompt ---------------------
@pytest.mark.parametrize("system_prompt", [None, SYSTEM])
def test_labels_hold_the_answer_and_its_end_only(family, tokenizer, system_prompt):
    spec, _ = family
    example = qa("When do you open?", "We open at 8 am.")
    encoded = encode_example(tokenizer, example, max_length=256, system_prompt=system_prompt)
    assert labelled_text(tokenizer, encoded) == "We open at 8 am." + spec.end_of_answer
    first = next(i for i, label in enumerate(encoded["labels"]) if label != IGNORE_INDEX)
    assert all(label != IGNORE_INDEX for label in encoded["labels"][first:])  # one span, to the end
    prompt = prompt_text(tokenizer, example.prompt, system_prompt)
    assert chat_text(tokenizer, example.messages, system_prompt).startswith(prompt)
    assert len(tokenizer(prompt, add_special_tokens=False).input_ids) == first  # the prompt is what is unlabelled
    if system_prompt:
        assert SYSTEM in prompt


def test_every_answer_of_a_conversation_is_learned(family, tokenizer):
    spec, _ = family
    example = Example(
        messages=(
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello there"},
            {"role": "user", "content": "Hours?"},
            {"role": "assistant", "content": "Nine to six"},
        )
    )
    encoded = encode_example(tokenizer, example, max_length=256, system_prompt=SYSTEM)
    earlier = "" if HISTORY_END[spec.name] is None else "Hello there" + HISTORY_END[spec.name]
    assert labelled_text(tokenizer, encoded) == earlier + "Nine to six" + spec.end_of_answer


def test_a_system_prompt_reaches_every_template(family, tokenizer):
    """Templates without a system role (Mistral v0.1 and Gemma 2 raise on one) get it in the first user turn."""
    from tunesmith.models.chat import accepts_system_role

    spec, _ = family
    assert accepts_system_role(tokenizer) == spec.system_role
    text = prompt_text(tokenizer, [{"role": "user", "content": "When do you open?"}], SYSTEM)
    assert SYSTEM in text and text.index(SYSTEM) < text.index("When do you open?")
    own = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Q?"},
        {"role": "assistant", "content": "A."},
    ]
    encoded = encode_example(tokenizer, Example(messages=tuple(own)), max_length=256, system_prompt="unused")
    assert labelled_text(tokenizer, encoded) == "A." + spec.end_of_answer
    assert SYSTEM in tokenizer.decode(encoded["input_ids"])


def test_qwen3_answers_in_non_thinking_mode():
    """Qwen3's prompt pre-fills the empty thinking block (enable_thinking=False): the answer is learned and
    generated without thinking tags."""
    from tests.models.families import build_tokenizer

    tokenizer = build_tokenizer(FAMILIES["qwen3"])
    prompt = prompt_text(tokenizer, [{"role": "user", "content": "Q?"}])
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert chat_text(tokenizer, qa("Q?", "A.").messages) == prompt + "A.<|im_end|>\n"


# -- 2. the answer-only head --------------------------------------------------------------------------------------
def _batch(tokenizer):
    rows = [
        encode_example(tokenizer, qa(q, a), max_length=128, system_prompt=SYSTEM)
        for q, a in [("Hours?", "9 to 6."), ("Where?", "418 Linden Avenue, Harbor Falls.")]
    ]
    return training_collator(tokenizer, packing=False)(rows)


def test_answer_only_head_equals_the_models_loss_or_is_refused(family, tokenizer, base_model):
    from tunesmith.models.heads import answer_only_loss, supports_answer_only_head

    spec, _ = family
    batch = _batch(tokenizer)
    with torch.no_grad():
        same = torch.allclose(answer_only_loss(base_model, batch), base_model(**batch).loss, atol=1e-5)
    assert supports_answer_only_head(base_model) == same
    assert same == (spec.name != "gemma2")  # Gemma 2 soft-caps its final logits (30.0)


def test_gemma2_without_softcapping_takes_the_shortcut():
    from transformers import Gemma2Config, Gemma2ForCausalLM

    from tests.models.families import SMALL, build_tokenizer
    from tunesmith.models.heads import answer_only_loss, supports_answer_only_head

    tokenizer = build_tokenizer(FAMILIES["gemma2"])
    shape = {**SMALL, "head_dim": 12, "query_pre_attn_scalar": 12}
    config = Gemma2Config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **shape)
    config.final_logit_softcapping = None
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(config).eval()
    batch = _batch(tokenizer)
    assert supports_answer_only_head(model)
    with torch.no_grad():
        assert torch.allclose(answer_only_loss(model, batch), model(**batch).loss, atol=1e-5)


# -- 3. LoRA on all linear layers, trained by tunesmith -----------------------------------------------------------
def test_all_linear_lora_reaches_attention_and_mlp(family):
    from tunesmith.models.load import build_causal

    spec, folder = family
    bundle = build_causal(folder, {"lora_r": 4, "lora_alpha": 8, "target_modules": "all-linear"}, 0.0, None)
    adapted = {name for name, module in bundle.model.named_modules() if hasattr(module, "lora_A")}
    for layer in range(2):
        inside = {name.rsplit(".", 1)[-1] for name in adapted if f".layers.{layer}." in name}
        assert inside == LORA_TARGETS.get(spec.name, LLAMA_LIKE)
        assert any(f".layers.{layer}.self_attn." in name for name in adapted)
        assert any(f".layers.{layer}.mlp." in name for name in adapted)
    assert not any("lm_head" in name or "embed" in name for name in adapted)


@pytest.fixture(scope="module")
def trained(family, tmp_path_factory):
    """(bundle, run folder, TrainResult): 8 optimiser steps of tunesmith's training on 8 facts, LoRA on all linear
    layers; the later checks use the tuned model (generation, merge) as evaluation and export do."""
    _, folder = family
    sections = {
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "training": {
            "epochs": 4,
            "batch_size": 4,
            "grad_accum": 1,
            "learning_rate": 3e-2,
            "bf16": False,
            "max_length": 160,  # Llama 3.2's and Qwen2.5's templates add a system turn of their own
        },
        "output": {"logging_steps": 1, "save_checkpoints": False},
    }
    runs = tmp_path_factory.mktemp("runs")
    return train_tiny(folder, runs, fact_examples(repeat=2), fact_examples(), **sections)


def test_tunesmith_training_lowers_the_loss(trained):
    _, run, result = trained
    losses = [line["loss"] for line in log_lines(run) if "loss" in line]
    assert result.steps == 8 and len(losses) == 8
    assert sum(losses[-2:]) / 2 < 0.7 * sum(losses[:2]) / 2
    assert result.validation[-1] < result.validation[0]
    assert (run.adapter_dir / "adapter_config.json").is_file()


# -- 4. merged = base + adapter -----------------------------------------------------------------------------------
def test_merged_model_has_the_logits_of_base_plus_adapter(family, trained):
    from peft import PeftModel

    from tunesmith.models.load import load_base_model
    from tunesmith.models.merge import merged_model

    _, folder = family
    bundle, run, _ = trained
    text = chat_text(bundle.tokenizer, qa("When do you open?", "We open at 8 am.").messages, SYSTEM)
    ids = bundle.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids
    merged, _ = merged_model(folder, run.adapter_dir)
    reloaded = PeftModel.from_pretrained(load_base_model(folder), run.adapter_dir).eval()
    with torch.no_grad():
        expected = reloaded(input_ids=ids).logits
        with reloaded.disable_adapter():
            base = reloaded(input_ids=ids).logits
        got = merged(input_ids=ids).logits
    assert not torch.allclose(base, expected, atol=1e-2)  # the adapter does change the logits
    assert torch.allclose(got, expected, atol=1e-4)


# -- 5. batched greedy generation --------------------------------------------------------------------------------
def test_batched_generation_equals_one_prompt_at_a_time(trained):
    from tunesmith.metrics.generate import generate

    bundle, _, _ = trained
    tokenizer = bundle.tokenizer
    prompts = [prompt_text(tokenizer, [{"role": "user", "content": q}], SYSTEM) for q in QUESTIONS]
    assert len({len(tokenizer(p).input_ids) for p in prompts}) > 1  # left padding is exercised
    batched = generate(bundle.model, tokenizer, prompts, max_new_tokens=10, batch_size=4)
    single = generate(bundle.model, tokenizer, prompts, max_new_tokens=10, batch_size=1)
    assert [a.text for a in batched] == [a.text for a in single]
    # What the equality rests on, also where a random model's answers are trivial (Gemma's tied, scaled embeddings
    # echo the prompt's last token, a newline): a left-padded row's next-token logits are the row's own.
    tokenizer.padding_side = "left"
    padded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    positions = (padded.attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        rows = bundle.model(**padded, position_ids=positions).logits[:, -1]
        for row, prompt in zip(rows, prompts):
            alone = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
            assert torch.allclose(row, bundle.model(**alone).logits[0, -1], atol=1e-4)


class _Script:
    """A logits processor that makes greedy decoding write ``tokens``, one per step, then ``after`` forever."""

    def __init__(self, tokens: list[int], after: int, prompt_length: int) -> None:
        self.tokens, self.after, self.prompt_length = tokens, after, prompt_length

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.prompt_length
        scores[:, :] = -float("inf")
        scores[:, self.tokens[step] if step < len(self.tokens) else self.after] = 0.0
        return scores


def test_generation_stops_at_the_end_of_the_turn(family, tokenizer, base_model):
    """Gemma's turns end with <end_of_turn>, Phi-3's with <|end|>: neither is the tokenizer's end-of-text token,
    and an answer must stop there, not run on into what the model writes next."""
    from transformers import LogitsProcessorList

    from tunesmith.metrics.generate import generate

    spec, _ = family
    [word] = tokenizer("open", add_special_tokens=False).input_ids[:1]
    [other] = tokenizer("print", add_special_tokens=False).input_ids[:1]
    end = tokenizer.convert_tokens_to_ids(spec.end_of_turn)
    prompt = prompt_text(tokenizer, [{"role": "user", "content": "When do you open?"}], SYSTEM)
    length = len(tokenizer(prompt, add_special_tokens=False).input_ids)
    script = {"logits_processor": LogitsProcessorList([_Script([word, word, end], other, length)])}
    [answer] = generate(base_model, tokenizer, [prompt], max_new_tokens=16, batch_size=1, settings=script)
    assert answer.text == tokenizer.decode([word, word]).strip()
    assert not answer.cut and not answer.looped


# -- 6. a base model without a chat template ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    """TinyLlama's base model: a Llama tokenizer (</s> ends texts) with no chat template."""
    return build_family(tmp_path_factory.mktemp("tinyllama_base"), FAMILIES["tinyllama"], template=False)


def test_a_base_model_gets_the_default_template(base_folder):
    from tunesmith.models.chat import DEFAULT_CHAT_TEMPLATE
    from tunesmith.models.load import load_tokenizer

    tokenizer = load_tokenizer(base_folder)
    assert tokenizer.chat_template == DEFAULT_CHAT_TEMPLATE
    example = qa("When do you open?", "We open at 8 am.")
    assert chat_text(tokenizer, example.messages, SYSTEM) == (
        f"<|im_start|>system\n{SYSTEM}</s>\n<|im_start|>user\nWhen do you open?</s>\n"
        "<|im_start|>assistant\nWe open at 8 am.</s>\n"
    )
    encoded = encode_example(tokenizer, example, max_length=256, system_prompt=SYSTEM)
    assert labelled_text(tokenizer, encoded) == "We open at 8 am.</s> \n"  # turns end with the model's own token


def test_the_plan_says_when_the_default_template_is_used(base_folder, tiny_model_dir, tiny_t5_dir):
    from rich.console import Console

    from tests.training.helpers import CPU
    from tunesmith.config import config_from_dict
    from tunesmith.plan import DataProfile, LengthStats, make_plan, read_model_info
    from tunesmith.plan.show import print_plan

    stats = LengthStats(30, 30, 30, 30, 30, 480)
    profile = DataProfile(16, 4, 4, 0, stats, stats, train_tokens=480)
    config = config_from_dict({"data": {"train": "unused.jsonl"}})
    plans = {
        folder: make_plan(profile, config, CPU, read_model_info(folder))
        for folder in (base_folder, tiny_model_dir, tiny_t5_dir)
    }
    choice = plans[base_folder].choices["chat_template"]
    assert choice.source == "plan" and "no chat template" in choice.reason and "ChatML" in choice.reason
    console = Console(width=200, record=True)
    print_plan(plans[base_folder], console)
    assert "chat_template" in console.export_text()
    assert "chat_template" not in plans[tiny_model_dir].choices  # the model's own template: nothing to say
    assert "chat_template" not in plans[tiny_t5_dir].choices  # encoder-decoders read plain text


def test_encoder_decoders_keep_their_plain_text(tiny_t5_dir):
    from tunesmith.models.load import load_tokenizer

    tokenizer = load_tokenizer(tiny_t5_dir)
    assert tokenizer.chat_template is None
    assert chat_text(tokenizer, qa("Q?", "A.").messages) == "Q?\n\nA."


@pytest.mark.slow
def test_a_base_model_trains_end_to_end_with_the_default_template(base_folder, tmp_path):
    run = train_tiny_run(tmp_path, base_folder)
    plan = json.loads((run / "plan.json").read_text())
    assert "no chat template" in plan["choices"]["chat_template"]["reason"]
    assert json.loads((run / "run.json").read_text())["status"] == "done"
    saved = json.loads((run / "adapter" / "tokenizer_config.json").read_text()).get("chat_template")
    template = saved or (run / "adapter" / "chat_template.jinja").read_text()
    assert "<|im_start|>" in template  # the adapter's tokenizer carries the template it was trained with


@pytest.mark.slow
def test_the_whole_chain_runs_on_every_family(family, tmp_path):
    """plan -> train -> evaluate -> report -> serve on each family (the run's system prompt included): serve
    answers one chat through the openai client, prompted as training rendered it, stopping at the turn's end."""
    from openai import OpenAI

    from tunesmith.models.decoding import stop_token_ids
    from tunesmith.serve import create_app, load_served
    from tunesmith.serve.server import background_server

    run = train_tiny_run(tmp_path, family[1])
    assert json.loads((run / "run.json").read_text())["status"] == "done"
    metrics = json.loads((run / "metrics.json").read_text())
    assert "tuned" in metrics
    served = load_served(run)
    app = create_app(served)
    assert app.state.engine.eos_ids == set(stop_token_ids(served.model, served.tokenizer))
    with background_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=60)
        reply = client.chat.completions.create(
            model=served.name, messages=[{"role": "user", "content": "When do you open?"}], max_tokens=8
        )
    assert reply.choices[0].message.content is not None and reply.usage.prompt_tokens > 0

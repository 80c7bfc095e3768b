"""Encoder-decoder models (T5, BART, Pegasus) with LoRA: the prompt's text goes to the encoder, the answer (a
summary) is the decoder's target. Chosen for ``task: summarization`` when the model is an encoder-decoder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tunesmith.data import Example
from tunesmith.errors import ModelError
from tunesmith.tasks.causal import CausalBundle, add_lora, load_tokenizer


def is_encoder_decoder(folder: Path) -> bool:
    import json

    config = Path(folder) / "config.json"
    return config.is_file() and bool(json.loads(config.read_text()).get("is_encoder_decoder"))


def plain_prompt(messages: Sequence[dict[str, str]]) -> str:
    """What the encoder reads: the conversation's text up to the answer, without any chat markup."""
    return "\n\n".join(message["content"] for message in messages[:-1] if message["role"] != "system")


def encode_seq2seq_example(tokenizer, example: Example, max_length: int, max_target_length: int) -> dict:
    source = tokenizer(plain_prompt(example.messages), truncation=True, max_length=max_length)
    target = tokenizer(text_target=example.answer, truncation=True, max_length=max_target_length)
    return {"input_ids": source["input_ids"], "labels": target["input_ids"]}


def encode_seq2seq_examples(tokenizer, examples: Sequence[Example], max_length: int, max_target_length: int):
    from datasets import Dataset

    rows = [encode_seq2seq_example(tokenizer, example, max_length, max_target_length) for example in examples]
    return Dataset.from_list(rows)


def load_seq2seq_model(folder: Path):
    from transformers import AutoModelForSeq2SeqLM

    try:
        return AutoModelForSeq2SeqLM.from_pretrained(folder, dtype="float32")
    except Exception as err:  # noqa: BLE001 - one clear message instead of a deep traceback
        raise ModelError(f"{folder}: cannot load the encoder-decoder model: {err}") from err


def build_seq2seq(folder: Path, plan, lora_dropout: float, system_prompt: str | None) -> CausalBundle:
    model = load_seq2seq_model(folder)
    model = add_lora(model, plan["lora_r"], plan["lora_alpha"], lora_dropout, plan["target_modules"], "SEQ_2_SEQ_LM")
    return CausalBundle(model=model, tokenizer=load_tokenizer(folder), system_prompt=None)


def load_trained_seq2seq(folder: Path, adapter: Path) -> CausalBundle:
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_seq2seq_model(folder), adapter)
    return CausalBundle(model=model, tokenizer=load_tokenizer(folder), system_prompt=None)

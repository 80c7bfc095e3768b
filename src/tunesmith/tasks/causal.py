"""Causal LM task: chat-formatted examples, loss on the assistant's tokens only, LoRA on a decoder model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.data import Example
from tunesmith.errors import DataError, ModelError

IGNORE_INDEX = -100


@dataclass
class CausalBundle:
    """What training and evaluation need: the LoRA-wrapped model and its tokenizer."""

    model: Any
    tokenizer: Any
    system_prompt: str | None


def with_system_prompt(messages: Sequence[dict[str, str]], system_prompt: str | None) -> list[dict[str, str]]:
    messages = list(messages)
    if system_prompt and messages[0]["role"] != "system":
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages


def chat_text(tokenizer, messages: Sequence[dict[str, str]], system_prompt: str | None = None) -> str:
    """The whole conversation in the model's chat template, as text (encoder-decoders: input, then target)."""
    if tokenizer.chat_template is None:
        from tunesmith.tasks.seq2seq import plain_prompt

        return plain_prompt(messages) + "\n\n" + messages[-1]["content"]
    return tokenizer.apply_chat_template(with_system_prompt(messages, system_prompt), tokenize=False)


def prompt_text(tokenizer, messages: Sequence[dict[str, str]], system_prompt: str | None = None) -> str:
    """The conversation up to the point where the assistant starts answering (encoder-decoders: the input)."""
    if tokenizer.chat_template is None:
        from tunesmith.tasks.seq2seq import plain_prompt

        return plain_prompt([*messages, {"role": "assistant", "content": ""}])
    return tokenizer.apply_chat_template(
        with_system_prompt(messages, system_prompt), tokenize=False, add_generation_prompt=True
    )


def encode_example(tokenizer, example: Example, max_length: int, system_prompt: str | None = None) -> dict:
    """Tokenise one example; labels are -100 everywhere but on assistant turns (answer and end-of-turn token).

    Raises:
        DataError: the chat template does not render the conversation as a growing prefix, so the answer
            tokens cannot be located (naming the example's file and line).
    """
    messages = with_system_prompt(example.messages, system_prompt)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(tokenizer.apply_chat_template(messages[:index], tokenize=False, add_generation_prompt=True))
        through = tokenizer.apply_chat_template(messages[: index + 1], tokenize=False)
        if not full.startswith(through):
            raise DataError(f"{example.source}: the chat template does not render turns as a prefix of the whole")
        spans.append((start, len(through)))
    encoded = tokenizer(
        full, add_special_tokens=False, return_offsets_mapping=True, truncation=True, max_length=max_length
    )
    labels = [
        token if any(start <= offset[0] < end for start, end in spans) else IGNORE_INDEX
        for token, offset in zip(encoded["input_ids"], encoded["offset_mapping"])
    ]
    return {"input_ids": encoded["input_ids"], "labels": labels}


def encode_examples(
    tokenizer, examples: Sequence[Example], max_length: int, system_prompt: str | None, with_difficulty: bool = False
):
    """A datasets.Dataset of input_ids/labels; examples whose answer was cut away entirely are dropped.

    ``with_difficulty`` adds each example's difficulty label and source as columns (for a curriculum).
    """
    from datasets import Dataset

    rows = [encode_example(tokenizer, example, max_length, system_prompt) for example in examples]
    if with_difficulty:
        for row, example in zip(rows, examples):
            row.update(difficulty=example.difficulty, source=example.source)
    rows = [row for row in rows if any(label != IGNORE_INDEX for label in row["labels"])]
    return Dataset.from_list(rows)


def supports_answer_only_head(model) -> bool:
    """Whether :func:`answer_only_loss` computes the same loss as the model's own forward.

    It does for decoders whose logits are a plain linear map of the last hidden state (Llama, Qwen, Mistral, ...),
    not for those that scale or soft-cap their logits.
    """
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = causal_lm.config
    if (
        config.is_encoder_decoder
        or getattr(config, "final_logit_softcapping", None)
        or getattr(config, "logit_scale", None)
    ):
        return False
    return hasattr(causal_lm, "get_decoder") and causal_lm.get_output_embeddings() is not None


def answer_only_loss(model, inputs: dict, num_items_in_batch=None, parent_kl_weight: float = 0.0):
    """Cross-entropy on the labelled (answer) positions, running the vocabulary projection only there.

    A causal LM's forward projects every position onto the vocabulary; with prompts that carry no loss, most of
    that work (and its fp32 logits) is wasted. Summed over answer tokens, divided by ``num_items_in_batch`` (the
    answer tokens of the whole accumulated batch) when given, else by this batch's answer tokens.

    With ``parent_kl_weight`` > 0 the loss adds that weight times KL(parent || model) on the same tokens, where
    the parent is the model with its adapter switched off: in a continued run, the previous round's model.
    """
    import torch
    import torch.nn.functional as F

    logits, targets, _ = answer_logits(model, inputs)
    loss = F.cross_entropy(logits, targets, reduction="sum")
    if parent_kl_weight > 0:
        with torch.no_grad(), model.disable_adapter():
            parent_logits, _, _ = answer_logits(model, inputs)
        log_model, log_parent = F.log_softmax(logits, dim=-1), F.log_softmax(parent_logits, dim=-1)
        loss = loss + parent_kl_weight * F.kl_div(log_model, log_parent, log_target=True, reduction="sum")
    divisor = num_items_in_batch if num_items_in_batch is not None else targets.numel() or 1
    return loss / divisor


def answer_logits(model, inputs: dict):
    """fp32 logits of the labelled positions only, their target tokens, and the mask that picked them."""
    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal_lm.get_decoder()(
        input_ids=inputs["input_ids"],
        attention_mask=inputs.get("attention_mask"),
        position_ids=inputs.get("position_ids"),  # packed rows: positions restart per example, attention too
        use_cache=False,  # with a cache, transformers ignores the packed positions when masking attention
    ).last_hidden_state
    targets = inputs["labels"][:, 1:]
    keep = targets != IGNORE_INDEX
    return causal_lm.get_output_embeddings()(hidden[:, :-1][keep]).float(), targets[keep], keep


def load_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    from tunesmith.tasks.seq2seq import is_encoder_decoder

    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.chat_template is None and not is_encoder_decoder(folder):
        raise ModelError(f"{folder}: the tokenizer has no chat template; use an instruct/chat model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(folder: Path):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(folder, dtype="float32")
    except Exception as err:  # noqa: BLE001 - one clear message instead of a deep traceback
        raise ModelError(f"{folder}: cannot load the model: {err}") from err


def add_lora(model, r: int, alpha: float, dropout: float, target_modules, task_type: str = "CAUSAL_LM"):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules, task_type=task_type
    )
    return get_peft_model(model, config)


def build_causal(folder: Path, plan, lora_dropout: float, system_prompt: str | None) -> CausalBundle:
    """Load the base model from ``folder`` and wrap it with a fresh LoRA adapter shaped by the plan."""
    tokenizer = load_tokenizer(folder)
    model = add_lora(load_base_model(folder), plan["lora_r"], plan["lora_alpha"], lora_dropout, plan["target_modules"])
    return CausalBundle(model=model, tokenizer=tokenizer, system_prompt=system_prompt)


def load_trained(folder: Path, adapter: Path, system_prompt: str | None) -> CausalBundle:
    """The base model with a saved adapter attached (for evaluation of a finished run)."""
    from peft import PeftModel

    tokenizer = load_tokenizer(folder)
    model = PeftModel.from_pretrained(load_base_model(folder), adapter)
    return CausalBundle(model=model, tokenizer=tokenizer, system_prompt=system_prompt)

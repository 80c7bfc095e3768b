"""Chat formatting and encoding: a conversation as the model's chat template renders it, as training rows, and
the batches those rows make (:func:`training_collator`, for training and scoring alike).

Decoder models: the conversation in the tokenizer's chat template, labels on the assistant's tokens only.
Encoder-decoders (no chat template): the prompt's plain text goes to the encoder, the answer is the target.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunesmith.data import Example
from tunesmith.data.shapes import DOCUMENT_ROLE
from tunesmith.errors import DataError
from tunesmith.models.heads import IGNORE_INDEX


def with_system_prompt(messages: Sequence[dict[str, str]], system_prompt: str | None) -> list[dict[str, str]]:
    messages = list(messages)
    if system_prompt and messages[0]["role"] != "system":
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages


def chat_text(tokenizer, messages: Sequence[dict[str, str]], system_prompt: str | None = None) -> str:
    """The whole conversation in the model's chat template, as text (encoder-decoders: input, then target); a
    training document (:func:`document_text`) as it is trained."""
    if messages[0]["role"] == DOCUMENT_ROLE:
        return document_text(tokenizer, messages[0]["content"])
    if tokenizer.chat_template is None:
        return plain_prompt(messages) + "\n\n" + messages[-1]["content"]
    return tokenizer.apply_chat_template(with_system_prompt(messages, system_prompt), tokenize=False)


def prompt_text(tokenizer, messages: Sequence[dict[str, str]], system_prompt: str | None = None) -> str:
    """The conversation up to the point where the assistant starts answering (encoder-decoders: the input)."""
    if tokenizer.chat_template is None:
        return plain_prompt([*messages, {"role": "assistant", "content": ""}])
    return tokenizer.apply_chat_template(
        with_system_prompt(messages, system_prompt), tokenize=False, add_generation_prompt=True
    )


def document_text(tokenizer, text: str) -> str:
    """A training document as the model reads it: the text, then the end-of-text token (so the document ends
    where a new one may start), with no chat markup."""
    return text + (tokenizer.eos_token or "")


def plain_prompt(messages: Sequence[dict[str, str]]) -> str:
    """What the encoder reads: the conversation's text up to the answer, without any chat markup."""
    return "\n\n".join(message["content"] for message in messages[:-1] if message["role"] != "system")


def token_lengths(examples: Sequence[Example], tokenizer, system_prompt: str | None = None) -> dict[str, list[int]]:
    """Tokens per prompt, per answer, and per whole templated conversation, by the model's own tokenizer."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False).input_ids)

    return {
        "prompt": [0 if e.is_document else count(prompt_text(tokenizer, e.prompt, system_prompt)) for e in examples],
        "answer": [count(e.answer) for e in examples],
        "sequence": [count(chat_text(tokenizer, e.messages, system_prompt)) for e in examples],
    }


def encode_example(tokenizer, example: Example, max_length: int, system_prompt: str | None = None) -> dict:
    """Tokenise one example; labels are -100 everywhere but on assistant turns (answer and end-of-turn token), or
    on every token of a training document.

    Raises:
        DataError: the chat template does not render the conversation as a growing prefix, so the answer
            tokens cannot be located (naming the example's file and line).
    """
    if example.is_document:  # plain text, the loss on every token
        encoded = tokenizer(
            document_text(tokenizer, example.answer), add_special_tokens=False, truncation=True, max_length=max_length
        )
        return {"input_ids": encoded["input_ids"], "labels": list(encoded["input_ids"])}
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


def encode_seq2seq_example(tokenizer, example: Example, max_length: int, max_target_length: int) -> dict:
    source = tokenizer(plain_prompt(example.messages), truncation=True, max_length=max_length)
    target = tokenizer(text_target=example.answer, truncation=True, max_length=max_target_length)
    return {"input_ids": source["input_ids"], "labels": target["input_ids"]}


def encode_seq2seq_examples(tokenizer, examples: Sequence[Example], max_length: int, max_target_length: int):
    from datasets import Dataset

    rows = [encode_seq2seq_example(tokenizer, example, max_length, max_target_length) for example in examples]
    return Dataset.from_list(rows)


def training_collator(tokenizer, packing: bool):
    """Padded, length-grouped batches; or, with ``packing``, each micro-batch's examples in one unpadded row whose
    position ids restart at 0 per example: transformers then masks attention block-diagonally (sdpa, eager, flash).

    Training and scoring (perplexity) batch the encoded rows with it; labels are padded with IGNORE_INDEX.
    """
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening

    if packing:
        return DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE_INDEX)
    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX, pad_to_multiple_of=8)

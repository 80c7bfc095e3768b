"""Chat formatting and encoding: a conversation as the model's chat template renders it, as training rows, and
the batches those rows make (:func:`training_collator`, for training and scoring alike).

Decoder models: the conversation in the tokenizer's chat template, labels on the assistant's tokens only. A
decoder whose tokenizer has no chat template (a base model) gets :data:`DEFAULT_CHAT_TEMPLATE` when it is loaded
(:func:`tunesmith.models.load.load_tokenizer`; the plan says so). Encoder-decoders (no chat template): the prompt's
plain text goes to the encoder, the answer is the target.

Family differences handled here (tested on each family in tests/models/test_families.py): templates without a
system role get the system prompt at the start of the first user turn (:func:`conversation`); Qwen3 is rendered in
its non-thinking mode (:data:`TEMPLATE_OPTIONS`); templates that close a whole conversation differently from a
turn (Phi-3's end-of-text token) or re-render earlier answers (Qwen3) still get their labels right
(:func:`encode_example`); :func:`end_of_turn_id` finds the token that ends an answer (Gemma's <end_of_turn>).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from tunesmith.data import Example
from tunesmith.data.shapes import DOCUMENT_ROLE
from tunesmith.errors import DataError, ModelError
from tunesmith.models.heads import IGNORE_INDEX

# For a decoder-only model whose tokenizer has no chat template (a base model): ChatML's markup, each turn closed
# by the model's own end-of-text token rather than <|im_end|>, which a base vocabulary lacks: the token already
# exists (no new embedding to learn) and generation stops on it. With a ChatML vocabulary (<|im_end|> as the
# end-of-text token, as Qwen's) this is ChatML exactly.
DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + eos_token + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
# Passed to every chat template (templates ignore what they do not use). Qwen3 answers in its non-thinking mode:
# the prompt ends with an empty <think></think> block, so the answer is learned and generated without one (a
# tuned Q&A answer has no reasoning to show, and thinking tags are not special tokens: they would stay in the
# answer text).
TEMPLATE_OPTIONS = {"enable_thinking": False}
_PROBE = "tunesmith probe"
_SYSTEM_ROLE: dict[str, bool] = {}  # chat template -> whether it renders a system message


def render(tokenizer, messages: Sequence[dict[str, str]], generation: bool = False) -> str:
    """``messages`` in the tokenizer's chat template; ``generation`` adds the assistant's opening.

    transformers renders templates (the model's, a user's, one read from a GGUF file) in jinja2's immutable sandbox;
    a template that reaches for Python internals there is stopped, and said so as a ModelError."""
    from jinja2.exceptions import SecurityError

    try:
        return tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=generation, **TEMPLATE_OPTIONS
        )
    except SecurityError as err:
        raise ModelError(f"the chat template was stopped by the sandbox it is rendered in: {err}") from None


def accepts_system_role(tokenizer) -> bool:
    """Whether the chat template renders a system message: Mistral v0.1 and Gemma 2 raise on one, Phi-3's first
    template drops it silently; Gemma 3's folds it into the first user turn itself (that counts as rendering)."""
    from jinja2 import TemplateError

    key = repr(tokenizer.chat_template)
    if key not in _SYSTEM_ROLE:
        probe = [{"role": "system", "content": _PROBE}, {"role": "user", "content": "?"}]
        try:
            _SYSTEM_ROLE[key] = _PROBE in render(tokenizer, probe, generation=True)
        except TemplateError:
            _SYSTEM_ROLE[key] = False
    return _SYSTEM_ROLE[key]


def with_system_prompt(messages: Sequence[dict[str, str]], system_prompt: str | None) -> list[dict[str, str]]:
    messages = list(messages)
    if system_prompt and messages[0]["role"] != "system":
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages


def conversation(tokenizer, messages: Sequence[dict[str, str]], system_prompt: str | None = None) -> list[dict]:
    """The messages as the template gets them: the system prompt first, or, for a template without a system
    role, at the start of the first user turn (a blank line between), as Gemma 3's and later Mistral templates
    place it themselves."""
    messages = with_system_prompt(messages, system_prompt)
    if messages[0]["role"] != "system" or accepts_system_role(tokenizer):
        return messages
    system, rest = messages[0]["content"], messages[1:]
    if rest and rest[0]["role"] == "user":
        return [{**rest[0], "content": f"{system}\n\n{rest[0]['content']}"}, *rest[1:]]
    return [{"role": "user", "content": system}, *rest]


def chat_text(tokenizer, messages: Sequence[dict[str, str]], system_prompt: str | None = None) -> str:
    """The whole conversation in the model's chat template, as text (encoder-decoders: input, then target); a
    training document (:func:`document_text`) as it is trained."""
    if messages[0]["role"] == DOCUMENT_ROLE:
        return document_text(tokenizer, messages[0]["content"])
    if tokenizer.chat_template is None:
        return plain_prompt(messages) + "\n\n" + messages[-1]["content"]
    return render(tokenizer, conversation(tokenizer, messages, system_prompt))


def prompt_text(tokenizer, messages: Sequence[dict[str, str]], system_prompt: str | None = None) -> str:
    """The conversation up to the point where the assistant starts answering (encoder-decoders: the input)."""
    if tokenizer.chat_template is None:
        return plain_prompt([*messages, {"role": "assistant", "content": ""}])
    return render(tokenizer, conversation(tokenizer, messages, system_prompt), generation=True)


def end_of_turn_id(tokenizer) -> int | None:
    """The token that closes an answer in the chat template (<|im_end|>, Llama 3's <|eot_id|>, Gemma's
    <end_of_turn>, Phi-3's <|end|>) when it is a token of its own; None without a template or such a token.

    Generation must stop on it: for Gemma and Phi-3 it is not the tokenizer's end-of-text token.
    """
    from jinja2 import TemplateError

    if tokenizer.chat_template is None:
        return None
    messages = conversation(tokenizer, [{"role": "user", "content": "?"}, {"role": "assistant", "content": _PROBE}])
    try:
        text = render(tokenizer, messages)
    except TemplateError:
        return None
    if _PROBE not in text:
        return None
    ids = tokenizer(text[text.rindex(_PROBE) + len(_PROBE) :], add_special_tokens=False).input_ids
    own = set(tokenizer.get_added_vocab().values()) | set(tokenizer.all_special_ids)
    return ids[0] if ids and ids[0] in own else None


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


def encode_example(
    tokenizer, example: Example, max_length: int, system_prompt: str | None = None, prompt_loss: bool = False
) -> dict:
    """Tokenise one example; labels are -100 everywhere but on assistant turns (answer and end-of-turn token), and
    with ``prompt_loss`` the user turns' text (not the template's markup or the system prompt); or on every token
    of a training document.

    Raises:
        DataError: the chat template does not render the conversation as a growing prefix, so the answer
            tokens cannot be located (naming the example's file and line).
    """
    if example.is_document:  # plain text, the loss on every token
        encoded = tokenizer(
            document_text(tokenizer, example.answer), add_special_tokens=False, truncation=True, max_length=max_length
        )
        return {"input_ids": encoded["input_ids"], "labels": list(encoded["input_ids"])}
    messages = conversation(tokenizer, example.messages, system_prompt)
    full = render(tokenizer, messages)
    spans = answer_spans(tokenizer, messages, full, example.source)
    if prompt_loss:
        spans += user_spans(messages, full)
    encoded = tokenizer(
        full, add_special_tokens=False, return_offsets_mapping=True, truncation=True, max_length=max_length
    )
    labels = [  # a token is learned when it lies wholly within an answer span
        token if any(start <= begin and finish <= end for start, end in spans) else IGNORE_INDEX
        for token, (begin, finish) in zip(encoded["input_ids"], encoded["offset_mapping"])
    ]
    return {"input_ids": encoded["input_ids"], "labels": labels}


def user_spans(messages: list[dict], full: str) -> list[tuple[int, int]]:
    """Character spans of ``full`` (the rendered conversation) that hold the user turns' text: every turn's text is
    found after the one before it, so a user turn's words are never matched inside the system prompt."""
    spans, start = [], 0
    for message in messages:
        text = message["content"]
        begin = full.find(text, start) if isinstance(text, str) and text else -1
        if begin < 0:
            continue
        start = begin + len(text)
        if message["role"] == "user":
            spans.append((begin, start))
    return spans


def answer_spans(tokenizer, messages: list[dict], full: str, source: str = "") -> list[tuple[int, int]]:
    """Character spans of ``full`` (the rendered conversation) to learn: each assistant turn's answer and what
    closes it (end-of-turn token, newline), from where the generation prompt ends.

    The last answer must render as a prefix of the whole (it is what generation reproduces). An earlier answer
    is learned up to where the conversation rendered up to it and the whole part: Phi-3 closes a conversation with
    its end-of-text token, a turn followed by others without it. An earlier answer the template renders otherwise
    once later turns follow (Qwen3 drops the thinking block of earlier answers, so its generation prompt is not a
    prefix of the whole) stays as context, without loss.

    Raises:
        DataError: the last answer is not rendered as a prefix of the whole conversation.
    """
    assistant = [index for index, message in enumerate(messages) if message["role"] == "assistant"]
    spans = []
    for index in assistant:
        prompt = render(tokenizer, messages[:index], generation=True)
        through = render(tokenizer, messages[: index + 1])
        if index == assistant[-1]:
            if not (full.startswith(prompt) and full.startswith(through)):
                raise DataError(f"{source}: the chat template does not render turns as a prefix of the whole")
            spans.append((len(prompt), len(through)))
        elif full.startswith(prompt):
            shared = len(os.path.commonprefix([through, full]))
            if messages[index]["content"].strip() in full[len(prompt) : shared]:
                spans.append((len(prompt), shared))
    return spans


def encode_examples(
    tokenizer,
    examples: Sequence[Example],
    max_length: int,
    system_prompt: str | None,
    with_difficulty: bool = False,
    prompt_loss: bool = False,
):
    """A datasets.Dataset of input_ids/labels; examples whose answer was cut away entirely are dropped.

    ``with_difficulty`` adds each example's difficulty label and source as columns (for a curriculum);
    ``prompt_loss`` learns the user turns too (training.train_on_prompt).
    """
    from datasets import Dataset

    rows = [encode_example(tokenizer, example, max_length, system_prompt, prompt_loss) for example in examples]
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

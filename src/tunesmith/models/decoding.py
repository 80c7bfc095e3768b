"""Decoding settings that fit the model family: a repetition guard over the generated tokens only.

transformers' ``no_repeat_ngram_size`` bans every n-gram already in the sequence. In an encoder-decoder that is the
summary alone; in a decoder-only model the sequence starts with the prompt, so the answer may not repeat any
three tokens of the dialogue or question: a name with its verb, a date, a URL or a course code (issue 24 measured
that ban costing a tuned SmolLM2 0.06 ROUGE-1 on 200 unseen SAMSum dialogues, the model spelling around names:
"Hannie" for Hannah). :class:`ContinuationNoRepeatNGram` is the same guard over the
continuation only; :func:`generate_kwargs` puts it in place of the built-in ban for decoder-only models.

:class:`StopLoops` ends a greedy answer that has fallen into a loop (a block of tokens repeated back to back), as
base models often do until the generation budget runs out: scoring stops paying for tokens that add nothing, and
:func:`loop_period` lets the caller keep one copy of the block. transformers' stopping criteria only know stop
strings, lengths and time, hence this one.
"""

from __future__ import annotations

import math

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria


class ContinuationNoRepeatNGram(LogitsProcessor):
    """Never repeat an n-gram of the generated tokens; the prompt's n-grams stay free to copy.

    Args:
        ngram_size: the n-gram length (3: no repeated trigram).
        prompt_length: where the continuation starts in ``input_ids`` (the padded prompt length of the batch).
    """

    def __init__(self, ngram_size: int, prompt_length: int) -> None:
        if ngram_size < 1:
            raise ValueError(f"ngram_size must be at least 1, got {ngram_size}")
        self.ngram_size, self.prompt_length = ngram_size, prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        n = self.ngram_size
        for row, tokens in enumerate(input_ids[:, self.prompt_length :].tolist()):
            if len(tokens) < n - 1:
                continue
            last = tokens[len(tokens) - (n - 1) :] if n > 1 else []
            banned = {tokens[i + n - 1] for i in range(len(tokens) - n + 1) if tokens[i : i + n - 1] == last}
            if banned:
                scores[row, list(banned)] = -float("inf")
        return scores


def generate_kwargs(model, settings: dict | None, prompt_length: int) -> dict:
    """``model.generate`` options for ``settings`` (num_beams, length_penalty, no_repeat_ngram_size, ...): on a
    decoder-only model the n-gram ban becomes :class:`ContinuationNoRepeatNGram` over the generated tokens.

    The beams and the built-in ban are always given, greedy and none by default: BART checkpoints ship
    ``num_beams: 4`` and ``no_repeat_ngram_size: 3`` in their generation config, which would otherwise replace
    a greedy, unguarded decoding that was asked for."""
    options = {"num_beams": 1, **(settings or {})}
    size = options.pop("no_repeat_ngram_size", 0) or 0
    encoder_decoder = model.config.is_encoder_decoder
    options["no_repeat_ngram_size"] = size if encoder_decoder else 0  # an encoder-decoder's sequence is the answer
    if size and not encoder_decoder:
        processors = LogitsProcessorList(options.pop("logits_processor", None) or [])
        processors.append(ContinuationNoRepeatNGram(size, prompt_length))
        options["logits_processor"] = processors
    return options


def stop_token_ids(model, tokenizer) -> list[int]:
    """The tokens that end an answer: the tokenizer's end-of-text token, those the model's generation config
    lists, and the one closing an assistant turn in the chat template. Gemma's turns end with <end_of_turn>, Phi-3's
    with <|end|>, a Qwen base model's with <|im_end|>: none is the tokenizer's end-of-text token, and an answer
    stopped only by that one runs on into a next turn until the token budget is spent."""
    from tunesmith.models.chat import end_of_turn_id

    configured = getattr(model.generation_config, "eos_token_id", None)
    configured = configured if isinstance(configured, list) else [configured]
    ids = [tokenizer.eos_token_id, *configured, end_of_turn_id(tokenizer)]
    return sorted({token for token in ids if token is not None})


LOOP_MAX_PERIOD = 32  # the longest repeated block looked for, in tokens
LOOP_MIN_TOKENS = 12  # a loop spans at least this many tokens: "ha ha ha" or a repeated dash is not one
LOOP_MIN_REPEATS = 3


def loop_repeats(period: int) -> int:
    """How many back-to-back copies of a block of ``period`` tokens make a loop."""
    return max(LOOP_MIN_REPEATS, math.ceil(LOOP_MIN_TOKENS / period))


def loop_period(tokens: list[int]) -> int:
    """The length of the block that ``tokens`` end with :func:`loop_repeats` copies of, or 0 (no loop)."""
    for period in range(1, LOOP_MAX_PERIOD + 1):
        span = period * loop_repeats(period)
        if span > len(tokens):
            break
        tail = tokens[len(tokens) - span :]
        if tail == tail[:period] * (span // period):
            return period
    return 0


class StopLoops(StoppingCriteria):
    """Ends each row (greedy decoding) whose generated tokens, after ``prompt_length``, end in a loop."""

    def __init__(self, prompt_length: int) -> None:
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        rows = input_ids[:, self.prompt_length :].tolist()
        return torch.tensor([loop_period(row) > 0 for row in rows], device=input_ids.device)

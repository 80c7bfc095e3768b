"""Batched generation, greedy or beam search: left padding, KV cache, prompts sorted by length (little waste).

bf16 on a CPU decodes with the weights themselves in bf16 for the call: autocast alone casts every frozen fp32
weight again at every decoding step. SmolLM2-135M, 2 cores, 64 prompts a call, bf16 autocast against bf16 weights:
the demo's test questions (61 tokens, 128 new) 17.0 -> 11.7 / 10.8 s, SAMSum dialogues (up to 373 tokens, 96 new)
53.2 -> 36.6 / 28.4 s, 16 dialogues in beam search (4 beams, trigram guard) 33.2 -> 22.8 s. A static KV cache
(transformers' cache_implementation="static") measured no faster on those prompts (13.4 / 11.5, 32.7 / 33.9 and
26.6 s) and changed where beam search ended, so the growing cache stays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from transformers import StoppingCriteriaList

from tunesmith.models.decoding import StopLoops, generate_kwargs, loop_period, loop_repeats, stop_token_ids


@dataclass(frozen=True)
class Generation:
    text: str
    cut: bool  # stopped by max_new_tokens, not by an end-of-turn token
    looped: bool = False  # stopped in a loop (a block repeated back to back); one copy of the block is kept


def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int = 16,
    bf16: bool = False,
    description: str = "generating",
    settings: dict | None = None,
) -> list[Generation]:
    """Answers for already-templated ``prompts``, in the order given, each marked if it was cut short.

    Greedy by default; ``settings`` adds ``model.generate`` options (num_beams, length_penalty,
    no_repeat_ngram_size: on a decoder-only model over the answer's tokens only, see
    :mod:`tunesmith.models.decoding`). ``batch_size`` bounds the sequences decoded at once, beams included: with
    4 beams a call takes a quarter as many prompts. Decoder-only models get left padding; encoder-decoders read
    right-padded input.
    """
    from tqdm.auto import tqdm

    # SAMSum, beam 4, 2 CPU cores: 4 prompts a call scored 98 dialogues in 188 s, 16 prompts (64 sequences) in
    # 273 s: a smaller batch waits less for its longest beam and holds a quarter of the KV cache.
    prompts_per_call = max(1, batch_size // (settings or {}).get("num_beams", 1))
    order = sorted(range(len(prompts)), key=lambda index: len(prompts[index]), reverse=True)
    answers: list[Generation] = [Generation("", False)] * len(prompts)
    encoder_decoder = model.config.is_encoder_decoder
    previous_side, tokenizer.padding_side = tokenizer.padding_side, "right" if encoder_decoder else "left"
    model.eval()
    try:
        with (
            _bf16_weights(model, bf16 and model.device.type == "cpu"),
            _contiguous_head(model),
            tqdm(total=len(prompts), desc=description, unit="ex", dynamic_ncols=True) as bar,
        ):
            for start in range(0, len(order), prompts_per_call):
                chunk = order[start : start + prompts_per_call]
                texts = _generate_batch(model, tokenizer, [prompts[i] for i in chunk], max_new_tokens, bf16, settings)
                for index, text in zip(chunk, texts):
                    answers[index] = text
                bar.update(len(chunk))
    finally:
        tokenizer.padding_side = previous_side
    return answers


@contextmanager
def _bf16_weights(model, enabled: bool) -> Iterator[None]:
    """The model's fp32 parameters in bf16 while the block runs, the very same fp32 tensors back afterwards
    (buffers such as rotary frequencies stay fp32). Holds a bf16 copy of the weights beside the fp32 ones.

    Not training.memory.frozen_linears_in_bf16, its training-time sibling: that one frees the fp32 originals, gives a
    tied head a bf16 copy and leaves the embedding and trainable weights alone; decoding wants every weight in bf16
    (the head is the largest matmul of a step) and the exact originals back, since training or perplexity may run
    on them afterwards. Inside that block (answers scored between epochs) the linears it cast are already bf16 and
    stay as they are."""
    if not enabled:
        yield
        return
    kept = [(parameter, parameter.data) for parameter in model.parameters() if parameter.dtype == torch.float32]
    try:
        for parameter, data in kept:
            parameter.data = data.to(torch.bfloat16)
        yield
    finally:
        for parameter, data in kept:
            parameter.data = data


@contextmanager
def _contiguous_head(model) -> Iterator[None]:
    """The vocabulary projection's input made contiguous while the block runs. After the prompt, only its last
    position is projected, a strided slice of the hidden states; through a PEFT model torch's matmul then expanded
    the [vocab, hidden] weight into one copy per sequence (a bmm of 64 x 49152 x 576: 6.3 s of a 9.4 s call for 64
    demo questions, SmolLM2-135M, 2 cores; the plain model's call took 3.0 s). With the slice copied first (64 x 576
    numbers) the same call took 2.7 s."""
    head = model.get_output_embeddings()
    if head is None:
        yield
        return
    handle = head.register_forward_pre_hook(lambda module, args: (args[0].contiguous(), *args[1:]))
    try:
        yield
    finally:
        handle.remove()


@torch.inference_mode()
def _generate_batch(model, tokenizer, prompts, max_new_tokens: int, bf16: bool, settings=None) -> list[Generation]:
    # A decoder's prompt is templated text that holds its special tokens; an encoder reads the prompt as training
    # encoded it, wrapped by the tokenizer (T5's closing </s>, BART's <s> ... </s>).
    encoder_decoder = model.config.is_encoder_decoder
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=encoder_decoder).to(model.device)
    prompt_length = 1 if encoder_decoder else batch["input_ids"].shape[1]  # the decoder's start
    options = generate_kwargs(model, settings, prompt_length=prompt_length)
    greedy = options.get("num_beams", 1) == 1  # greedy rows end on their own; a beam's row is not one answer
    ends = stop_token_ids(model, tokenizer)  # end of text and end of turn (Gemma's <end_of_turn> is not the former)
    if greedy:
        options["stopping_criteria"] = StoppingCriteriaList([StopLoops(prompt_length)])
    with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16):
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            use_cache=True,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=ends,
            **options,
        )
    # A decoder returns prompt + answer; an encoder-decoder's output is the answer after its start token.
    new_tokens = output[:, 1:] if model.config.is_encoder_decoder else output[:, batch["input_ids"].shape[1] :]
    stops = {*ends, tokenizer.pad_token_id}
    return [_answer(tokenizer, row.tolist(), stops, max_new_tokens, greedy) for row in new_tokens]


def _answer(tokenizer, tokens: list[int], stops: set, max_new_tokens: int, loops: bool) -> Generation:
    """The decoded answer; one that :class:`StopLoops` ended (``loops``: greedy) keeps one copy of the block."""
    ended = next((i for i, token in enumerate(tokens) if token in stops), None)
    period = loop_period(tokens if ended is None else tokens[:ended]) if loops else 0
    if not period:
        cut = ended is None and len(tokens) >= max_new_tokens
        return Generation(tokenizer.decode(tokens, skip_special_tokens=True).strip(), cut)
    answer = tokens[: (len(tokens) if ended is None else ended) - period * (loop_repeats(period) - 1)]
    return Generation(tokenizer.decode(answer, skip_special_tokens=True).strip(), cut=False, looped=True)

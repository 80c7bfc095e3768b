"""Batched generation, greedy or beam search: left padding, KV cache, prompts sorted by length (little waste)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tunesmith.models.decoding import generate_kwargs


@dataclass(frozen=True)
class Generation:
    text: str
    cut: bool  # stopped by max_new_tokens, not by an end-of-turn token


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
        with tqdm(total=len(prompts), desc=description, unit="ex", dynamic_ncols=True) as bar:
            for start in range(0, len(order), prompts_per_call):
                chunk = order[start : start + prompts_per_call]
                texts = _generate_batch(model, tokenizer, [prompts[i] for i in chunk], max_new_tokens, bf16, settings)
                for index, text in zip(chunk, texts):
                    answers[index] = text
                bar.update(len(chunk))
    finally:
        tokenizer.padding_side = previous_side
    return answers


@torch.inference_mode()
def _generate_batch(model, tokenizer, prompts, max_new_tokens: int, bf16: bool, settings=None) -> list[Generation]:
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    options = generate_kwargs(model, settings, prompt_length=batch["input_ids"].shape[1])
    with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16):
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            use_cache=True,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **options,
        )
    # A decoder returns prompt + answer; an encoder-decoder's output is the answer after its start token.
    new_tokens = output[:, 1:] if model.config.is_encoder_decoder else output[:, batch["input_ids"].shape[1] :]
    texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    stops = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    cut = [new_tokens.shape[1] >= max_new_tokens and not stops & set(row.tolist()) for row in new_tokens]
    return [Generation(text.strip(), bool(was_cut)) for text, was_cut in zip(texts, cut)]

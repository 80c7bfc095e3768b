"""Batched greedy generation: left padding, KV cache, prompts sorted by length so batches waste little."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


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
) -> list[Generation]:
    """Greedy answers for already-templated ``prompts``, in the order given, each marked if it was cut short."""
    from tqdm.auto import tqdm

    order = sorted(range(len(prompts)), key=lambda index: len(prompts[index]), reverse=True)
    answers: list[Generation] = [Generation("", False)] * len(prompts)
    previous_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    model.eval()
    try:
        with tqdm(total=len(prompts), desc=description, unit="ex", dynamic_ncols=True) as bar:
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                texts = _generate_batch(model, tokenizer, [prompts[i] for i in chunk], max_new_tokens, bf16)
                for index, text in zip(chunk, texts):
                    answers[index] = text
                bar.update(len(chunk))
    finally:
        tokenizer.padding_side = previous_side
    return answers


@torch.inference_mode()
def _generate_batch(model, tokenizer, prompts: list[str], max_new_tokens: int, bf16: bool) -> list[Generation]:
    batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16):
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            use_cache=True,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    new_tokens = output[:, batch["input_ids"].shape[1] :]
    texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    stops = {tokenizer.eos_token_id, tokenizer.pad_token_id}
    cut = [new_tokens.shape[1] >= max_new_tokens and not stops & set(row.tolist()) for row in new_tokens]
    return [Generation(text.strip(), bool(was_cut)) for text, was_cut in zip(texts, cut)]

"""Perplexity of the reference answers: how likely the model finds the right answer, token by token.

Teacher-forced, on the assistant tokens only (the same labels training uses), in length-sorted batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from tunesmith.data import Example


def answer_nll(
    model, tokenizer, examples: Sequence[Example], system_prompt: str | None, max_length: int, batch_size: int = 8
) -> list[tuple[float, int]]:
    """``(summed negative log-likelihood, answer tokens)`` per example, in the order given."""
    from tunesmith.tasks.causal import encode_example

    encoded = [encode_example(tokenizer, example, max_length, system_prompt) for example in examples]
    order = sorted(range(len(encoded)), key=lambda index: len(encoded[index]["input_ids"]))
    results: list[tuple[float, int]] = [(0.0, 0)] * len(encoded)
    model.eval()
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        for index, value in zip(chunk, _batch_nll(model, [encoded[i] for i in chunk], tokenizer.pad_token_id)):
            results[index] = value
    return results


def perplexity(nll_and_counts: Sequence[tuple[float, int]]) -> float:
    """exp(total NLL / total answer tokens): the corpus perplexity, dominated by neither short nor long answers."""
    total_tokens = sum(count for _, count in nll_and_counts)
    if total_tokens == 0:
        return float("nan")
    return math.exp(sum(nll for nll, _ in nll_and_counts) / total_tokens)


@torch.inference_mode()
def _batch_nll(model, rows: list[dict], pad_token_id: int) -> list[tuple[float, int]]:
    width = max(len(row["input_ids"]) for row in rows)
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        n = len(row["input_ids"])
        input_ids[i, :n] = torch.tensor(row["input_ids"])
        labels[i, :n] = torch.tensor(row["labels"])
        attention_mask[i, :n] = 1
    device = model.device
    logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits.float()
    shifted_logits, shifted_labels = logits[:, :-1], labels[:, 1:].to(device)
    losses = torch.nn.functional.cross_entropy(
        shifted_logits.transpose(1, 2), shifted_labels, ignore_index=-100, reduction="none"
    )
    counts = (shifted_labels != -100).sum(dim=1)
    return [(float(loss), int(count)) for loss, count in zip(losses.sum(dim=1), counts)]

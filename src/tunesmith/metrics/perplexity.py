"""Perplexity of the reference answers: how likely the model finds the right answer, token by token.

Teacher-forced, on the assistant tokens only (the same labels training uses), in length-sorted batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from tunesmith.data import Example
from tunesmith.models.chat import encode_example, encode_seq2seq_example, training_collator
from tunesmith.models.heads import IGNORE_INDEX, answer_logits, supports_answer_only_head


def answer_nll(
    model, tokenizer, examples: Sequence[Example], system_prompt: str | None, max_length: int, batch_size: int = 8
) -> list[tuple[float, int]]:
    """``(summed negative log-likelihood, answer tokens)`` per example, in the order given."""
    if model.config.is_encoder_decoder:
        encoded = [encode_seq2seq_example(tokenizer, example, max_length, max_length) for example in examples]
    else:
        encoded = [encode_example(tokenizer, example, max_length, system_prompt) for example in examples]
    collate = training_collator(tokenizer, packing=False)  # the padding training uses: labels padded with -100
    order = sorted(range(len(encoded)), key=lambda index: len(encoded[index]["input_ids"]))
    results: list[tuple[float, int]] = [(0.0, 0)] * len(encoded)
    model.eval()
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        for index, value in zip(chunk, _batch_nll(model, collate([encoded[i] for i in chunk]))):
            results[index] = value
    return results


def perplexity(nll_and_counts: Sequence[tuple[float, int]]) -> float:
    """exp(total NLL / total answer tokens): the corpus perplexity, dominated by neither short nor long answers."""
    total_tokens = sum(count for _, count in nll_and_counts)
    if total_tokens == 0:
        return float("nan")
    return math.exp(sum(nll for nll, _ in nll_and_counts) / total_tokens)


@torch.inference_mode()
def _batch_nll(model, batch) -> list[tuple[float, int]]:
    batch = {name: batch[name].to(model.device) for name in ("input_ids", "attention_mask", "labels")}
    if supports_answer_only_head(model):
        return _answer_only_nll(model, batch)
    input_ids, attention_mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    if model.config.is_encoder_decoder:  # the decoder's logits line up with the labels already
        logits = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels).logits.float()
        shifted_logits, shifted_labels = logits, labels
    else:
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
        shifted_logits, shifted_labels = logits[:, :-1], labels[:, 1:]
    losses = torch.nn.functional.cross_entropy(
        shifted_logits.transpose(1, 2), shifted_labels, ignore_index=IGNORE_INDEX, reduction="none"
    )
    counts = (shifted_labels != IGNORE_INDEX).sum(dim=1)
    return [(float(loss), int(count)) for loss, count in zip(losses.sum(dim=1), counts)]


def _answer_only_nll(model, batch) -> list[tuple[float, int]]:
    # Logits of the answer positions only: on SAMSum (8 dialogues of ~900 tokens, 49k vocabulary) the full
    # logits and their log-softmax took ~5 GiB, more than training's whole peak.
    logits, targets, keep = answer_logits(model, batch)
    losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    sums = torch.zeros(keep.shape[0], dtype=losses.dtype, device=losses.device)
    sums.index_add_(0, keep.nonzero()[:, 0], losses)  # each kept position's loss onto its row
    return [(float(loss), int(count)) for loss, count in zip(sums, keep.sum(dim=1))]

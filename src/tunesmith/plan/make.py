"""Choose hyperparameters from the data, the model and the machine; every value carries its reason.

A value set in the config always wins; the plan then says so instead of giving its own reason.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from tunesmith.plan.hardware import Hardware
from tunesmith.plan.model_info import ModelInfo
from tunesmith.plan.profile import DataProfile

# (examples up to, epochs): little data needs more passes for the facts to stick. On the bundled demo
# (200 examples) validation loss on re-worded questions still falls at epoch 10.
EPOCHS_BY_SIZE = ((400, 10), (1_000, 6), (5_000, 3), (math.inf, 2))
# Summaries teach a style and a length, not facts: one epoch of the usual recipe on ~740 SAMSum dialogues
# already lifts ROUGE-1 from ~0.23 to ~0.40, so far fewer passes.
SUMMARY_EPOCHS_BY_SIZE = ((500, 3), (2_000, 2), (math.inf, 1))
# On 679 SAMSum dialogues (SmolLM2-135M, 2 epochs), 3e-4 instead of the facts rate 1e-3: validation loss 1.547 vs
# 1.565, ROUGE-1 0.406 vs 0.394 on 98 held-out dialogues.
SUMMARY_RATE_SHARE = 0.3
# (examples up to, LoRA rank): rank grows with the amount there is to learn; on CPU it costs almost nothing.
RANK_BY_SIZE = ((1_000, 32), (math.inf, 64))
# (examples up to, examples per optimiser step): small batches give small datasets enough steps.
EFFECTIVE_BATCH_BY_SIZE = ((1_000, 8), (10_000, 16), (math.inf, 32))
MAX_LENGTH_CAP = {"cpu": 1024, "cuda": 4096}
# Most tokens in one forward pass (micro-batch x max_length). On a CPU, peak memory follows it: on the MSU Q&A
# (sequences up to 128 tokens), micro-batch 4 ran at 405 tokens/s with a 1.94 GiB peak, micro-batch 8 at 472
# with 2.53 GiB (bench/train_three_way.py); the smaller pass keeps a laptop's memory for the rest.
TOKENS_PER_MICRO_BATCH = {"cpu": 512, "cuda": 16384}
WARMUP_RATIO = 0.06
# Share of the measured matmul peak that LoRA training reaches (measured: SmolLM2-135M, bf16, 2 CPU cores).
TRAIN_EFFICIENCY = {"cpu": 0.23, "cuda": 0.35}
# Share of it that batched greedy decoding reaches (measured: SmolLM2-135M, batch 16, 2 CPU cores).
GENERATION_EFFICIENCY = {"cpu": 0.07, "cuda": 0.02}
GENERATION_BEAMS = {"fast": 1, "quality": 4}
QUALITY_MODE_MINUTES = 15  # the plan picks beam search for summaries when scoring with it fits in this
PADDING_OVERHEAD = 1.1  # with length-grouped batches
RUNTIME_OVERHEAD_GB = 1.2  # Python, torch, transformers, tokenizer


@dataclass(frozen=True)
class Choice:
    value: Any
    reason: str
    source: str  # "config" or "plan"


@dataclass
class Estimate:
    steps_per_epoch: int
    total_steps: int
    train_tokens: int
    train_minutes: float
    eval_minutes: float
    peak_memory_gb: float


@dataclass
class Plan:
    choices: dict[str, Choice]
    estimate: Estimate
    hardware: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.choices[name].value

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        """Read back a plan written by :meth:`to_dict` (a run folder's plan.json)."""
        return cls(
            choices={name: Choice(**choice) for name, choice in data["choices"].items()},
            estimate=Estimate(**data["estimate"]),
            hardware=data.get("hardware", {}),
            model=data.get("model", {}),
            data=data.get("data", {}),
        )


def make_plan(profile: DataProfile, config, hardware: Hardware, model: ModelInfo) -> Plan:
    """Build the plan for ``config`` (a RunConfig) on this data, model and machine."""
    n = profile.n_train
    chooser = _Chooser()
    training, lora, schedule = config.training, config.lora, config.schedule

    chooser.pick("max_length", training.max_length, *_max_length(profile, model, hardware))
    rank = _by_size(RANK_BY_SIZE, n)
    chooser.pick("lora_r", lora.r, rank, f"{n} training examples: room for their facts, still a small adapter")
    r = chooser["lora_r"]
    chooser.pick("lora_alpha", lora.alpha, 2 * r, "2 x rank, the usual scale for LoRA updates")
    chooser.pick(
        "target_modules", lora.target_modules, "all-linear", "attention and MLP layers: facts live in the MLP"
    )
    if config.task == "summarization":
        epochs_reason = f"{n} examples: a summary's style and length are learned in a few passes"
        chooser.pick("epochs", training.epochs, _by_size(SUMMARY_EPOCHS_BY_SIZE, n), epochs_reason)
    else:
        chooser.pick(
            "epochs", training.epochs, _by_size(EPOCHS_BY_SIZE, n), f"{n} examples: more passes to learn facts"
        )
    rate, rate_reason = _task_learning_rate(config.task, model)
    chooser.pick("learning_rate", training.learning_rate, rate, rate_reason)
    effective = min(_by_size(EFFECTIVE_BATCH_BY_SIZE, n), max(1, n))
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
    chooser.pick("bf16", training.bf16, hardware.bf16, _bf16_reason(hardware))
    global_batch = chooser["batch_size"] * chooser["grad_accum"] * world
    steps_per_epoch = math.ceil(n / global_batch) if n else 0
    _fit_time_budget(chooser, profile, hardware, model, training.time_budget_minutes)
    total_steps = training.max_steps or max(1, math.ceil(steps_per_epoch * chooser["epochs"]))
    chooser.pick(
        "warmup_steps",
        None if schedule.warmup_ratio is None else round(schedule.warmup_ratio * total_steps),
        max(1, round(WARMUP_RATIO * total_steps)),
        f"{WARMUP_RATIO:.0%} of {total_steps} steps",
    )
    chooser.pick(
        "max_new_tokens",
        config.evaluation.max_new_tokens,
        min(1024, _round_up(int(profile.answer.max * 1.25) + 8, 8)),
        f"longest reference answer ({profile.answer.max} tokens) + 25%",
    )
    _pick_generation(chooser, config, profile, hardware, model)
    estimate = _estimate(chooser, profile, hardware, model, steps_per_epoch, total_steps, config)
    chooser.pick("gradient_checkpointing", training.gradient_checkpointing, *_checkpointing(estimate, hardware))
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


class _Chooser:
    def __init__(self) -> None:
        self.choices: dict[str, Choice] = {}

    def pick(self, name: str, configured: Any, planned: Any, reason: str) -> None:
        if configured is not None:
            self.choices[name] = Choice(configured, "set in the config", "config")
        else:
            self.choices[name] = Choice(planned, reason, "plan")

    def __getitem__(self, name: str) -> Any:
        return self.choices[name].value


def _checkpointing(estimate: Estimate, hardware: Hardware) -> tuple[bool, str]:
    """Recompute activations (about a third more compute) only when the estimated peak does not fit."""
    # CPU processes of one run share the machine's memory; each GPU process has its own device.
    sharing = hardware.world_size if hardware.device == "cpu" else 1
    needed = estimate.peak_memory_gb * sharing
    what = f"estimated peak {estimate.peak_memory_gb:.1f} GiB" + (f" x {sharing} processes" if sharing > 1 else "")
    if hardware.memory_gb and needed > hardware.memory_gb:
        return True, f"{what} > {hardware.memory_gb:.1f} GiB of memory: recompute activations in the backward pass"
    return False, f"{what} fits in {hardware.memory_gb:.1f} GiB"


def _by_size(table: tuple, n: int) -> Any:
    return next(value for limit, value in table if n <= limit)


def _round_up(value: int, multiple: int) -> int:
    return max(multiple, math.ceil(value / multiple) * multiple)


def _max_length(profile: DataProfile, model: ModelInfo, hardware: Hardware) -> tuple[int, str]:
    # Cut answers lose the facts they carry, so cover the longest example unless it is an outlier.
    longest, p99 = profile.sequence.max, profile.sequence.p99
    if longest <= MAX_LENGTH_CAP[hardware.device] and longest <= 2 * p99:
        return min(model.max_positions, _round_up(longest, 16)), f"fits the longest example ({longest} tokens)"
    return min(model.max_positions, _round_up(p99, 16)), f"covers 99% of examples ({p99} tokens; longest {longest})"


def _learning_rate(model: ModelInfo) -> float:
    # Facts need a higher rate than style: on the demo, 1e-3 beat 5e-4 (token F1 0.34 vs 0.26 on unseen wordings).
    if model.n_params < 500e6:
        return 1e-3
    if model.n_params < 3e9:
        return 4e-4
    return 2e-4


def _task_learning_rate(task: str, model: ModelInfo) -> tuple[float, str]:
    if task == "summarization":
        return round(_learning_rate(model) * SUMMARY_RATE_SHARE, 12), "30% of the facts rate: summaries teach a style"
    return _learning_rate(model), "high for a small model: facts, not only style"


def _bf16_reason(hardware: Hardware) -> str:
    if hardware.bf16:
        return f"{hardware.device} computes bf16 natively: ~1.6x faster than fp32 (bench/train_step_speed.py)"
    return f"{hardware.device} has no native bf16: fp32 is faster"


def _train_seconds(tokens: float, hardware: Hardware, model: ModelInfo, bf16: bool) -> float:
    # LoRA: forward (2N) and backward through activations (2N) flops per token; frozen weights get no gradients.
    flops = 4 * model.n_params * tokens
    speed = _run_gflops(hardware) * 1e9 * TRAIN_EFFICIENCY[hardware.device]
    if hardware.bf16 and not bf16:
        speed /= 4  # the measured peak is bf16's; fp32 runs at about a quarter of it on such CPUs
    return flops / speed


def _run_gflops(hardware: Hardware) -> float:
    """The run's matmul speed: one GPU per process adds up; CPU processes share the cores already measured."""
    return hardware.matmul_gflops * (hardware.world_size if hardware.device == "cuda" else 1)


def _epoch_tokens(chooser: _Chooser, profile: DataProfile) -> float:
    return min(profile.train_tokens, profile.n_train * chooser["max_length"]) * PADDING_OVERHEAD


def _fit_time_budget(chooser, profile, hardware, model, budget_minutes) -> None:
    if budget_minutes is None or chooser.choices["epochs"].source == "config":
        return
    per_epoch = _train_seconds(_epoch_tokens(chooser, profile), hardware, model, chooser["bf16"]) / 60
    affordable = math.floor(budget_minutes / per_epoch) if per_epoch else chooser["epochs"]
    if affordable < chooser["epochs"]:
        epochs = max(1, affordable)
        reason = (
            f"cut from {chooser['epochs']} to fit time_budget_minutes={budget_minutes:g} (~{per_epoch:.1f} min/epoch)"
        )
        chooser.choices["epochs"] = Choice(epochs, reason, "plan")


def _estimate(chooser, profile, hardware, model, steps_per_epoch, total_steps, config) -> Estimate:
    epochs = total_steps / steps_per_epoch if steps_per_epoch else 0
    tokens = _epoch_tokens(chooser, profile) * epochs
    train_seconds = _train_seconds(tokens, hardware, model, chooser["bf16"])
    eval_seconds = _eval_seconds(profile, config.evaluation, chooser["max_new_tokens"], hardware, model)
    eval_seconds *= chooser["num_beams"]  # each beam decodes like one more sequence in the batch
    return Estimate(
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        train_tokens=int(tokens),
        train_minutes=train_seconds / 60,
        eval_minutes=eval_seconds / 60,
        peak_memory_gb=_peak_memory_gb(chooser, model, profile),
    )


def _eval_seconds(
    profile: DataProfile, evaluation, max_new_tokens: int, hardware: Hardware, model: ModelInfo
) -> float:
    """Upper bound: every batch decodes max_new_tokens steps (the base model often does; a tuned one stops early)."""
    n_test = min(profile.n_test, evaluation.max_examples or profile.n_test)
    batch = min(evaluation.batch_size, max(1, n_test))
    decode_steps = math.ceil(n_test / batch) * max_new_tokens * (2 if evaluation.compare_base else 1)
    flops_per_step = 2 * model.n_params * batch
    return decode_steps * flops_per_step / (hardware.matmul_gflops * 1e9 * GENERATION_EFFICIENCY[hardware.device])


def _pick_generation(chooser: _Chooser, config, profile: DataProfile, hardware: Hardware, model: ModelInfo) -> None:
    """Fast (greedy) or quality (beam search) scoring, with both time estimates in the reason."""
    evaluation, summarizing = config.evaluation, config.task == "summarization"
    greedy = _eval_seconds(profile, evaluation, chooser["max_new_tokens"], hardware, model) / 60
    minutes = {mode: greedy * beams for mode, beams in GENERATION_BEAMS.items()}
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
        (3, "summaries: no repeated trigrams") if summarizing else (0, "answers may repeat a URL or number")
    )
    chooser.pick("no_repeat_ngram_size", evaluation.no_repeat_ngram_size, no_repeat, reason)
    chooser.pick("length_penalty", evaluation.length_penalty, 1.0, "neutral: lengths as the training data had them")


def generation_settings(plan: Plan) -> dict:
    """The ``model.generate`` options a plan chose (plans written before these choices existed: greedy)."""
    settings = {}
    beams = plan.choices.get("num_beams")
    if beams and beams.value > 1:
        settings |= {"num_beams": beams.value, "length_penalty": plan["length_penalty"], "early_stopping": True}
    no_repeat = plan.choices.get("no_repeat_ngram_size")
    if no_repeat and no_repeat.value:
        settings["no_repeat_ngram_size"] = no_repeat.value
    return settings


def _peak_memory_gb(chooser: _Chooser, model: ModelInfo, profile: DataProfile) -> float:
    """Fitted to measured peaks (SmolLM2-135M, bf16, CPU: 3.9 GiB on the demo, 4.5 GiB on the MSU data)."""
    weights = model.n_params * 4 * (1.5 if chooser["bf16"] else 1.0)  # fp32 weights + bf16 autocast copies
    typical_tokens = chooser["batch_size"] * min(chooser["max_length"], profile.sequence.p95)
    activations = typical_tokens * model.n_layers * model.hidden_size * (130 if chooser["bf16"] else 260)
    answer_tokens = chooser["batch_size"] * min(chooser["max_length"], profile.answer.max)
    logits = answer_tokens * model.vocab_size * 12  # fp32 logits of the answer tokens, their gradient, a bf16 copy
    return RUNTIME_OVERHEAD_GB + (weights + activations + logits) / 2**30

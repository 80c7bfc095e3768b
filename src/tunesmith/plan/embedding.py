"""The plan of an embedding run: each value with its reason, and a time estimate from measured speeds.

A value set in the config (``embedding:``, ``training:``, ``lora:``) always wins.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from tunesmith.config.embedding import RANKING_LOSSES
from tunesmith.data.pairs import PairSet
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
from tunesmith.plan.profile import LengthStats

# The planner's numbers, each with the measurement it came from: see tunesmith.plan.constants.
EPOCHS_BY_SIZE = value("embedding.EPOCHS_BY_SIZE")
FULL_FINETUNE_UP_TO = value("embedding.FULL_FINETUNE_UP_TO")
LEARNING_RATE = values("embedding.LEARNING_RATE")
LORA_RANK = value("embedding.LORA_RANK")
BATCH_SIZE = values("embedding.BATCH_SIZE")
SIMCSE_FULL_EPOCHS = value("embedding.SIMCSE_FULL_EPOCHS")
SIMCSE_FULL_LEARNING_RATE = value("embedding.SIMCSE_FULL_LEARNING_RATE")
SIMCSE_REASON = "SimCSE alone: one gentle pass keeps what the model knew (stronger runs lost NDCG on IT tickets)"
MATRYOSHKA_DIMS = value("embedding.MATRYOSHKA_DIMS")
CLASS_NEGATIVES = value("embedding.CLASS_NEGATIVES")
WARMUP_RATIO = value("embedding.WARMUP_RATIO")
SPEED_MEASURED_AT_TOKENS = value("embedding.SPEED_MEASURED_AT_TOKENS")
MEASURED_TEXTS_PER_SECOND = values("embedding.TRAIN_TEXTS_PER_SECOND")  # bf16 autocast where the device has it
FP32_CPU_TEXTS_PER_SECOND = value("embedding.TRAIN_TEXTS_PER_SECOND_FP32.cpu")
ENCODE_TEXTS_PER_SECOND = values("embedding.ENCODE_TEXTS_PER_SECOND")
RUNTIME_OVERHEAD_GB = value("embedding.RUNTIME_OVERHEAD_GB")
ACTIVATION_BYTES = value("embedding.ACTIVATION_BYTES")
MAX_SEQ_CAP = value("embedding.MAX_SEQ_CAP")
BF16_GAIN = "faster training steps (autocast; weights stay fp32)"


@dataclass(frozen=True)
class EmbeddingProfile:
    """The facts about an embedding data set that its plan needs."""

    shape: str
    n_train: int
    n_valid: int
    n_test: int
    n_categories: int
    sequence: LengthStats  # tokens per text
    train_tokens: int
    texts_per_record: float
    test_texts: int

    def to_dict(self) -> dict:
        return asdict(self)


def profile_pairs(
    train: PairSet, test: PairSet | None, tokenizer, sample: int = 2000, valid: PairSet | None = None
) -> EmbeddingProfile:
    """Sizes and token lengths (of a sample of up to ``sample`` texts) with the model's tokenizer."""
    texts = train.texts()
    measured = texts[:: max(1, len(texts) // sample)][:sample]
    lengths = [len(ids) for ids in tokenizer(measured, add_special_tokens=True)["input_ids"]] if measured else []
    per_record = len(texts) / max(1, len(train))
    mean = sum(lengths) / len(lengths) if lengths else 0
    categories = {r.label for r in train.records if getattr(r, "label", None) is not None}
    return EmbeddingProfile(
        shape=train.shape,
        n_train=len(train),
        n_valid=len(valid) if valid else 0,
        n_test=len(test) if test else 0,
        n_categories=len(categories),
        sequence=LengthStats.of(lengths),
        train_tokens=int(mean * len(texts)),
        texts_per_record=round(per_record, 2),
        test_texts=len(test.texts()) if test else 0,
    )


def make_embedding_plan(profile: EmbeddingProfile, config, hardware: Hardware, model: ModelInfo) -> Plan:
    """Choose method, loss, dimensions, lengths and the optimisation settings of an embedding run."""
    settings, training, lora = config.embedding, config.training, config.lora
    n = profile.n_train
    chooser = Chooser()
    method = "full" if model.n_params <= FULL_FINETUNE_UP_TO else "lora"
    chooser.pick(
        "method",
        None if settings.method == "auto" else settings.method,
        method,
        f"{model.n_params / 1e6:.0f}M parameters: "
        + ("full fine-tuning is as fast as LoRA on this size and learns more" if method == "full" else "LoRA fits"),
    )
    if chooser["method"] == "lora":
        chooser.pick(
            "lora_r", lora.r, LORA_RANK, "enough rank for a domain's vocabulary; cheap on an encoder this size"
        )
        chooser.pick("lora_alpha", lora.alpha, 2 * chooser["lora_r"], "2 x rank, the usual scale for LoRA updates")
        chooser.pick("target_modules", lora.target_modules, "all-linear", "attention and feed-forward layers")
    loss, loss_reason = _loss(profile.shape, settings)
    chooser.pick("loss", None if settings.loss == "auto" else settings.loss, loss, loss_reason)
    ranking = chooser["loss"] in RANKING_LOSSES
    chooser.pick(
        "positives_mnrl",
        settings.positives_mnrl,
        False,
        "off: CoSENT alone already learns from every scored pair; turn on to add in-batch ranking of positives",
    )
    negatives, negatives_reason = _negatives(profile.shape, settings)
    chooser.pick(
        "hard_negatives",
        None if settings.hard_negatives == "auto" else settings.hard_negatives,
        negatives,
        negatives_reason,
    )
    dims = [model.hidden_size, *(dim for dim in MATRYOSHKA_DIMS if dim < model.hidden_size)]
    chooser.pick(
        "matryoshka_dims",
        settings.matryoshka_dims,
        dims,
        "MatryoshkaLoss: the first 256/128/64 coordinates stay usable on their own (smaller indexes)",
    )
    chooser.pick("max_seq_length", settings.max_seq_length, *_max_seq_length(profile, model))
    chooser.pick("bf16", training.bf16, hardware.bf16, bf16_reason(hardware, BF16_GAIN))
    simcse = settings.simcse != "off" or profile.shape == "texts"
    rows = round(n * _records_factor(profile, settings))
    rate_key = chooser["method"]
    if _unsupervised_full(settings, profile, rate_key):
        chooser.pick("epochs", training.epochs, SIMCSE_FULL_EPOCHS, SIMCSE_REASON)
        chooser.pick("learning_rate", training.learning_rate, SIMCSE_FULL_LEARNING_RATE, SIMCSE_REASON)
    else:
        chooser.pick("epochs", training.epochs, by_size(EPOCHS_BY_SIZE, rows), f"{rows} training rows at this rate")
        chooser.pick(
            "learning_rate",
            training.learning_rate,
            LEARNING_RATE[rate_key],
            "LoRA adapters start at zero and need a high rate"
            if rate_key == "lora"
            else "2.5x the usual 2e-5: fewer epochs at a higher rate (measured on STS-B)",
        )
    batch = BATCH_SIZE["ranking" if ranking or simcse else "pair"]
    chooser.pick(
        "batch_size",
        training.batch_size,
        min(batch, max(2, n)),
        f"{batch - 1} in-batch negatives per positive" if ranking or simcse else "pairs per step for CoSENT's ranking",
    )
    chooser.pick(
        "ensemble_members",
        settings.ensemble_members,
        1,
        "one model: on STS-B three seeds of MiniLM-L6 scored 0.8847 together against 0.8852 for the first alone, and "
        "distilled 0.8812, in 3.8x the training time (bench/embedding_stsb.py --ensembles 3)",
    )
    if chooser["ensemble_members"] > 1:
        chooser.pick(
            "distill_epochs",
            settings.distill_epochs,
            1.0,
            f"one pass over the training texts towards the {chooser['ensemble_members']} members' mean embedding",
        )
    factor = _records_factor(profile, settings, chooser["hard_negatives"])
    steps_per_epoch = math.ceil(n * factor / chooser["batch_size"]) if n else 0
    _fit_time_budget(chooser, profile, hardware, model, steps_per_epoch, training.time_budget_minutes)
    total_steps = training.max_steps or max(1, math.ceil(steps_per_epoch * chooser["epochs"]))
    chooser.pick(
        "warmup_steps",
        None if config.schedule.warmup_ratio is None else round(config.schedule.warmup_ratio * total_steps),
        max(1, round(WARMUP_RATIO * total_steps)),
        f"{WARMUP_RATIO:.0%} of {total_steps} steps",
    )
    estimate = _estimate(profile, hardware, chooser, steps_per_epoch, total_steps, model)
    return Plan(chooser.choices, estimate, hardware=hardware.to_dict(), model=model.to_dict(), data=profile.to_dict())


def _unsupervised_full(settings, profile: EmbeddingProfile, method: str) -> bool:
    return method == "full" and (settings.simcse == "only" or profile.shape == "texts")


def _loss(shape: str, settings) -> tuple[str, str]:
    if shape in ("scored_pairs", "labelled_pairs"):
        return "cosent", "CoSENT: learns the order of the pairs' scores, the best pair loss in the library's docs"
    if shape == "classes":
        return "cosent", "CoSENT on pairs built from the labels: in-batch negatives would often share a label"
    return "mnrl", "in-batch negatives: every other text in the batch is a negative"


def _records_factor(profile: EmbeddingProfile, settings, negatives: str = "off") -> float:
    """Training rows per record: classes build ``pairs_per_text`` pairs per text, half of them positives, which
    hard negatives add again as (anchor, positive, negative) rows for in-batch ranking."""
    if profile.shape != "classes":
        return 1.0
    return settings.pairs_per_text * (1.5 if negatives != "off" else 1.0)


def _negatives(shape: str, settings) -> tuple[str, str]:
    if settings.simcse == "only" or shape == "texts":
        return "off", "texts alone have no positive pairs to mine negatives for"
    if shape == "classes":
        return CLASS_NEGATIVES, (
            f"{CLASS_NEGATIVES} hard negatives of another class beside in-batch ranking of same-class pairs "
            "(IT tickets: NDCG@10 +0.05 over CoSENT alone, at about 1.5x the training rows)"
        )
    return "off", f"not yet measured to pay on {shape.replace('_', ' ')} (set tfidf or dense to try)"


def _max_seq_length(profile: EmbeddingProfile, model: ModelInfo) -> tuple[int, str]:
    longest, p95 = profile.sequence.max, profile.sequence.p95
    cap = min(MAX_SEQ_CAP, model.max_positions)
    if longest <= cap:
        return max(16, round_up(longest, 8)), f"fits the longest text ({longest} tokens)"
    if p95 <= cap:
        return max(16, round_up(p95, 8)), f"covers 95% of texts ({p95} tokens; longest {longest} is cut)"
    return cap, f"cut at {cap} tokens for CPU cost (95% of texts fit in {p95}; longest {longest})"


def _peak_memory_gb(chooser, model: ModelInfo) -> float:
    """Runtime + weights with their gradients and two Adam moments (full) or frozen weights (LoRA) + activations."""
    trained_bytes = 16 if chooser["method"] == "full" else 4
    tokens = chooser["batch_size"] * 3 * chooser["max_seq_length"]
    activations = tokens * model.hidden_size * model.n_layers * ACTIVATION_BYTES
    return RUNTIME_OVERHEAD_GB + (model.n_params * trained_bytes + activations) / 2**30


def _fit_time_budget(chooser, profile, hardware, model, steps_per_epoch: int, budget_minutes) -> None:
    if steps_per_epoch:
        per_epoch = _estimate(profile, hardware, chooser, steps_per_epoch, steps_per_epoch, model).train_minutes
        fit_epochs_to_budget(chooser, per_epoch, budget_minutes)


def _estimate(profile, hardware, chooser, steps_per_epoch, total_steps, model) -> Estimate:
    rows = total_steps * chooser["batch_size"]
    texts = rows * max(2.0, profile.texts_per_record)
    # Speeds were measured at ~16 tokens a text; longer texts cost in proportion.
    at = SPEED_MEASURED_AT_TOKENS
    length_factor = max(1.0, min(chooser["max_seq_length"], profile.sequence.mean or at) / at)
    speed = MEASURED_TEXTS_PER_SECOND[hardware.device]
    if hardware.device == "cpu" and not chooser["bf16"]:
        speed = FP32_CPU_TEXTS_PER_SECOND
    train_seconds = texts * length_factor / speed
    # validation after each epoch (its texts encoded once) belongs to training; the test split is scored twice
    epochs = total_steps / steps_per_epoch if steps_per_epoch else 0
    valid_texts = profile.n_valid * max(2.0, profile.texts_per_record) * math.ceil(epochs)
    train_seconds += valid_texts * length_factor / ENCODE_TEXTS_PER_SECOND[hardware.device]
    scored = 2  # the base and the tuned model
    members = chooser["ensemble_members"]
    if members > 1:  # every member trains as long; the teacher encodes the texts; the student learns them
        train_texts = profile.n_train * profile.texts_per_record
        train_seconds *= members
        train_seconds += (
            length_factor
            * train_texts
            * (members / ENCODE_TEXTS_PER_SECOND[hardware.device] + chooser["distill_epochs"] / speed)
        )
        scored += 2 * members  # each member alone, then all of them again as the ensemble
    eval_seconds = scored * profile.test_texts * length_factor / ENCODE_TEXTS_PER_SECOND[hardware.device]
    return Estimate(
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        train_tokens=int(texts * (profile.sequence.mean or 0)),
        train_minutes=train_seconds / 60,
        eval_minutes=eval_seconds / 60,
        peak_memory_gb=_peak_memory_gb(chooser, model),
    )


__all__ = ["Choice", "EmbeddingProfile", "make_embedding_plan", "profile_pairs"]

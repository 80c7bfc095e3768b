"""One ``train()`` over the Hugging Face Trainer: the loop is theirs, the settings and schedule are the plan's."""

from __future__ import annotations

import math
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Sampler
from transformers import PrinterCallback, Trainer, TrainingArguments

from tunesmith.atomic import save_folder
from tunesmith.errors import ConfigError
from tunesmith.models.chat import training_collator
from tunesmith.models.heads import answer_only_loss, plain_model, supports_answer_only_head
from tunesmith.models.load import save_adapter
from tunesmith.runs import RunFolder
from tunesmith.schedules import PlateauReducer, plateau_reducer, schedule_settings
from tunesmith.training.adaptive import ScheduledTrainerMixin
from tunesmith.training.callbacks import log_saved_model, standard_callbacks, train_interruptibly
from tunesmith.training.compiled import compiled_blocks
from tunesmith.training.curriculum import CurriculumSampler, base_loss_scores, label_scores, length_scores
from tunesmith.training.memory import frozen_linears_in_bf16

# A PiSSA adapter as it started (the run folder keeps it: the trained one is saved as the difference from it)
INITIAL_ADAPTER = "adapter-initial"


@dataclass
class TrainResult:
    steps: int
    train_seconds: float
    final_loss: float | None
    validation: list[float]  # the validation metric after each evaluation
    peak_memory_gb: float
    validation_metric: str | None = None  # the trainer's name of it: eval_loss, eval_spearman, ...
    padding_share: float | None = None  # share of the training batches' tokens that were padding
    best_checkpoint: str | None = None  # the checkpoint whose weights were kept (keep_best), by folder name
    best_validation: float | None = None
    stopped_early: bool = False
    sharded: bool = False  # weights were split across processes (FSDP, DeepSpeed ZeRO): score a reloaded copy
    converted: bool = False  # the adapter was saved in another form than the one in memory (PiSSA): score a reload
    stages: list[dict] | None = None  # runs trained in stages: each stage's own result


@dataclass(frozen=True)
class ValidationScorer:
    """A score computed after each evaluation beside the validation loss (the answers to validation questions,
    say), which then decides early stopping and the kept checkpoint: ``score()`` returns the trainer metrics to
    log, ``metric`` among them."""

    metric: str
    score: Callable[[], dict]
    greater_is_better: bool = True


class _TunesmithTrainer(ScheduledTrainerMixin, Trainer):
    """The stock Trainer with tunesmith's pure-function schedule (plus the plateau layer), the curriculum's
    sampler when there is one, a count of padding tokens, and (where the model allows it) the loss computed with
    the vocabulary projection on answer tokens only, which is much faster on a CPU."""

    def __init__(
        self,
        *args,
        schedule: dict,
        plateau: PlateauReducer | None = None,
        sampler=None,
        parent_kl_weight: float = 0.0,
        scorer: ValidationScorer | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._scorer = scorer
        self._curriculum_sampler = sampler
        self.tokens_seen = self.real_tokens_seen = 0  # of the training batches, for the padding share
        self._schedule, self._plateau = schedule, plateau  # read by ScheduledTrainerMixin.create_scheduler
        self._parent_kl_weight = parent_kl_weight
        self._answer_only = supports_answer_only_head(self.model)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        unwrapped = self.accelerator.unwrap_model(model) is model  # wrapped (DDP, ...) models need their forward
        if return_outputs or not self._answer_only or not unwrapped or "labels" not in inputs:
            self.loss_is_scaled_for_ga = None
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        with self.accelerator.autocast():  # accelerate autocasts model.forward only, which this path skips
            loss = answer_only_loss(model, inputs, num_items_in_batch, self._parent_kl_weight)
        self.loss_is_scaled_for_ga = num_items_in_batch is not None
        return loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        ids = inputs["input_ids"]
        self.tokens_seen += ids.numel()
        mask = inputs.get("attention_mask")
        self.real_tokens_seen += int(mask.sum()) if mask is not None else ids.numel()
        return super().training_step(model, inputs, num_items_in_batch)

    def evaluate(self, *args, **kwargs):
        # blocks compiled for the training steps (training.compile) run eager here: the validation pass and the
        # scorer's generated answers would each compile other graphs for a few calls
        with torch.compiler.set_stance("force_eager"):
            return super().evaluate(*args, **kwargs)

    def log(self, logs: dict, *args, **kwargs) -> None:
        if self._scorer is not None and "eval_loss" in logs:
            # in place: Trainer.evaluate logs the very dict it then hands to the callbacks (early stopping) and
            # to the best-checkpoint check, so the score decides both and is in the log beside the loss
            logs.update(self._scorer.score())
        if "loss" in logs and self.tokens_seen:
            logs = {**logs, "padding_share": self.padding_share()}
        super().log(logs, *args, **kwargs)

    def padding_share(self) -> float | None:
        return round(1 - self.real_tokens_seen / self.tokens_seen, 4) if self.tokens_seen else None

    def _get_train_sampler(self, train_dataset=None):
        if self._curriculum_sampler is not None:  # eval data has its own sampler method
            return self._curriculum_sampler
        sampler = super()._get_train_sampler(train_dataset)
        return EpochSeeded(sampler, self.args.seed) if hasattr(sampler, "generator") else sampler


class EpochSeeded(Sampler[int]):
    """transformers' shuffling sampler (length-grouped or random) drawing each epoch's order from (seed, epoch).

    Theirs draws it from the global random state when the epoch starts; a run resumed from a checkpoint inside an
    epoch restores the state of that step, not of the epoch's start, and so would see another order (and end with
    other weights). The trainer sets the epoch before each epoch, on resumed ones too (accelerate forwards it)."""

    def __init__(self, sampler, seed: int) -> None:
        self.sampler, self.seed, self.epoch = sampler, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        self.sampler.generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(self.sampler)


def training_arguments(
    plan,
    config,
    output_dir: Path,
    has_validation: bool,
    use_cpu: bool,
    metric: str = "eval_loss",
    greater_is_better: bool = False,
) -> TrainingArguments:
    training, output = config.training, config.output
    per_epoch = "epoch" if has_validation else "no"
    keep_best = training.keep_best and has_validation and output.save_checkpoints
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=plan["batch_size"],
        per_device_eval_batch_size=plan["batch_size"],
        gradient_accumulation_steps=plan["grad_accum"],
        num_train_epochs=float(plan["epochs"]),
        max_steps=training.max_steps or -1,
        learning_rate=plan["learning_rate"],
        weight_decay=training.weight_decay,
        max_grad_norm=training.max_grad_norm,
        neftune_noise_alpha=training.neftune_alpha,
        bf16=bool(plan["bf16"]),
        use_cpu=use_cpu,
        activation_checkpointing=bool(plan.get("gradient_checkpointing", training.gradient_checkpointing)),
        train_sampling_strategy="group_by_length",
        logging_steps=output.logging_steps,
        eval_strategy=per_epoch,
        save_strategy="epoch" if output.save_checkpoints else "no",
        save_total_limit=output.keep_checkpoints,
        load_best_model_at_end=keep_best,
        metric_for_best_model=metric if has_validation else None,
        greater_is_better=greater_is_better,
        save_only_model=False,
        report_to="none",
        disable_tqdm=True,
        seed=training.seed,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,  # every LoRA weight gets a gradient at every step: skip the search
    )


def curriculum_sampler(training, bundle, train_dataset, epochs: float) -> CurriculumSampler | None:
    """The curriculum's sampler for ``training.curriculum``, or None (length-grouped random batches).

    The difficulty curriculum reads the ``difficulty``/``source`` columns of ``train_dataset``.
    """
    if training.curriculum == "none":
        return None
    if training.curriculum == "difficulty":
        scores = label_scores(train_dataset["difficulty"], train_dataset["source"])
    elif training.curriculum == "length":
        scores = length_scores(train_dataset)
    else:
        scores = base_loss_scores(bundle.model, train_dataset)
    return CurriculumSampler(scores, training.curriculum_phases, math.ceil(epochs), seed=training.seed)


def train(
    bundle,
    train_dataset,
    valid_dataset,
    plan,
    config,
    run: RunFolder,
    use_cpu: bool,
    resume_from: Path | None = None,
    scorer: ValidationScorer | None = None,
) -> TrainResult:
    """Train the bundle's LoRA adapter and save it atomically to ``run/adapter`` (a full fine-tune: the whole
    model, with its tokenizer, to ``run/model``).

    With ``resume_from`` (a complete checkpoint of this run), training continues from it with the optimiser,
    schedule, random state and data order it had, and ends where an uninterrupted run would. With ``scorer``
    (and a validation split), its metric decides early stopping and the kept checkpoint instead of the loss.
    """
    validating = valid_dataset is not None
    metric = scorer.metric if scorer is not None and validating else "eval_loss"
    greater = scorer.greater_is_better if scorer is not None and validating else False
    args = training_arguments(plan, config, run.checkpoints_dir, validating, use_cpu, metric, greater)
    if config.training.packing and bundle.model.config.is_encoder_decoder:
        raise ConfigError("training.packing is for decoder-only models; set it false for encoder-decoder ones")
    collator = training_collator(bundle.tokenizer, config.training.packing)
    schedule = schedule_settings(config.schedule, plan["warmup_steps"])
    plateau = plateau_reducer(config.schedule) if valid_dataset is not None else None
    callbacks = standard_callbacks(
        config.output,
        run.logs_dir,
        schedule,
        use_cpu=use_cpu,
        validation_metric=metric if validating else None,
        greater_is_better=greater,
        plateau=plateau is not None,
        patience=plan.get("early_stopping_patience", config.training.early_stopping_patience),  # older plans lack it
    )
    sampler = curriculum_sampler(config.training, bundle, train_dataset, args.num_train_epochs)
    train_dataset = train_dataset.remove_columns(
        [name for name in ("difficulty", "source") if name in train_dataset.column_names]
    )
    trainer = _TunesmithTrainer(
        model=bundle.model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=valid_dataset,
        data_collator=collator,
        processing_class=bundle.tokenizer,
        callbacks=callbacks,
        schedule=schedule,
        plateau=plateau,
        sampler=sampler,
        parent_kl_weight=config.continual.parent_kl_weight if config.continue_from else 0.0,
        scorer=scorer if validating else None,
    )
    trainer.remove_callback(PrinterCallback)
    initial = run.path / INITIAL_ADAPTER if bundle.residual_base else None
    if initial is not None and trainer.is_world_process_zero() and not (initial / "adapter_config.json").is_file():
        save_folder(initial, lambda folder: save_adapter(bundle.model, folder))  # kept for a resumed run
    base_config = plain_model(bundle.model).config
    use_cache, base_config.use_cache = base_config.use_cache, False  # a cache disables the packed attention mask
    started = time.time()
    try:
        with (
            frozen_linears_in_bf16(bundle.model, enabled=args.bf16),
            compiled_blocks(
                bundle.model, bool(plan.get("compile", config.training.compile)), use_cpu, plan.get("max_length")
            ),
        ):
            output = train_interruptibly(trainer, resume_from)
    finally:
        base_config.use_cache = use_cache
    elapsed = time.time() - started
    sharded = trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled
    # Sharded weights (FSDP, ZeRO-3) are gathered by every process together; the main one writes them.
    state_dict = trainer.accelerator.get_state_dict(trainer.model) if sharded else None
    if trainer.is_world_process_zero():
        target, kind = (run.model_dir, "model") if bundle.full else (run.adapter_dir, "adapter")
        save_folder(target, lambda folder: _save_adapter(bundle, folder, state_dict, initial))
        log_saved_model(callbacks, target, kind)
    history = trainer.state.log_history
    losses = [entry["loss"] for entry in history if "loss" in entry]
    best = trainer.state.best_model_checkpoint if args.load_best_model_at_end else None
    return TrainResult(
        steps=output.global_step,
        train_seconds=round(elapsed, 1),
        final_loss=losses[-1] if losses else None,
        validation=[entry[metric] for entry in history if metric in entry],
        peak_memory_gb=peak_memory_gb(),
        validation_metric=metric if validating else None,
        padding_share=trainer.padding_share(),
        best_checkpoint=Path(best).name if best else None,
        best_validation=trainer.state.best_metric,
        stopped_early=output.global_step < trainer.state.max_steps,
        sharded=sharded,
        converted=initial is not None,
    )


def _save_adapter(bundle, folder: Path, state_dict: dict | None = None, initial: Path | None = None) -> None:
    save_adapter(bundle.model, folder, state_dict, initial)  # a full fine-tune's plain model: the whole model
    bundle.tokenizer.save_pretrained(folder)


def peak_memory_gb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**30 if sys.platform == "darwin" else 2**20), 2)

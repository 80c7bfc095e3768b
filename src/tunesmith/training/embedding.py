"""Train a sentence-transformers model with its own trainer; the schedule is tunesmith's (see :mod:`schedules`)."""

from __future__ import annotations

import time
from pathlib import Path

from sentence_transformers.base.sampler import DefaultBatchSampler

from tunesmith.training.callbacks import ProgressCallback, train_interruptibly
from tunesmith.training.trainer import TrainResult, peak_memory_gb

WINDOW_BATCHES = 50


class LengthGroupedBatchSampler(DefaultBatchSampler):
    """A batch sampler that puts texts of similar length together: less padding, the same data per epoch.

    Each epoch shuffles the rows, sorts them by length inside windows of ``WINDOW_BATCHES`` batches, cuts the
    windows into batches and shuffles the batches, so the order of lengths is random too. Defined at module level:
    checkpoints pickle the training arguments, which name this class.
    """

    def __init__(self, dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0):
        super().__init__(dataset, batch_size, drop_last, valid_label_columns, generator, seed)
        texts = [name for name in dataset.column_names if name not in (valid_label_columns or [])]
        columns = [dataset[name] for name in texts if isinstance(dataset[0][name], str)]
        self.lengths = [sum(len(column[i]) for column in columns) for i in range(len(dataset))]

    def __iter__(self):
        import torch

        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        window = self.batch_size * WINDOW_BATCHES
        batches = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=self.lengths.__getitem__)
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        if self.drop_last:
            batches = [batch for batch in batches if len(batch) == self.batch_size]
        for index in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[index]

    def __len__(self):
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full if self.drop_last or not rest else full + 1


def length_grouped_sampler_class():
    """The length-grouped batch sampler class (what ``batch_sampler`` in the training arguments takes)."""
    return LengthGroupedBatchSampler


def _trainer_class():
    from sentence_transformers import SentenceTransformerTrainer

    from tunesmith.training.adaptive import ScheduledTrainerMixin

    class _EmbeddingTrainer(ScheduledTrainerMixin, SentenceTransformerTrainer):
        def __init__(self, *args, schedule: dict, plateau=None, **kwargs):
            super().__init__(*args, **kwargs)
            self._schedule, self._plateau = schedule, plateau

    return _EmbeddingTrainer


def train_embedding(
    model,
    datasets: dict,
    losses: dict,
    *,
    epochs: float,
    batch_size: int,
    learning_rate: float,
    schedule: dict,
    output_dir: Path,
    log_file: Path | None = None,
    seed: int = 42,
    max_steps: int | None = None,
    weight_decay: float = 0.0,
    max_grad_norm: float = 1.0,
    logging_steps: int = 10,
    use_cpu: bool = True,
    bf16: bool = False,
    group_by_length: bool = False,
    evaluator=None,
    callbacks: list | None = None,
    plateau=None,
    save_checkpoints: bool = False,
    keep_checkpoints: int | None = None,
    keep_best: bool = False,
    resume_from: Path | None = None,
) -> TrainResult:
    """Train ``model`` in place on the named datasets, each with the loss of the same name.

    Several datasets are interleaved proportionally to their sizes, one dataset per batch. Batches hold no text
    twice (in-batch negatives are never copies of the positive) unless ``group_by_length``, which batches texts of
    similar length together (much less padding; for pair losses, whose batches need no distinct texts).

    With an ``evaluator`` (a sentence-transformers evaluator with its ``primary_metric``), the model is scored
    after every epoch; ``keep_best`` then ends with the best epoch's weights (its checkpoint is never rotated
    out). ``callbacks`` replace the default progress log (``log_file``); with ``resume_from`` (a complete
    checkpoint) training continues with the optimiser, schedule, random state and data order it had.
    """
    from accelerate.utils import extract_model_from_parallel
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.training_args import BatchSamplers
    from transformers import PrinterCallback

    validating = evaluator is not None
    metric = f"eval_{evaluator.primary_metric}" if validating else None
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=float(epochs),
        max_steps=max_steps or -1,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        max_grad_norm=max_grad_norm,
        batch_sampler=length_grouped_sampler_class() if group_by_length else BatchSamplers.NO_DUPLICATES,
        bf16=bf16,
        eval_strategy="epoch" if validating else "no",
        save_strategy="epoch" if save_checkpoints else "no",
        save_total_limit=keep_checkpoints,
        load_best_model_at_end=keep_best and validating and save_checkpoints,
        metric_for_best_model=metric,
        greater_is_better=evaluator.greater_is_better if validating else None,
        logging_steps=logging_steps,
        report_to="none",
        disable_tqdm=True,
        seed=seed,
        data_seed=seed,
        use_cpu=use_cpu,
        dataloader_num_workers=0,
    )
    if callbacks is None:
        from functools import partial

        from tunesmith.schedules import phase_name

        callbacks = [ProgressCallback(log_file, phase=partial(phase_name, **schedule))]
    single = len(datasets) == 1
    trainer = _trainer_class()(
        model=model,
        args=args,
        train_dataset=next(iter(datasets.values())) if single else datasets,
        loss=next(iter(losses.values())) if single else losses,
        evaluator=evaluator,
        callbacks=callbacks,
        schedule=schedule,
        plateau=plateau,
    )
    trainer.remove_callback(PrinterCallback)
    started = time.time()
    output = train_interruptibly(trainer, resume_from)
    elapsed = time.time() - started
    # accelerate wrapped forward in bf16 autocast for training; scoring and export want the plain forward back
    extract_model_from_parallel(trainer.model, keep_fp32_wrapper=False)
    history = trainer.state.log_history
    logged = [entry["loss"] for entry in history if "loss" in entry]
    best = trainer.state.best_model_checkpoint if args.load_best_model_at_end else None
    return TrainResult(
        steps=output.global_step,
        train_seconds=round(elapsed, 1),
        final_loss=logged[-1] if logged else None,
        validation=[entry[metric] for entry in history if metric and metric in entry],
        peak_memory_gb=peak_memory_gb(),
        validation_metric=metric,
        best_checkpoint=Path(best).name if best else None,
        best_validation=trainer.state.best_metric if validating else None,
        stopped_early=output.global_step < trainer.state.max_steps,
    )

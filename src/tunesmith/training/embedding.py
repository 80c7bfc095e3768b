"""Train a sentence-transformers model with its own trainer; the schedule is tunesmith's (see :mod:`schedules`)."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from tunesmith.schedules import phase_name, to_lambda
from tunesmith.training.callbacks import ProgressCallback
from tunesmith.training.trainer import TrainResult, peak_memory_gb


def _trainer_class():
    from sentence_transformers import SentenceTransformerTrainer
    from torch.optim.lr_scheduler import LambdaLR

    class _EmbeddingTrainer(SentenceTransformerTrainer):
        def __init__(self, *args, schedule: dict, **kwargs):
            super().__init__(*args, **kwargs)
            self._schedule = schedule

        def create_scheduler(self, num_training_steps, optimizer=None):
            if self.lr_scheduler is None:
                self.lr_scheduler = LambdaLR(
                    optimizer or self.optimizer, to_lambda(total=num_training_steps, **self._schedule)
                )
            return self.lr_scheduler

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
    log_file: Path,
    seed: int = 42,
    max_steps: int | None = None,
    weight_decay: float = 0.0,
    max_grad_norm: float = 1.0,
    logging_steps: int = 10,
    use_cpu: bool = True,
) -> TrainResult:
    """Train ``model`` in place on the named datasets, each with the loss of the same name.

    Several datasets are interleaved proportionally to their sizes, one dataset per batch.
    Batches hold no text twice, so in-batch negatives are never copies of the positive.
    """
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.base.training_args import BatchSamplers
    from transformers import PrinterCallback

    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=float(epochs),
        max_steps=max_steps or -1,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        max_grad_norm=max_grad_norm,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_strategy="no",
        logging_steps=logging_steps,
        report_to="none",
        disable_tqdm=True,
        seed=seed,
        data_seed=seed,
        use_cpu=use_cpu,
        dataloader_num_workers=0,
    )
    single = len(datasets) == 1
    trainer = _trainer_class()(
        model=model,
        args=args,
        train_dataset=next(iter(datasets.values())) if single else datasets,
        loss=next(iter(losses.values())) if single else losses,
        callbacks=[ProgressCallback(log_file, phase=partial(phase_name, **schedule))],
        schedule=schedule,
    )
    trainer.remove_callback(PrinterCallback)
    started = time.time()
    output = trainer.train()
    elapsed = time.time() - started
    history = trainer.state.log_history
    logged = [entry["loss"] for entry in history if "loss" in entry]
    return TrainResult(
        steps=output.global_step,
        train_seconds=round(elapsed, 1),
        final_loss=logged[-1] if logged else None,
        eval_losses=[],
        peak_memory_gb=peak_memory_gb(),
    )

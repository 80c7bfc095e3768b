"""Trainer callbacks, one concern each, and the one list of them that every task's training gets."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from transformers import TrainerCallback


class ProgressCallback(TrainerCallback):
    """A progress bar over optimiser steps with loss, learning rate and ETA; logs also go to a JSONL file."""

    def __init__(
        self, log_file: Path, phase: Callable[[int, int], str] | None = None, stage: str | None = None
    ) -> None:
        self.log_file = Path(log_file)
        self.phase = phase  # (step, total steps) -> the schedule's phase name, logged with every line
        self.stage = stage  # runs trained in stages (SimCSE, curriculum phases) name each line's stage
        self.bar = None
        self.started = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        from tqdm.auto import tqdm

        if not state.is_world_process_zero:  # with several processes, the main one alone shows and writes
            return

        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.time()
        self.bar = tqdm(total=state.max_steps, desc="training", unit="step", dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero:
            return
        logs = dict(logs or {})
        record = {
            "step": state.global_step,
            "max_steps": state.max_steps,
            "epoch": round(state.epoch or 0.0, 3),
            **logs,
        }
        if self.stage is not None:
            record["stage"] = self.stage
        if self.phase is not None:
            record["phase"] = self.phase(state.global_step, state.max_steps)
        record["elapsed_s"] = round(time.time() - self.started, 1)
        with self.log_file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.bar is None:
            return
        shown = {}
        if "loss" in logs:
            shown["loss"] = f"{logs['loss']:.3f}"
        if "learning_rate" in logs:
            shown["lr"] = f"{logs['learning_rate']:.1e}"
        for name, value in logs.items():
            if name.startswith("eval_") and not name.endswith(("_runtime", "_per_second")) and name != "epoch":
                label = "validation loss" if name == "eval_loss" else f"validation {name[5:]}"
                self.bar.write(f"epoch {state.epoch:.1f}: {label} {value:.4f}")
        if shown:
            self.bar.set_postfix(shown, refresh=True)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class StopOnInterrupt(TrainerCallback):
    """Ctrl-C while training, made a clean stop: the step under way finishes, a checkpoint is saved at it and
    training ends there (a resumed run carries on from that step as if never stopped)."""

    def __init__(self) -> None:
        self.requested = False
        self.stopped_at: int | None = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.requested and self.stopped_at is None:
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step


def train_interruptibly(trainer, resume_from: Path | None = None):
    """``trainer.train()``, where a first Ctrl-C stops at the end of the step with a checkpoint and a second one
    at once; either way KeyboardInterrupt is raised when training has stopped (the run records where and says how
    to resume). With several processes, or off the main thread, Ctrl-C keeps Python's own meaning: processes that
    each stop at their own step would wait on each other forever."""
    stop = StopOnInterrupt()
    trainer.add_callback(stop)
    previous = None
    if trainer.args.world_size == 1 and threading.current_thread() is threading.main_thread():

        def request(signum, frame):
            if stop.requested:
                raise KeyboardInterrupt
            stop.requested = True
            print("\nstopping after this step, with a checkpoint (Ctrl-C again to stop at once)", file=sys.stderr)

        previous = signal.signal(signal.SIGINT, request)
    try:
        output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        trainer.remove_callback(stop)
    if stop.requested:
        raise KeyboardInterrupt(f"stopped at step {stop.stopped_at or trainer.state.global_step}")
    return output


_EXTRA: list = []  # callbacks a caller adds to every training in its ``with extra_callbacks(...)`` block


@contextmanager
def extra_callbacks(*callbacks) -> Iterator[None]:
    """Add ``callbacks`` to every trainer built inside the block (``tunesmith tune`` reports each epoch's
    validation score to its study this way, without the pipeline knowing about studies)."""
    _EXTRA.extend(callbacks)
    try:
        yield
    finally:
        for callback in callbacks:
            _EXTRA.remove(callback)


def standard_callbacks(
    output,
    logs_dir: Path,
    schedule: dict,
    *,
    use_cpu: bool,
    validation_metric: str | None,
    greater_is_better: bool = False,
    plateau: bool = False,
    patience: int | None = None,
    stage: str | None = None,
) -> list:
    """What every task's training gets: progress with the schedule's phase (logs/train_log.jsonl), TensorBoard
    (and W&B) as ``output`` says, freed heap pages returned on a CPU, and, when there is a validation metric, the
    plateau layer and early stopping on it.

    Args:
        validation_metric: the trainer's name of the metric that decides (``eval_loss``, ``eval_spearman``...).
        stage: the stage's name for runs trained in stages (its TensorBoard folder and log field).
    """
    from functools import partial

    from transformers import EarlyStoppingCallback

    from tunesmith.schedules import phase_name
    from tunesmith.training.adaptive import PlateauCallback
    from tunesmith.training.memory import ReturnFreedMemory

    callbacks = [ProgressCallback(Path(logs_dir) / "train_log.jsonl", partial(phase_name, **schedule), stage)]
    callbacks += logging_callbacks(output, Path(logs_dir), stage)
    if use_cpu:
        callbacks.append(ReturnFreedMemory())
    if validation_metric is not None:
        if plateau:
            callbacks.append(PlateauCallback(validation_metric, greater_is_better))
        if patience is not None:
            callbacks.append(EarlyStoppingCallback(early_stopping_patience=patience))
    return callbacks + list(_EXTRA)


def logging_callbacks(output, logs_dir: Path, stage: str | None = None) -> list:
    """TensorBoard into the run's logs/tensorboard/[stage/] (on by default), W&B when asked for."""
    import importlib.util

    from transformers.integrations import TensorBoardCallback, WandbCallback

    from tunesmith.errors import ConfigError

    callbacks = []
    if output.tensorboard:
        tensorboard = TensorBoardCallback()
        tensorboard.logging_dir = str(logs_dir / "tensorboard" / (stage or ""))
        callbacks.append(tensorboard)
    if output.wandb:
        if importlib.util.find_spec("wandb") is None:
            raise ConfigError("output.wandb is true but wandb is not installed: pip install wandb (or set it false)")
        callbacks.append(WandbCallback())
    if output.mlflow:
        if importlib.util.find_spec("mlflow") is None:
            raise ConfigError(
                "output.mlflow is true but mlflow is not installed: pip install 'tunesmith[mlflow]' (or set it false)"
            )
        callbacks.append(mlflow_tracker(output, logs_dir, stage))
    return callbacks


def mlflow_tracker(output, logs_dir: Path, stage: str | None = None):
    """transformers' MLflow callback (the training arguments and model config as parameters, every logged value as
    a metric per step) pointed at ``output.mlflow_tracking_uri`` (else MLFLOW_TRACKING_URI, else a file store in
    the runs folder), in an experiment named after the run's config name, as an MLflow run named after the run
    folder (and stage). :func:`log_saved_model` adds the trained weights to it as an artifact."""
    import os
    import re

    from transformers.integrations import MLflowCallback

    run_folder = Path(logs_dir).parent
    default = (run_folder.parent / "mlruns").as_uri()
    uri = output.mlflow_tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default
    experiment = re.sub(r"-\d{8}-\d{6}(-\d+)?$", "", run_folder.name)  # the config's name

    class MLflowTracker(MLflowCallback):
        def setup(self, args, state, model):
            if uri.startswith("file:"):  # MLflow 3 keeps its file store only for those who ask: this user did
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            self._ml_flow.set_tracking_uri(uri)
            self._ml_flow.set_experiment(experiment)
            args.run_name = run_folder.name + (f"/{stage}" if stage else "")
            super().setup(args, state, model)
            active = self._ml_flow.active_run()
            self.run_id = active.info.run_id if active else None
            self.tracking_uri = uri

    return MLflowTracker()


def log_saved_model(callbacks, folder: Path, name: str) -> None:
    """Log ``folder`` (the trained adapter or model) as the artifact ``name`` of the MLflow run of ``callbacks``,
    when one of them tracks to MLflow (its run has ended with training: artifacts can still be added)."""
    for callback in callbacks:
        run_id = getattr(callback, "run_id", None)
        if run_id is not None:
            from mlflow import MlflowClient

            MlflowClient(callback.tracking_uri).log_artifacts(run_id, str(folder), name)

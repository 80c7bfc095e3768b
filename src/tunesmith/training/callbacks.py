"""Trainer callbacks, one concern each."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback


class ProgressCallback(TrainerCallback):
    """A progress bar over optimiser steps with loss, learning rate and ETA; logs also go to a JSONL file."""

    def __init__(self, log_file: Path, phase: Callable[[int, int], str] | None = None) -> None:
        self.log_file = Path(log_file)
        self.phase = phase  # (step, total steps) -> the schedule's phase name, logged with every line
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
        record = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 3), **logs}
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
        if "eval_loss" in logs:
            self.bar.write(f"epoch {state.epoch:.1f}: validation loss {logs['eval_loss']:.3f}")
        if shown:
            self.bar.set_postfix(shown, refresh=True)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

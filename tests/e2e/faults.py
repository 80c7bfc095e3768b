"""Fault injection for the tests: run tunesmith's command line in this process and kill it (SIGKILL) or send it
Ctrl-C (SIGINT) at a named point of a run. No fault hook lives in tunesmith itself: the points are patched here.

    python -m tests.e2e.faults POINT SIGNAL train CONFIG      (SIGNAL: kill or interrupt)
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

MID_EPOCH_STEP = 7  # tests run 5 steps an epoch: step 7 is inside the second epoch, after checkpoint-5


def _signal(kind: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL if kind == "kill" else signal.SIGINT)


def _before(owner, name: str, kind: str, when=lambda *args, **kwargs: True) -> None:
    original = getattr(owner, name)

    def patched(*args, **kwargs):
        if when(*args, **kwargs):
            _signal(kind)
        return original(*args, **kwargs)

    setattr(owner, name, patched)


def _at_step(step: int, kind: str) -> None:
    from tunesmith.training.callbacks import ProgressCallback

    _before(ProgressCallback, "on_step_end", kind, lambda self, args, state, control, **kw: state.global_step == step)


def _while_writing_a_checkpoint_state(kind: str) -> None:
    """The second checkpoint's trainer_state.json (written last, not atomically) cut short mid-write."""
    from transformers import TrainerState

    def cut_short(self, path):
        if "checkpoint-10" in str(path):
            Path(path).write_text('{"global_step": 1')
            _signal(kind)
        return original(self, path)

    original = TrainerState.save_to_json
    TrainerState.save_to_json = cut_short


def _while_writing(file_name: str, kind: str) -> None:
    """An atomic write of ``file_name`` stopped after half its bytes reached the staged temp file."""
    import tunesmith.atomic as atomic

    original = atomic.write_bytes

    def half_then_stop(path, data):
        if Path(path).name == file_name:
            with atomic.staged_file(Path(path)) as temp:
                temp.write_bytes(data[: len(data) // 2])
                _signal(kind)
        return original(path, data)

    atomic.write_bytes = half_then_stop


def _while_saving_the_adapter(kind: str) -> None:
    import tunesmith.training.trainer as trainer

    original = trainer._save_adapter

    def save_then_stop(bundle, folder, *args):
        original(bundle, folder, *args)  # complete in its staging folder, never published
        _signal(kind)

    trainer._save_adapter = save_then_stop


def install(point: str, kind: str) -> None:
    from tunesmith.pipeline import TRAINING  # noqa: F401  (the chain imported before patching its modules)
    from tunesmith.runs.folder import RunFolder
    from tunesmith.tasks.generative import GenerativeTask

    points = {
        "planning": lambda: _before(GenerativeTask, "plan", kind),
        "preparing": lambda: _before(RunFolder, "write_json", kind, lambda self, name, data: name == "plan.json"),
        "first step": lambda: _at_step(1, kind),
        "mid-epoch": lambda: _at_step(MID_EPOCH_STEP, kind),
        "writing a checkpoint": lambda: _while_writing_a_checkpoint_state(kind),
        "saving the adapter": lambda: _while_saving_the_adapter(kind),
        "scoring": lambda: _before(GenerativeTask, "evaluate", kind),
        "writing the scores": lambda: _while_writing("predictions.jsonl", kind),
        "writing the report": lambda: _while_writing("report.html", kind),
    }
    points[point]()


POINTS = (
    "planning",
    "preparing",
    "first step",
    "mid-epoch",
    "writing a checkpoint",
    "saving the adapter",
    "scoring",
    "writing the scores",
    "writing the report",
)

if __name__ == "__main__":
    point, kind, *arguments = sys.argv[1:]
    install(point, kind)
    from tunesmith.cli import main

    sys.argv = ["tunesmith", *arguments]
    main()

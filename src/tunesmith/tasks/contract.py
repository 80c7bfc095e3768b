"""The task contract: what every kind of model tunesmith trains provides to the one chain in :mod:`tunesmith.pipeline`.

Stated as a Protocol (as torchtune's recipe interfaces are), so a task is any object with these members; the
registry in :mod:`tunesmith.tasks` maps ``config.task`` to one. The chain is the same for every task::

    load_data -> plan -> run folder (write_split) -> build -> train -> after_training -> evaluate -> write_scores
    -> finish -> report

and what a task scores follows sentence-transformers' evaluator contract: metrics as floats, one of them primary,
with the direction that counts as better. Early stopping, the kept checkpoint, reports, ``compare`` and the
registry read that one contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tunesmith.plan import Choice, Hardware, Plan

DEFAULT_REPLAY_RATIO = 1.0  # earlier records per new one when continual.replay_ratio is unset


@dataclass
class TaskData:
    """A run's splits in the task's own record type (Q&A: lists of Examples; embeddings: PairSets).

    ``report`` says what was done to the data on the way (sampling, validation, carving), for run.json.
    """

    train: Any
    valid: Any | None
    test: Any | None
    report: dict = field(default_factory=dict)
    knowledge: Any = None  # what the task keeps beside its splits: a retrieval run's index (tasks.rag.Knowledge)

    def sizes(self) -> dict[str, int]:
        return {name: len(getattr(self, name) or []) for name in ("train", "valid", "test")}


@dataclass
class Scores:
    """A task evaluator's result: per scored model (``base``, ``tuned``, ...) ``{"overall": {...}, "by_<group>":
    {...}}``, the primary metric and its direction, per-example rows (predictions) and task extras."""

    primary_metric: str
    greater_is_better: bool
    models: dict[str, dict]
    rows: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def overall(self, label: str = "tuned") -> dict:
        return self.models[label]["overall"]


def sample_replay(config, pool: list, new: int) -> tuple[list, float, str]:
    """``continual.replay_ratio`` earlier records per new one (at most the whole ``pool``), seeded by the run;
    returns them, the ratio, and whether it came from the config or the plan. Every task's replay draws here."""
    import random

    ratio = config.continual.replay_ratio
    source = "plan" if ratio is None else "config"
    ratio = DEFAULT_REPLAY_RATIO if ratio is None else ratio
    count = min(round(ratio * new), len(pool))
    return (random.Random(config.training.seed).sample(pool, count) if count else []), ratio, source


@runtime_checkable
class Task(Protocol):
    """One kind of model: its data shapes, plan, model builder, training and evaluator."""

    name: str

    def load_data(self, config) -> TaskData:
        """Read, check and split the config's data (errors name file, line and field)."""
        ...

    def write_split(self, path: Path, records) -> None:
        """Write one split into a run folder's data/ (atomically), readable by :meth:`read_split`."""
        ...

    def write_resources(self, run_path: Path, data: TaskData) -> None:
        """Write what the run keeps beside its splits (a retrieval index), atomically; most tasks keep nothing."""
        ...

    def read_split(self, path: Path):
        """A split written by :meth:`write_split`; an empty or missing file gives an empty split."""
        ...

    def add_replay(self, config, data: TaskData, pool: list) -> tuple[TaskData, Choice | None]:
        """Mix earlier stages' training records (``pool``) into ``data.train`` for a continued run."""
        ...

    def model_dir(self, config, parent) -> Path:
        """The folder the run's model loads from: the base model, or the parent run's trained model."""
        ...

    def plan(self, config, data: TaskData, model_dir: Path, hardware: Hardware) -> Plan:
        """Every hyperparameter with its reason, and the time and memory estimates."""
        ...

    def build(self, config, plan: Plan, model_dir: Path):
        """The model (with its fresh adapter where the plan says so), ready to train."""
        ...

    def train(self, bundle, data: TaskData, plan: Plan, config, run, resume_from: Path | None):
        """Train in place, checkpointing into ``run.checkpoints_dir``; save the result into the run folder.

        Returns a :class:`tunesmith.training.TrainResult`. With ``resume_from`` (a complete checkpoint of this
        run), training ends where an uninterrupted run would.
        """
        ...

    def load_trained(self, run_path: Path, config, model_dir: Path):
        """A finished run's trained model, as :meth:`build` shapes it."""
        ...

    def after_training(self, bundle, data: TaskData, plan: Plan, config) -> tuple[Plan, dict]:
        """Choices made with the trained model before the test split is scored (generative tasks: the decoding,
        on the validation split; retrieval runs: generating or copying). Returns the plan to score and keep with,
        and records for run.json by name, each with a ``summary`` (``{}``: nothing chosen, the plan unchanged)."""
        ...

    def evaluate(self, bundle, records, plan: Plan, config, compare_base: bool) -> Scores:
        """Score ``records`` with the trained model (and the base model, side by side, when asked)."""
        ...

    def write_scores(self, folder: Path, scores: Scores, extra: dict | None = None) -> None:
        """metrics.json (the shared shape), metrics.csv and the per-example rows, atomically."""
        ...

    def print_scores(self, scores: Scores, console) -> None: ...

    def after_scoring(self, bundle, data: TaskData, plan: Plan, config, run, scores: Scores) -> dict:
        """Task extras once the tuned model is scored (e.g. an INT8 copy); returned into metrics.json."""
        ...

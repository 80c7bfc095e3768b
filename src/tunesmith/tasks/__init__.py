"""The task registry: ``config.task`` -> the object that provides the task contract (:mod:`tunesmith.tasks.contract`).

The chain in :mod:`tunesmith.pipeline` runs every task the same way; what differs lives behind the contract. A new
task is one new module and one line here.
"""

from __future__ import annotations

from tunesmith.errors import ConfigError
from tunesmith.tasks.contract import Scores, Task, TaskData
from tunesmith.tasks.embedding_run import EMBEDDING
from tunesmith.tasks.generative import CAUSAL_LM, SUMMARIZATION

TASKS: dict[str, Task] = {task.name: task for task in (CAUSAL_LM, SUMMARIZATION, EMBEDDING)}


def get_task(name: str) -> Task:
    """The task of that name.

    Raises:
        ConfigError: no such task (the config schema refuses it first; this guards runs written by hand).
    """
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task '{name}'; tunesmith trains: {', '.join(TASKS)}") from None


__all__ = ["TASKS", "Scores", "Task", "TaskData", "get_task"]

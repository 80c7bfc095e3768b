"""The task registry: every task the config accepts has one entry, and each provides the whole contract."""

import pytest

from tunesmith.config.schema import TASKS as CONFIG_TASKS
from tunesmith.errors import ConfigError
from tunesmith.tasks import TASKS, Task, get_task
from tunesmith.tasks.contract import Task as Contract


def test_every_configurable_task_is_registered_and_keeps_the_contract():
    assert set(TASKS) == set(CONFIG_TASKS)
    for name, task in TASKS.items():
        assert task.name == name and isinstance(task, Task) and Task is Contract
        for member in ("load_data", "plan", "build", "train", "evaluate", "write_scores", "read_split"):
            assert callable(getattr(task, member)), (name, member)


def test_an_unknown_task_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown task 'regression'; tunesmith trains: causal_lm, summarization"):
        get_task("regression")

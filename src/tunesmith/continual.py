"""Continual learning glue for the pipeline: which model a run starts from, the replay mix, what the run.json
records as its parent, and the re-scoring of every earlier stage (retention) at the end of a run."""

from __future__ import annotations

from pathlib import Path

from tunesmith.data import Splits
from tunesmith.plan import Choice
from tunesmith.runs import RunFolder
from tunesmith.runs.lineage import (
    earlier_stages,
    earlier_training_data,
    merged_model_dir,
    open_parent,
    retention,
    root_model,
    sample_replay,
)

DEFAULT_REPLAY_RATIO = 1.0
RETAINED_METRICS = ("token_f1", "rouge_l", "exact_match", "fact_recall")


def parent_run(config) -> RunFolder | None:
    """The run ``config.continue_from`` names: a folder path, or a run name inside ``output.runs_dir``."""
    if not config.continue_from:
        return None
    candidate = Path(config.continue_from).expanduser()
    if not candidate.is_dir() and (config.output.runs_dir / config.continue_from).is_dir():
        candidate = config.output.runs_dir / config.continue_from
    return open_parent(candidate)


def model_dir_for(config) -> Path:
    """The folder a run's model loads from: the base model, or the parent's lineage merged (cached)."""
    from tunesmith.models import resolve_model
    from tunesmith.models.gguf import home_dir

    parent = parent_run(config)
    if parent is None:
        return resolve_model(config.model.name)
    return merged_model_dir(parent, home_dir() / "merged")


def parent_record(config, model_dir: Path) -> dict:
    parent = parent_run(config)
    if parent is None:
        return {"kind": "base_model", "name": config.model.name, "path": str(model_dir)}
    return {
        "kind": "run",
        "name": parent.path.name,
        "path": str(parent.path.resolve()),
        "model_path": str(model_dir),
        "root_model": root_model(parent),
    }


def with_replay(config, splits: Splits) -> tuple[Splits, Choice | None]:
    """Mix earlier stages' training examples into the new training split, as the config or the plan says."""
    parent = parent_run(config)
    if parent is None:
        return splits, None
    pool = earlier_training_data(parent)
    ratio = config.continual.replay_ratio
    source = "plan" if ratio is None else "config"
    ratio = DEFAULT_REPLAY_RATIO if ratio is None else ratio
    replay = sample_replay(pool, round(ratio * len(splits.train)), config.training.seed)
    reason = (
        f"{ratio:g} earlier example per new one ({len(pool)} available from {parent.path.name} and its lineage): "
        "rehearsing the earlier rounds keeps what they taught"
    )
    return Splits(splits.train + replay, splits.valid, splits.test), Choice(len(replay), reason, source)


def score_earlier_stages(run: RunFolder, bundle, plan, config) -> list[dict]:
    """Re-score the current model on every ancestor's test split: before (the ancestor's own score), after, and
    retention (after / before), per metric."""
    from tunesmith.pipeline import score_with_plan

    results = []
    for ancestor, test, before in earlier_stages(run):
        scored = score_with_plan(bundle, test, plan, config.evaluation.batch_size, compare_base=False)
        after = scored["summary"]["tuned"]["overall"]
        results.append(
            {
                "run": ancestor.path.name,
                "n": after["n"],
                "before": {name: before.get(name) for name in RETAINED_METRICS},
                "after": {name: after.get(name) for name in RETAINED_METRICS},
                "retention": {name: retention(before.get(name), after.get(name)) for name in RETAINED_METRICS},
            }
        )
    return results

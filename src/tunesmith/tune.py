"""``tunesmith tune``: Bayesian hyperparameter search with Optuna over Q&A/chat and summary runs.

The plan's own choice is the first trial (enqueued), then Optuna's TPE sampler proposes the next ones from what
the finished trials scored. Every trial is an ordinary run folder (the run's config says what the trial set), so
reports, ``compare`` and ``serve`` work on trials as on any run. The objective is the run's best validation score:
the one its early stopping and kept checkpoint follow (``training.select_by``, fixed to the plan's choice for the
whole study so that trials compare on one metric), never the test split. After each epoch the trial reports that
score to the study, and Optuna's median pruner stops a trial that falls below the median of earlier trials at
the same epoch (the run is then marked failed with the reason). The study lives in an Optuna storage: SQLite
beside the runs by default; a shared database URL (``--storage postgresql://...``) lets several machines run
trials of one study, Optuna's own way to spread out. At the end: the tune folder with the trials (tune.json), a
report (tune.md) with the best trial and the parameters' importances, and the trials' validation curves (PNG);
the best trial's run becomes the current run.

Searched (around the plan's values): learning rate (log scale, a quarter to twice the plan's), LoRA rank, epochs
(half to one and a half times the plan's); for Q&A also the closed-book knobs: rewrites per fact and the answers
as documents (:mod:`tunesmith.rewrite`, :mod:`tunesmith.tasks.documents`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback

from tunesmith.atomic import write_json, write_text
from tunesmith.config import RunConfig
from tunesmith.errors import ConfigError, TunesmithError

RANKS = (8, 16, 32, 64)
REWRITES = (0, 4)
SEED = 42


@dataclass(frozen=True)
class TuneResult:
    folder: Path
    best_run: Path | None
    best_value: float | None
    trials: list[dict]


def tune(config: RunConfig, trials: int, time_budget_minutes: float | None = None, storage: str | None = None):
    """Run the study; returns the :class:`TuneResult` (its folder holds tune.json, tune.md and curves.png)."""
    import optuna

    from tunesmith.pipeline import prepare
    from tunesmith.runs.folder import RunFolder

    if config.task == "embedding":
        raise ConfigError("tune searches Q&A/chat and summary runs; embedding runs are not searched yet")
    plan = prepare(config).plan
    if not plan.data.get("n_valid"):
        raise ConfigError("tune needs a validation split (data.valid or data.valid_fraction): it never tunes on test")
    select_by = plan["select_by"]
    direction = "minimize" if select_by == "loss" else "maximize"
    folder = RunFolder.create(config.output.runs_dir, f"{config.name}-tune").path
    storage = storage or f"sqlite:///{folder / 'study.db'}"
    study = optuna.create_study(
        storage=storage,
        study_name=config.name,
        direction=direction,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=SEED),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    space = _space(config, plan)
    if not study.trials:  # a new study starts from the plan; a shared one already has
        study.enqueue_trial({name: first for name, (first, _) in space.items()})
    study.optimize(
        lambda trial: _objective(trial, config, space, select_by),
        n_trials=trials,
        timeout=time_budget_minutes * 60 if time_budget_minutes else None,
        catch=(TunesmithError,),
    )
    return _finish(study, folder, select_by)


def _space(config: RunConfig, plan) -> dict[str, tuple]:
    """Each searched setting: (the plan's value, how a trial suggests one)."""
    rate, epochs = plan["learning_rate"], float(plan["epochs"])
    space = {
        "learning_rate": (rate, lambda trial: trial.suggest_float("learning_rate", rate / 4, rate * 2, log=True)),
        "epochs": (
            epochs,
            lambda trial: trial.suggest_float("epochs", max(0.5, epochs / 2), max(1.0, epochs * 1.5)),
        ),
    }
    if plan.get("method", "lora") == "lora":  # a full fine-tune has no rank to search
        space["lora_r"] = (plan["lora_r"], lambda trial: trial.suggest_categorical("lora_r", _ranks(plan["lora_r"])))
    if config.task == "causal_lm" and not config.retrieval.enabled:
        space["rewrites_k"] = (config.rewrites.k, lambda trial: trial.suggest_categorical("rewrites_k", REWRITES))
        space["documents"] = (
            config.documents.answers,
            lambda trial: trial.suggest_categorical("documents", (False, True)),
        )
    return space


def _ranks(planned: int) -> tuple[int, ...]:
    return tuple(sorted({*RANKS, planned}))


def _objective(trial, config: RunConfig, space: dict, select_by: str) -> float:
    import optuna

    from tunesmith.pipeline import train_run
    from tunesmith.training.callbacks import extra_callbacks

    params = {name: suggest(trial) for name, (_, suggest) in space.items()}
    raw = json.loads(config.model_dump_json(exclude_unset=True))
    raw["name"] = f"{config.name}-trial{trial.number}"
    raw["training"] = {
        **raw.get("training", {}),
        "learning_rate": params["learning_rate"],
        "epochs": params["epochs"],
        "select_by": select_by,
        "time_budget_minutes": None,  # the trial's epochs are the search's, not a budget's
    }
    if "lora_r" in params:
        raw["lora"] = {**raw.get("lora", {}), "r": params["lora_r"], "alpha": 2 * params["lora_r"]}
    if "rewrites_k" in params:
        raw["rewrites"] = {**raw.get("rewrites", {}), "k": params["rewrites_k"]}
        raw["documents"] = {**raw.get("documents", {}), "answers": params["documents"]}
    trial_config = RunConfig.model_validate(raw)
    reporter = _EpochReporter(trial)
    with extra_callbacks(reporter):
        try:
            run = train_run(trial_config)
        except optuna.TrialPruned:
            trial.set_user_attr("run", str(reporter.run_path or ""))
            raise
    record = json.loads((run.path / "run.json").read_text())
    trial.set_user_attr("run", str(run.path))
    best = record["training"].get("best_validation")
    if best is None or math.isnan(best):
        raise TunesmithError(f"{run.path}: the trial has no validation score")
    return float(best)


class _EpochReporter(TrainerCallback):
    """A trainer callback: each evaluation's deciding score to the trial; a trial the pruner stops raises
    optuna.TrialPruned (the run is marked failed with that reason)."""

    def __init__(self, trial):
        self.trial, self.run_path = trial, None

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        import optuna

        self.run_path = Path(args.output_dir).parent
        name = args.metric_for_best_model or "eval_loss"
        name = name if name.startswith("eval_") else f"eval_{name}"
        if not metrics or name not in metrics:
            return
        epoch = max(1, round(state.epoch or 1))
        self.trial.report(float(metrics[name]), epoch)
        if self.trial.should_prune():
            score = f"{name} {metrics[name]:.4f}"
            raise optuna.TrialPruned(f"pruned after epoch {epoch}: {score} worse than the median of earlier trials")


def _finish(study, folder: Path, select_by: str) -> TuneResult:
    import optuna

    from tunesmith.runs.registry import set_current

    rows = [
        {
            "number": trial.number,
            "state": trial.state.name.lower(),
            "value": trial.value,
            "params": trial.params,
            "run": trial.user_attrs.get("run"),
            "minutes": round(trial.duration.total_seconds() / 60, 2) if trial.duration else None,
        }
        for trial in study.trials
    ]
    complete = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial if complete else None
    importances = {}
    if len(complete) >= 2:
        try:
            importances = {
                name: round(value, 4) for name, value in optuna.importance.get_param_importances(study).items()
            }
        except (RuntimeError, ValueError):  # every trial had the same values, say: nothing to apportion
            importances = {}
    result = {
        "study": study.study_name,
        "direction": study.direction.name.lower(),
        "objective": f"best validation {'loss' if select_by == 'loss' else 'answer score'} (training.select_by "
        f"{select_by})",
        "best": None if best is None else {"number": best.number, "value": best.value, "params": best.params},
        "importances": importances,
        "trials": rows,
    }
    write_json(folder / "tune.json", result)
    curves = _plot_curves(rows, folder / "curves.png", select_by)
    write_text(folder / "tune.md", _markdown(result, curves))
    best_run = Path(best.user_attrs["run"]) if best is not None and best.user_attrs.get("run") else None
    if best_run is not None:
        set_current(best_run.parent, best_run)
    return TuneResult(folder, best_run, None if best is None else best.value, rows)


def _plot_curves(rows: list[dict], path: Path, select_by: str) -> Path | None:
    from tunesmith.reports.plots import new_figure, save_figure

    key = "eval_loss" if select_by == "loss" else "eval_answer_score"
    figure, axes = new_figure()
    drawn = False
    for row in rows:
        log = Path(row["run"] or "") / "logs" / "train_log.jsonl"
        if not row["run"] or not log.is_file():
            continue
        points = [json.loads(line) for line in log.read_text().splitlines()]
        points = [(point["epoch"], point[key]) for point in points if key in point]
        if points:
            axes.plot(*zip(*points), marker="o", label=f"trial {row['number']} ({row['state']})")
            drawn = True
    if not drawn:
        return None
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"validation {'loss' if select_by == 'loss' else 'answer score'}")
    axes.legend(fontsize="small")
    return save_figure(figure, path)


def _markdown(result: dict, curves: Path | None) -> str:
    lines = [f"# Tuning study {result['study']}", "", f"Objective: {result['objective']}, {result['direction']}d.", ""]
    if result["best"]:
        best = result["best"]
        lines += [f"Best: trial {best['number']}, {best['value']:.4f}, with {_params(best['params'])}.", ""]
    names = sorted({name for row in result["trials"] for name in row["params"]})
    lines += ["| trial | state | value | " + " | ".join(names) + " | minutes | run |"]
    lines += ["|" + "---|" * (len(names) + 5)]
    for row in result["trials"]:
        value = "-" if row["value"] is None else f"{row['value']:.4f}"
        cells = [_format(row["params"].get(name)) for name in names]
        lines += [
            f"| {row['number']} | {row['state']} | {value} | " + " | ".join(cells) + f" | {row['minutes']} | "
            f"{Path(row['run']).name if row['run'] else '-'} |"
        ]
    if result["importances"]:
        lines += ["", "Parameter importances (fANOVA over the completed trials):", ""]
        lines += [f"- {name}: {value:.2f}" for name, value in result["importances"].items()]
    if curves is not None:
        lines += ["", f"![validation curves]({curves.name})"]
    return "\n".join(lines) + "\n"


def _params(params: dict) -> str:
    return ", ".join(f"{name} {_format(value)}" for name, value in params.items())


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "-" if value is None else str(value)

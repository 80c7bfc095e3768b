"""tunesmith from Python (notebooks, scripts): the command line's chain as functions that return objects.

    from tunesmith import api as ts

    config = ts.config("examples/presscrafters.yaml", training={"epochs": 2})  # a file (or dict) plus overrides
    plan = ts.plan(config)            # every choice with its reason, and the time and memory estimates
    run = ts.train(config)            # plan, train, score; a Run over the finished folder
    run.scores("tuned")["token_f1"]   # metrics.json's overall scores of a model (base, tuned)
    model, tokenizer = ts.load(run)   # a transformers model (adapter merged) and its tokenizer
    ts.evaluate(run)                  # re-score the test split (a new evals/ folder); its scores
    ts.report(run)                    # rebuild report.md / report.html; the HTML's path
    ts.runs("runs")                   # every run of a runs folder, oldest first

Every function validates up front exactly as the command line does (a bad setting is a ConfigError naming the
key) and raises tunesmith's own errors (:mod:`tunesmith.errors`). Embedding runs load as a SentenceTransformer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tunesmith.config import RunConfig, config_from_dict
from tunesmith.errors import ConfigError


@dataclass
class Run:
    """A run folder: what it was configured and planned with, and what it scored."""

    path: Path
    record: dict = field(repr=False)  # run.json
    config: dict = field(repr=False)  # config.yaml
    plan: dict = field(repr=False)  # plan.json

    @classmethod
    def open(cls, reference: str | Path, runs_dir: str | Path = "runs") -> Run:
        """A run by folder, by name in ``runs_dir``, or ``"current"``."""
        from tunesmith.runs.registry import resolve_run

        path = resolve_run(reference, Path(runs_dir))
        read = lambda name: json.loads((path / name).read_text()) if (path / name).is_file() else {}  # noqa: E731
        config_file = path / "config.yaml"
        config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
        return cls(path, read("run.json"), config or {}, read("plan.json"))

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        from tunesmith.runs.status import effective_status

        return effective_status(self.record)

    @property
    def metrics(self) -> dict:
        """metrics.json (empty before the run is scored)."""
        path = self.path / "metrics.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def scores(self, model: str = "tuned") -> dict:
        """The overall scores of ``model`` (``base``, ``tuned``; ``int8`` for embeddings)."""
        return (self.metrics.get(model) or {}).get("overall", {})

    def choice(self, name: str) -> Any:
        """A planned value (``lora_r``, ``epochs``, ``select_by``...)."""
        return self.plan["choices"][name]["value"]

    def __repr__(self) -> str:
        return f"Run({self.name!r}, status={self.status!r})"


def config(source: str | Path | dict | RunConfig, **overrides: dict) -> RunConfig:
    """A validated config from a YAML file (its data paths taken relative to it), a dict or a RunConfig, with
    ``overrides`` merged into its sections: ``config(path, training={"epochs": 2}, name="try")``."""
    from tunesmith.config import load_config, resolve_paths

    if isinstance(source, RunConfig):
        raw, where, base = source.model_dump(mode="json", exclude_unset=True), "<RunConfig>", Path.cwd()
    elif isinstance(source, dict):
        raw, where, base = json.loads(json.dumps(source, default=str)), "<dict>", Path.cwd()
    else:
        path = Path(source)
        if not overrides:
            return load_config(path)
        loaded = yaml.safe_load(path.read_text()) if path.is_file() else None
        if not isinstance(loaded, dict):
            return load_config(path)  # its own clear error: missing file, not a mapping
        raw, where, base = loaded, str(path), path.parent
    for key, value in overrides.items():
        if isinstance(value, dict):
            if not isinstance(raw.get(key, {}), dict):
                raise ConfigError(f"{where}: '{key}' is not a section; it cannot take {sorted(value)}")
            raw[key] = {**raw.get(key, {}), **value}
        else:
            raw[key] = value
    return resolve_paths(config_from_dict(raw, where), base)


def plan(source: str | Path | dict | RunConfig, **overrides: dict):
    """The plan for a config on this machine, nothing trained or written (``tunesmith plan``): a Plan whose
    ``choices`` hold each value with its reason, and ``estimate`` the time and memory."""
    from tunesmith.pipeline import prepare

    return prepare(_config(source, overrides)).plan


def train(source: str | Path | dict | RunConfig, **overrides: dict) -> Run:
    """Plan, train and score (``tunesmith train``); the finished run."""
    from tunesmith.pipeline import train_run

    return Run.open(train_run(_config(source, overrides)).path)


def resume(run: Run | str | Path, runs_dir: str | Path = "runs") -> Run:
    """Finish a stopped run from its newest complete checkpoint (``tunesmith train --resume``)."""
    from tunesmith.pipeline import resume_run

    return Run.open(resume_run(_path(run, runs_dir)).path)


def evaluate(run: Run | str | Path, max_examples: int | None = None, runs_dir: str | Path = "runs") -> dict:
    """Re-score a finished run's test split (``tunesmith eval``): the new scores (metrics.json's shape)."""
    from tunesmith.pipeline import evaluate_run

    target = evaluate_run(_path(run, runs_dir), max_examples)
    return json.loads((target / "metrics.json").read_text())


def load(run: Run | str | Path, runs_dir: str | Path = "runs"):
    """A finished run's trained model: ``(model, tokenizer)`` for text generation (the adapter merged into its
    base, eval mode), or a SentenceTransformer for an embedding run."""
    from tunesmith.runs.finished import open_finished_run

    finished = open_finished_run(_path(run, runs_dir))
    if finished.sentence_model is not None:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(
            str(finished.sentence_model), device="cpu", trust_remote_code=finished.trust_remote_code
        )
    from tunesmith.models.merge import merged_model

    return merged_model(finished.base_dir, finished.trained_dir, finished.trust_remote_code)


def report(run: Run | str | Path, runs_dir: str | Path = "runs") -> Path:
    """(Re)build a scored run's report.md and report.html; the HTML's path."""
    from tunesmith.reports import write_report

    return write_report(_path(run, runs_dir))[1]


def runs(runs_dir: str | Path = "runs") -> list[Run]:
    """Every run in ``runs_dir``, oldest first."""
    from tunesmith.runs.registry import scan

    return [Run.open(info.path) for info in scan(Path(runs_dir))]


def _config(source, overrides: dict) -> RunConfig:
    return source if isinstance(source, RunConfig) and not overrides else config(source, **overrides)


def _path(run: Run | str | Path, runs_dir: str | Path) -> Path:
    return run.path if isinstance(run, Run) else Run.open(run, runs_dir).path

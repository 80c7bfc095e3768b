"""The ``tunesmith`` command line: thin commands over :mod:`tunesmith.pipeline`; heavy imports happen inside each."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated

import typer

from tunesmith import __version__
from tunesmith.errors import TunesmithError

app = typer.Typer(help="Fine-tune small models on small data: plan, train, evaluate.", no_args_is_help=True)

ConfigPath = Annotated[Path, typer.Argument(help="Run config (YAML or JSON).")]
RunDir = Annotated[Path, typer.Argument(help="A finished run folder.")]
OptionalConfigPath = Annotated[Path | None, typer.Argument(help="Run config (YAML or JSON).")]
ResumeDir = Annotated[Path | None, typer.Option(help="Finish a stopped run from its last complete checkpoint.")]
MaxExamples = Annotated[int | None, typer.Option(help="Score only the first N test examples.")]
PlotFlag = Annotated[bool, typer.Option("--plot", help="Also draw the learning rate over steps: <name>-lr.png here.")]


def _load(config_path: Path):
    from tunesmith.config import load_config

    return load_config(config_path)


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Deprecation notices about the libraries' own internals say nothing a tunesmith user can act on.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft|accelerate)\.")
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


@app.command()
def plan(config_path: ConfigPath, plot: PlotFlag = False) -> None:
    """Print the hyperparameters a run would use, why, and the time and memory it should take."""
    config = _load(config_path)
    _quiet_libraries()
    from tunesmith.pipeline import show_plan

    prepared = show_plan(config)
    if plot:
        from tunesmith.plan.plot import plot_schedule
        from tunesmith.schedules import schedule_settings

        settings = schedule_settings(config.schedule, prepared.plan["warmup_steps"])
        path = plot_schedule(
            settings, prepared.plan.estimate.total_steps, prepared.plan["learning_rate"], Path(f"{config.name}-lr.png")
        )
        typer.echo(f"learning-rate plot written to {path}")


@app.command()
def train(config_path: OptionalConfigPath = None, resume: ResumeDir = None) -> None:
    """Plan, train a LoRA adapter, and score base vs fine-tuned on the test split, in a new run folder."""
    if (config_path is None) == (resume is None):
        raise typer.BadParameter("give a config file to start a run, or --resume RUN_DIR to finish one")
    config = None if resume else _load(config_path)  # a bad config fails before any heavy import
    _quiet_libraries()
    from tunesmith.pipeline import resume_run, train_run

    if resume:
        resume_run(resume)
    else:
        train_run(config)


@app.command("eval")
def evaluate(run_dir: RunDir, max_examples: MaxExamples = None) -> None:
    """Re-score a finished run on its test split (results go to RUN_DIR/evals/eval-<timestamp>/)."""
    _quiet_libraries()
    from tunesmith.pipeline import evaluate_run

    target = evaluate_run(run_dir, max_examples)
    typer.echo(f"results written to {target}")


@app.command()
def export(
    run_dir: RunDir,
    format: Annotated[str, typer.Option("--format", help="merged | adapter | gguf | ollama")] = "merged",
    out: Annotated[
        Path | None, typer.Option(help="New folder (or .gguf file) to write; default beside the run.")
    ] = None,
    gguf_type: Annotated[str, typer.Option("--gguf-type", help="GGUF weights: f16 or q8_0.")] = "f16",
) -> None:
    """Export a finished run: a merged model folder, the adapter alone, a GGUF file, or an Ollama folder."""
    _quiet_libraries()
    from tunesmith.export import export_run

    if out is None:
        suffix = ".gguf" if format == "gguf" else ""
        out = run_dir.parent / f"{run_dir.name}-{format}{suffix}"
    target = export_run(run_dir, format, out, gguf_type)
    typer.echo(f"{format} export written to {target}")


@app.command()
def serve(
    run_dir: Annotated[
        Path, typer.Argument(help="A finished run, a model folder, or a sentence-transformers folder.")
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    api_key: Annotated[
        str | None, typer.Option(envvar="TUNESMITH_API_KEY", help="Require 'Authorization: Bearer KEY' (not /health).")
    ] = None,
    model_name: Annotated[str | None, typer.Option(help="The model id clients send; default: the run's name.")] = None,
    max_batch: Annotated[int, typer.Option(min=1, help="Most queued requests generated together.")] = 8,
) -> None:
    """Serve a run over an OpenAI-compatible HTTP API (chat, completions, embeddings, models; docs at /docs)."""
    _quiet_libraries()
    from tunesmith.serve import create_app, load_served
    from tunesmith.serve.server import serve_forever

    served = load_served(run_dir, model_name)
    typer.echo(f"serving '{served.name}' on http://{host}:{port} (docs at /docs)")
    serve_forever(create_app(served, api_key, max_batch), host, port)


@app.command()
def version() -> None:
    """Print tunesmith's version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except TunesmithError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

"""The ``tunesmith`` command line: thin commands over :mod:`tunesmith.pipeline`; heavy imports happen inside each.

The data commands' bodies are in :mod:`tunesmith.cli.data_commands`; ``python -m tunesmith.cli`` runs :func:`main`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Annotated

import typer

from tunesmith import __version__
from tunesmith.errors import RunInterrupted, TunesmithError, disk_error

app = typer.Typer(help="Fine-tune small models on small data: plan, train, evaluate.", no_args_is_help=True)

ConfigPath = Annotated[Path, typer.Argument(help="Run config (YAML or JSON).")]
RunDir = Annotated[Path, typer.Argument(help="A finished run folder.")]
OptionalConfigPath = Annotated[Path | None, typer.Argument(help="Run config (YAML or JSON).")]
ResumeDir = Annotated[Path | None, typer.Option(help="Finish a stopped run from its last complete checkpoint.")]
MaxExamples = Annotated[int | None, typer.Option(help="Score only the first N test examples.")]
DataFiles = Annotated[list[Path], typer.Argument(help="Data files (train/valid/test by name), or one run config.")]
DataFile = Annotated[Path, typer.Argument(help="A JSON, JSONL or CSV data file.")]
OutPath = Annotated[Path | None, typer.Option("--out", help="Where to write (a default name is printed).")]
ModelOption = Annotated[str | None, typer.Option("--model", help="Model whose tokenizer counts tokens.")]
ShapeOption = Annotated[str, typer.Option("--format", help="Record shape: auto, qa, alpaca, messages or summary.")]
PromptField = Annotated[str | None, typer.Option(help="Field holding the question (dotted path).")]
AnswerField = Annotated[str | None, typer.Option(help="Field holding the answer (dotted path).")]
CategoryField = Annotated[str, typer.Option(help="Field holding the category (dotted path).")]
DifficultyField = Annotated[str, typer.Option(help="Field holding the difficulty (dotted path).")]
Seed = Annotated[int, typer.Option(help="Random seed (same seed, same result).")]
Operations = Annotated[
    str | None, typer.Option(help="Comma-separated: delete, swap, synonym, duplicate (default: the first three).")
]
SynonymsFile = Annotated[Path | None, typer.Option(help="Word list: JSON {word: [synonyms]} or 'word: a, b' lines.")]
Processes = Annotated[
    int | None, typer.Option(help="Train in N processes on this machine (accelerate launch); one per GPU.")
]
PlanProcesses = Annotated[int | None, typer.Option("--processes", help="Plan for N processes (global batch, time).")]
PlotFlag = Annotated[bool, typer.Option("--plot", help="Also draw the learning rate over steps: <name>-lr.png here.")]
PlotOut = Annotated[
    Path | None,
    typer.Option(
        "--plot-out",
        help="Draw the learning-rate plot to this PNG file (implies --plot; missing folders are created; "
        "an existing folder gets <name>-lr.png).",
    ),
]


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
def plan(
    config_path: ConfigPath, plot: PlotFlag = False, plot_out: PlotOut = None, processes: PlanProcesses = None
) -> None:
    """Print the hyperparameters a run would use, why, and the time and memory it should take."""
    config = _load(config_path)
    _quiet_libraries()
    from tunesmith.pipeline import show_plan

    prepared = show_plan(config, processes)
    if plot or plot_out is not None:
        from tunesmith.plan.plot import plot_path, plot_schedule
        from tunesmith.schedules import schedule_settings

        settings = schedule_settings(config.schedule, prepared.plan["warmup_steps"])
        path = plot_path(config.name, plot_out)
        try:
            plot_schedule(settings, prepared.plan.estimate.total_steps, prepared.plan["learning_rate"], path)
        except OSError as err:  # a parent that is a file, a folder we may not write to
            raise typer.BadParameter(
                f"{path}: cannot write the plot there ({err.strerror or err})", param_hint="--plot-out"
            ) from None
        typer.echo(f"learning-rate plot written to {path}")


@app.command()
def train(config_path: OptionalConfigPath = None, resume: ResumeDir = None, processes: Processes = None) -> None:
    """Plan, train a LoRA adapter (or every weight), score base vs fine-tuned on the test split, in a new run folder.

    Works unchanged under ``accelerate launch`` and ``torchrun``; ``--processes N`` starts that launcher itself.
    """
    if (config_path is None) == (resume is None):
        raise typer.BadParameter("give a config file to start a run, or --resume RUN_DIR to finish one")
    config = None if resume else _load(config_path)  # a bad config fails before any heavy import
    if processes is not None and processes > 1:
        _relaunch(processes, config_path, resume)
    _quiet_libraries()
    from tunesmith.pipeline import resume_run, train_run

    if resume:
        resume_run(resume)
    else:
        train_run(config)


def _relaunch(processes: int, config_path: Path | None, resume: Path | None) -> None:
    from tunesmith import distributed

    if distributed.world_size() > 1:
        raise typer.BadParameter("--processes starts a launcher: leave it out under accelerate launch or torchrun")
    arguments = ["train", "--resume", str(resume)] if resume else ["train", str(config_path)]
    raise SystemExit(distributed.launch(processes, arguments))


def _fields(prompt_field, answer_field, category_field, difficulty_field):
    from tunesmith.data import FieldMap

    return FieldMap(prompt_field, answer_field, category_field, difficulty_field)


@app.command()
def analyze(
    paths: DataFiles,
    model: ModelOption = None,
    shape: ShapeOption = "auto",
    prompt_field: PromptField = None,
    answer_field: AnswerField = None,
    category_field: CategoryField = "category",
    difficulty_field: DifficultyField = "difficulty",
    out: OutPath = None,
) -> None:
    """Sizes, token lengths, categories, duplicates, suspicious answers and leakage; then the plan that fits."""
    _quiet_libraries()
    from tunesmith.cli.data_commands import analyze_command

    fields = _fields(prompt_field, answer_field, category_field, difficulty_field)
    analyze_command(paths, model, shape, fields, out)


@app.command()
def split(
    path: DataFile,
    fractions: Annotated[tuple[float, float, float], typer.Option(help="train valid test shares.")] = (0.7, 0.2, 0.1),
    seed: Seed = 42,
    shape: ShapeOption = "auto",
    prompt_field: PromptField = None,
    answer_field: AnswerField = None,
    category_field: CategoryField = "category",
    difficulty_field: DifficultyField = "difficulty",
    out: OutPath = None,
) -> None:
    """Stratified train/valid/test JSONL files (by category and difficulty); near duplicates stay together."""
    from tunesmith.cli.data_commands import split_command

    fields = _fields(prompt_field, answer_field, category_field, difficulty_field)
    split_command(path, fractions, seed, shape, fields, out)


@app.command()
def augment(
    path: DataFile,
    copies: Annotated[int, typer.Option(min=1, help="Augmented copies per example.")] = 2,
    ops: Operations = None,
    synonyms: SynonymsFile = None,
    rewrite: Annotated[int, typer.Option(min=0, help="Add K filtered rewrites of every fact's questions.")] = 0,
    generator: Annotated[str, typer.Option(help="Rewrites from: rules, model (local) or endpoint.")] = "rules",
    rewrite_model: Annotated[
        str | None, typer.Option(help="generator model: folder or hub id; endpoint: the model name to ask for.")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="generator endpoint: the server's base URL (.../v1).")] = None,
    api_key_env: Annotated[str | None, typer.Option(help="generator endpoint: variable holding the API key.")] = None,
    min_similarity: Annotated[
        float | None, typer.Option(help="Least similarity of a rewrite to its question.")
    ] = None,
    seed: Seed = 42,
    shape: ShapeOption = "auto",
    prompt_field: PromptField = None,
    answer_field: AnswerField = None,
    category_field: CategoryField = "category",
    difficulty_field: DifficultyField = "difficulty",
    out: OutPath = None,
) -> None:
    """Edited copies (--ops) or filtered rewrites (--rewrite K) of each question, answers untouched, marked so they
    never reach a valid or test split."""
    from tunesmith.cli.data_commands import augment_command, rewrite_command

    fields = _fields(prompt_field, answer_field, category_field, difficulty_field)
    if rewrite:
        if ops is not None or synonyms is not None:
            raise TunesmithError("--rewrite and --ops/--synonyms are separate passes: run augment once for each")
        options = {"model": rewrite_model, "base_url": base_url, "api_key_env": api_key_env}
        options |= {"min_similarity": min_similarity}
        given = {name: value for name, value in options.items() if value is not None}
        rewrite_command(path, {"k": rewrite, "generator": generator, **given}, shape, fields, out, seed)
        return
    operations = [op.strip() for op in (ops or "delete,swap,synonym").split(",") if op.strip()]
    augment_command(path, copies, operations, synonyms, seed, shape, fields, out)


@app.command()
def report(run_dir: RunDir) -> None:
    """(Re)build a scored run's report.md and self-contained report.html, with plots and suggestions."""
    from tunesmith.reports import write_report

    markdown, page = write_report(run_dir)
    typer.echo(f"report written to {markdown} and {page}")


@app.command()
def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run folders to put side by side.")],
    show_all: Annotated[bool, typer.Option("--all", help="Also list config entries that are equal.")] = False,
    out: OutPath = None,
) -> None:
    """Several runs' settings and scores side by side, with the settings that differ highlighted."""
    from tunesmith.runs.compare import collect, print_comparison, to_markdown

    comparison = collect(run_dirs)
    print_comparison(comparison, show_all=show_all)
    if out:
        from tunesmith.atomic import write_text

        write_text(out, to_markdown(comparison))
        typer.echo(f"comparison written to {out}")


runs_app = typer.Typer(help="The runs folder as a registry: lineage tree, one run in detail.")
app.add_typer(runs_app, name="runs")
RunsDir = Annotated[Path, typer.Option("--runs-dir", help="The runs folder.")]
RunRef = Annotated[str, typer.Argument(help="A run folder, a run name in --runs-dir, or 'current'.")]


@runs_app.callback(invoke_without_command=True)
def runs_list(ctx: typer.Context, runs_dir: RunsDir = Path("runs")) -> None:
    """List the runs as lineage trees with their key metrics; the current run is marked."""
    if ctx.invoked_subcommand is None:
        from tunesmith.runs.show import print_runs

        print_runs(runs_dir)


@runs_app.command("show")
def runs_show(run: RunRef, runs_dir: RunsDir = Path("runs")) -> None:
    """One run: parent, data files and hashes, training, scores, and retention of earlier stages."""
    from tunesmith.runs.registry import resolve_run
    from tunesmith.runs.show import print_run

    print_run(resolve_run(run, runs_dir), runs_dir)


@app.command()
def rollback(run: RunRef, runs_dir: RunsDir = Path("runs")) -> None:
    """Make an earlier finished run the current one (what serve and export use); one atomic switch."""
    from tunesmith.runs.registry import resolve_run, set_current

    target = resolve_run(run, runs_dir)
    set_current(runs_dir, target)
    typer.echo(f"current run: {target.name}")


@app.command()
def prune(
    runs: Annotated[list[str], typer.Argument(help="Runs to delete (folders or names).")],
    runs_dir: RunsDir = Path("runs"),
    checkpoints_only: Annotated[bool, typer.Option(help="Delete only their checkpoints/ folders.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete runs (or their checkpoints); refuses to delete a run that a kept run descends from, or the current."""
    from tunesmith.runs.registry import prune as prune_runs
    from tunesmith.runs.registry import resolve_run

    targets = [resolve_run(run, runs_dir) for run in runs]
    what = "the checkpoints of" if checkpoints_only else "the run folders"
    if not yes:
        typer.confirm(f"delete {what} {', '.join(t.name for t in targets)}?", abort=True)
    for path in prune_runs(runs_dir, targets, checkpoints_only):
        typer.echo(f"deleted {path}")


@app.command("eval")
def evaluate(run_dir: RunDir, max_examples: MaxExamples = None) -> None:
    """Re-score a finished run on its test split (results go to RUN_DIR/evals/eval-<timestamp>/)."""
    _quiet_libraries()
    from tunesmith.pipeline import evaluate_run

    target = evaluate_run(run_dir, max_examples)
    typer.echo(f"results written to {target}")


@app.command()
def export(
    run: RunRef,
    format: Annotated[str, typer.Option("--format", help="merged | adapter | gguf | ollama")] = "merged",
    out: Annotated[
        Path | None, typer.Option(help="New folder (or .gguf file) to write; default beside the run.")
    ] = None,
    gguf_type: Annotated[
        str,
        typer.Option(
            "--gguf-type",
            help="GGUF weights: f16, bf16 or q8_0 (llama.cpp's converter); q4_K_M, q5_K_M or q6_K (its quantizer, "
            "with llama-cpp-python installed).",
        ),
    ] = "f16",
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Export a finished run: a merged model folder, the adapter alone, a GGUF file, or an Ollama folder."""
    from tunesmith.runs.registry import resolve_run

    run_dir = resolve_run(run, runs_dir)
    _quiet_libraries()
    from tunesmith.export import export_run

    if out is None:
        suffix = ".gguf" if format == "gguf" else ""
        out = run_dir.parent / f"{run_dir.name}-{format}{suffix}"
    target = export_run(run_dir, format, out, gguf_type)
    typer.echo(f"{format} export written to {target}")


@app.command()
def serve(
    run: Annotated[
        str,
        typer.Argument(
            help="A run (folder, name in --runs-dir, or 'current'), a model or sentence-transformers folder."
        ),
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    api_key: Annotated[
        str | None, typer.Option(envvar="TUNESMITH_API_KEY", help="Require 'Authorization: Bearer KEY' (not /health).")
    ] = None,
    model_name: Annotated[str | None, typer.Option(help="The model id clients send; default: the run's name.")] = None,
    max_batch: Annotated[int, typer.Option(min=1, help="Most queued requests generated together.")] = 8,
    max_queue: Annotated[int, typer.Option(min=1, help="Most requests waiting; beyond, 503 with Retry-After.")] = 64,
    request_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds a request may wait and generate; beyond, 504.")
    ] = 600.0,
    max_body_mb: Annotated[float, typer.Option(min=0.01, help="Largest request body in MiB; beyond, 413.")] = 8.0,
    trust_remote_code: Annotated[
        bool,
        typer.Option(
            help="Run the Python code a plain model folder ships (auto_map); a run follows its config instead."
        ),
    ] = False,
    runs_dir: RunsDir = Path("runs"),
) -> None:
    """Serve a run over an OpenAI-compatible HTTP API (chat, completions, embeddings, models; docs at /docs)."""
    from tunesmith.runs.registry import resolve_run

    folder = Path(run)
    run_dir = folder if folder.is_dir() and not (folder / "run.json").is_file() else resolve_run(run, runs_dir)
    _quiet_libraries()
    from tunesmith.serve import create_app, load_served
    from tunesmith.serve.server import serve_forever

    served = load_served(run_dir, model_name, trust_remote_code)
    typer.echo(f"serving '{served.name}' on http://{host}:{port} (docs at /docs)")
    limits = {"max_queue": max_queue, "request_timeout": request_timeout, "max_body_bytes": int(max_body_mb * 2**20)}
    serve_forever(create_app(served, api_key, max_batch, **limits), host, port)


@app.command()
def tune(
    config_path: ConfigPath,
    trials: Annotated[int, typer.Option(min=1, help="Trials to run (the plan's choice is the first).")] = 10,
    time_budget: Annotated[
        float | None, typer.Option(min=0.1, help="Minutes; no trial starts after them (a started one finishes).")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(help="Optuna storage URL shared by several machines; default SQLite in the tune folder."),
    ] = None,
) -> None:
    """Bayesian search (Optuna TPE, median pruning per epoch) over rate, rank, epochs and the task's knobs, each
    trial a run folder, scored on the validation split; writes tune.json, tune.md and curves.png."""
    from tunesmith.config import load_config
    from tunesmith.tune import tune as run_study

    result = run_study(load_config(config_path), trials, time_budget, storage)
    best = "no trial finished" if result.best_run is None else f"best {result.best_value:.4f}: {result.best_run}"
    typer.echo(f"{len(result.trials)} trials; {best}; report {result.folder / 'tune.md'}")


@app.command()
def ui(
    runs_dir: RunsDir = Path("runs"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 7860,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="TUNESMITH_API_KEY", help="Key the browser gives once at /login?key=KEY."),
    ] = None,
) -> None:
    """A local web app over the runs folder: runs, scores, live loss, compare, plan, start and stop runs."""
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        raise typer.BadParameter("beyond loopback the UI starts and stops runs: give --api-key (or TUNESMITH_API_KEY)")
    from tunesmith.serve.server import serve_forever
    from tunesmith.ui import create_app

    typer.echo(f"tunesmith ui over {runs_dir.resolve()} on http://{host}:{port}")
    serve_forever(create_app(runs_dir, api_key), host, port)


@app.command()
def version() -> None:
    """Print tunesmith's version."""
    typer.echo(__version__)


def main() -> None:
    try:
        try:
            app()
        except OSError as err:  # a full disk while exporting or writing a report: said plainly, not a traceback
            plain = disk_error(err, "writing")
            if plain is None:
                raise
            raise plain from None
    except TunesmithError as err:
        color = typer.colors.YELLOW if isinstance(err, RunInterrupted) else typer.colors.RED
        typer.secho(f"{err.label}: {err}", fg=color, err=True)
        raise SystemExit(err.exit_code) from None

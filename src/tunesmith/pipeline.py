"""The end-to-end chain behind ``plan``, ``train`` and ``eval``: one call per step, each step's output a plain object.

config -> splits -> model folder + tokenizer -> profile -> plan -> run folder -> train -> evaluate -> finish
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console

from tunesmith import continual, distributed
from tunesmith.config import RunConfig, config_from_dict, dump_config
from tunesmith.data import Example, Splits, load_examples, load_splits, write_examples
from tunesmith.errors import RunError
from tunesmith.metrics.evaluate import primary_metric, write_results
from tunesmith.plan import Plan, detect_hardware, generation_settings, make_plan, profile_splits, read_model_info
from tunesmith.plan.show import print_plan
from tunesmith.reports import write_report
from tunesmith.runs import RunFolder
from tunesmith.runs.registry import set_current

console = Console()


@dataclass
class Prepared:
    config: RunConfig
    splits: Splits
    model_dir: Path
    plan: Plan


def prepare(config: RunConfig, processes: int | None = None) -> Prepared:
    """Everything before training: data checked, model located, plan made. Nothing is written.

    With several processes, each loads the data but the main process's plan is the one all of them follow
    (hardware timings differ a little from process to process). ``processes`` plans for that many processes
    from a single one (``tunesmith plan --processes N``).
    """
    splits = load_splits(config.data)
    if not splits.test and distributed.is_main():
        console.print("[yellow]warning: no test examples; the run will not be scored[/yellow]")
    splits, replay = continual.with_replay(config, splits)
    model_dir = _model_dir(config)
    plan = distributed.share_from_main(lambda: plan_splits(config, splits, model_dir, processes)[0])
    if replay is not None:
        plan.choices["replay_examples"] = replay
    return Prepared(config, splits, model_dir, plan)


def _model_dir(config: RunConfig) -> Path:
    """The run's model folder; a continued run's merged parent is cached by the main process before the others."""
    with distributed.main_first():
        return continual.model_dir_for(config)


def plan_splits(config: RunConfig, splits: Splits, model_dir: Path, processes: int | None = None):
    """The plan for these splits on this model and machine, and the model's tokenizer that measured them."""
    from tunesmith.tasks.causal import load_tokenizer

    tokenizer = load_tokenizer(model_dir)
    profile = profile_splits(splits, tokenizer, config.model.system_prompt)
    hardware = detect_hardware(processes or distributed.world_size())
    return make_plan(profile, config, hardware, read_model_info(model_dir)), tokenizer


def show_plan(config: RunConfig, processes: int | None = None) -> Prepared:
    if config.task == "embedding":
        from tunesmith.embedding_pipeline import show_embedding_plan

        return show_embedding_plan(config)
    prepared = prepare(config, processes)
    if distributed.is_main():
        print_plan(prepared.plan, console)
    return prepared


def train_run(config: RunConfig) -> RunFolder:
    """Plan, train, evaluate base vs tuned, and leave a finished run folder."""
    if config.task == "embedding":
        from tunesmith.embedding_pipeline import train_embedding_run

        if distributed.world_size() > 1:
            raise RunError("embedding runs train in one process; start them without a launcher or --processes")
        return train_embedding_run(config)
    prepared = show_plan(config)
    run = RunFolder(distributed.share_from_main(lambda: _new_run_folder(prepared)))
    return _train_and_score(run, prepared)


def _new_run_folder(prepared: Prepared) -> Path:
    run = RunFolder.create(prepared.config.output.runs_dir, prepared.config.name)
    console.print(f"run folder: [bold]{run.path}[/bold]")
    _write_run_inputs(run, prepared)
    return run.path


def resume_run(run_path: Path) -> RunFolder:
    """Finish a run that was stopped: same config, plan and splits, from its newest complete checkpoint."""

    run = RunFolder.open(run_path)
    if run.read_json("run.json")["status"] == "done":
        raise RunError(f"{run.path}: the run already finished; start a new one instead")
    config = _saved_config(run)
    if config.task == "embedding":
        raise RunError(f"{run.path}: embedding runs cannot be resumed yet; start a new one instead")
    plan = Plan.from_dict(run.read_json("plan.json"))
    planned_processes = plan.hardware.get("world_size", 1)
    _check_same_world_size(run, planned_processes)
    splits = Splits(*(_saved_split(run, name) for name in ("train", "valid", "test")))
    checkpoint = distributed.share_from_main(lambda: _start_resuming(run, plan, planned_processes))
    prepared = Prepared(config, splits, _model_dir(config), plan)
    return _train_and_score(run, prepared, resume_from=checkpoint)


def _check_same_world_size(run: RunFolder, planned: int) -> None:
    if planned != distributed.world_size():
        raise RunError(
            f"{run.path}: the run was planned for {planned} process(es) and is resumed with "
            f"{distributed.world_size()}; resume it with the same number (--processes {planned}) so that its "
            "batches, data order and random states carry on where they stopped"
        )


def _start_resuming(run: RunFolder, plan: Plan, processes: int) -> Path | None:
    """On the main process: drop half-written checkpoints, mark the run running again, say where it resumes."""
    checkpoint = run.last_complete_checkpoint(processes)
    print_plan(plan, console)
    console.print(f"resuming {run.path} from {checkpoint.name if checkpoint else 'the start (no checkpoint yet)'}")
    run.update(status="running", resumed_from=str(checkpoint) if checkpoint else None)
    return checkpoint


def _train_and_score(run: RunFolder, prepared: Prepared, resume_from: Path | None = None) -> RunFolder:
    from transformers import set_seed

    from tunesmith.tasks import BUILDERS, encode_for, load_trained_model
    from tunesmith.training import train

    config, plan, splits = prepared.config, prepared.plan, prepared.splits
    set_seed(config.training.seed)  # the adapter's random init too: same config, same run
    bundle = BUILDERS[config.task](prepared.model_dir, plan, config.lora.dropout, config.model.system_prompt)
    encode = lambda examples: encode_for(bundle, examples, plan["max_length"], plan["max_new_tokens"])  # noqa: E731
    valid = encode(splits.valid) if splits.valid else None
    use_cpu = plan.hardware["device"] == "cpu"
    with_difficulty = config.training.curriculum == "difficulty"
    train_data = encode_for(bundle, splits.train, plan["max_length"], plan["max_new_tokens"], with_difficulty)
    try:
        result = train(bundle, train_data, valid, plan, config, run, use_cpu, resume_from)
        if not distributed.is_main():
            return run  # the main process scores, reports and writes; the others' part ends with training
        if use_cpu:
            distributed.take_the_cores()
        if result.sharded:  # this process holds only its shard of the trained weights
            bundle = load_trained_model(prepared.model_dir, run.adapter_dir, config.model.system_prompt)
        run.update(training=result.__dict__)
        if splits.test:
            scores = _score(bundle, splits.test, plan, config)
            earlier = continual.score_earlier_stages(run, bundle, plan, config) if _rescore_earlier(config) else []
            extra = {"earlier_stages": earlier} if earlier else None
            write_results(run.path, scores, extra, primary=primary_metric(config.task))
    except BaseException as err:
        if distributed.is_main():
            run.finish(status="failed", error=f"{type(err).__name__}: {err}")
        raise
    run.finish(status="done")
    set_current(run.path.parent, run.path)  # the newest finished run serves until a rollback says otherwise
    if splits.test:
        write_report(run.path)  # derived from the finished folder; `tunesmith report` rebuilds it
    record = run.read_json("run.json")
    console.print(
        f"done in {record['wall_seconds'] / 60:.1f} min (training {result.train_seconds / 60:.1f} min, "
        f"peak memory {result.peak_memory_gb:.2f} GiB). Run folder: [bold]{run.path}[/bold]"
        + (f"\nreport: {run.path / 'report.html'}" if (run.path / "report.html").is_file() else "")
    )
    return run


def _saved_config(run: RunFolder) -> RunConfig:
    config_file = run.path / "config.yaml"
    return config_from_dict(yaml.safe_load(config_file.read_text()), str(config_file))


def _saved_split(run: RunFolder, name: str) -> list[Example]:
    path = run.data_dir / f"{name}.jsonl"
    return load_examples(path, "messages") if path.is_file() and path.stat().st_size else []


def evaluate_run(run_path: Path, max_examples: int | None = None) -> Path:
    """Re-score a finished run's test split; results go to a new ``evals/eval-<timestamp>/`` folder in the run."""
    from tunesmith.tasks import load_trained_model

    run = RunFolder.open(run_path)
    if _saved_config(run).task == "embedding":
        from tunesmith.embedding_pipeline import evaluate_embedding_run

        return evaluate_embedding_run(run, _saved_config(run), max_examples)
    if not run.adapter_dir.is_dir():
        raise RunError(f"{run.path}: the run has no adapter (did training finish?)")
    config = _saved_config(run)
    if max_examples:
        config.evaluation.max_examples = max_examples
    test = _saved_split(run, "test")
    bundle = load_trained_model(continual.model_dir_for(config), run.adapter_dir, config.model.system_prompt)
    result = _score(bundle, test, Plan.from_dict(run.read_json("plan.json")), config)
    target = RunFolder.create(run.path / "evals", "eval").path
    write_results(target, result, primary=primary_metric(config.task))
    return target


def score_with_plan(bundle, examples: list[Example], plan: Plan, batch_size: int, compare_base: bool) -> dict:
    """Generate and score ``examples`` with the lengths, precision and decoding settings the plan chose."""
    from tunesmith.metrics import evaluate_bundle

    return evaluate_bundle(
        bundle,
        examples,
        max_new_tokens=plan["max_new_tokens"],
        batch_size=batch_size,
        bf16=bool(plan["bf16"]),
        compare_base=compare_base,
        max_length=plan["max_length"],
        generation=generation_settings(plan),
    )


def _score(bundle, test: list[Example], plan: Plan, config: RunConfig) -> dict:
    """Generate and score the test examples (the first ``evaluation.max_examples``), and print the tables."""
    from tunesmith.metrics.show import print_metrics

    test = test[: config.evaluation.max_examples] if config.evaluation.max_examples else test
    result = score_with_plan(bundle, test, plan, config.evaluation.batch_size, config.evaluation.compare_base)
    print_metrics(result["summary"], console, primary=primary_metric(config.task))
    return result


def _write_run_inputs(run: RunFolder, prepared: Prepared) -> None:
    config = prepared.config
    run.write_text("config.yaml", dump_config(config))
    run.write_json("plan.json", prepared.plan.to_dict())
    for name in ("train", "valid", "test"):
        write_examples(run.data_dir / f"{name}.jsonl", getattr(prepared.splits, name))
    run.start(parent=continual.parent_record(config, prepared.model_dir), data_files=_data_files(config))


def _rescore_earlier(config: RunConfig) -> bool:
    return bool(config.continue_from) and config.continual.evaluate_earlier


def _data_files(config: RunConfig) -> dict:
    """Each source data file with its content hash, so a run's lineage says exactly what it learned from."""
    import hashlib

    files = {}
    for name in ("train", "valid", "test"):
        path = getattr(config.data, name)
        if path is not None and Path(path).is_file():
            files[name] = {"path": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
    return files

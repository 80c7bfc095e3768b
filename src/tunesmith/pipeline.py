"""The one chain behind ``plan``, ``train``, ``eval`` and ``train --resume``, the same for every task:

    config -> task data -> model folder -> plan -> run folder -> build -> train -> evaluate -> finish -> report

Each step is one call on the run's task (:mod:`tunesmith.tasks`, the contract in :mod:`tunesmith.tasks.contract`);
nothing here knows which task it runs.
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.console import Console

from tunesmith import continual, distributed
from tunesmith.config import RunConfig, config_from_dict, dump_config
from tunesmith.errors import DISK_ERRORS, ConfigError, RunError, RunInterrupted
from tunesmith.models.load import check_remote_code
from tunesmith.plan import Hardware, Plan, detect_hardware
from tunesmith.plan.show import print_plan
from tunesmith.reports import write_report
from tunesmith.runs import RunFolder
from tunesmith.runs.registry import set_current
from tunesmith.runs.show import resume_command
from tunesmith.runs.status import PREPARING, effective_status
from tunesmith.tasks import Task, TaskData, get_task

console = Console()
SPLITS = ("train", "valid", "test")
TRAINING, SCORING = "training", "scoring"  # run.json's ``stage`` (with PREPARING and "choosing decoding")


@dataclass
class Prepared:
    config: RunConfig
    task: Task
    data: TaskData
    model_dir: Path
    plan: Plan


def prepare(config: RunConfig, processes: int | None = None, hardware: Hardware | None = None) -> Prepared:
    """Everything before training: data checked, model located, plan made. Nothing is written.

    With several processes, each loads the data but the main process's plan is the one all of them follow
    (hardware timings differ a little from process to process). ``processes`` plans for that many processes
    from a single one (``tunesmith plan --processes N``); ``hardware`` plans for a machine as measured before
    instead of measuring this one (bench/estimates.py --replan: a finished run's plan, made again today).
    """
    task = get_task(config.task)
    data = task.load_data(config)
    if not data.test and distributed.is_main():
        console.print("[yellow]warning: no test examples; the run will not be scored[/yellow]")
    data, replay = continual.with_replay(task, config, data)
    model_dir = _model_dir(config)
    check_remote_code(model_dir, config.model.trust_remote_code)
    if config.model.trust_remote_code and distributed.is_main():
        console.print(f"[yellow]model.trust_remote_code: the Python code shipped in {model_dir} may run[/yellow]")
    machine = lambda: hardware or detect_hardware(processes or distributed.world_size())  # noqa: E731
    plan = distributed.share_from_main(lambda: task.plan(config, data, model_dir, machine()))
    parent = continual.parent_choice(config)
    if parent is not None:
        plan.choices["continue_from"] = parent
    if replay is not None:
        plan.choices["replay_examples"] = replay
    return Prepared(config, task, data, model_dir, plan)


def _model_dir(config: RunConfig) -> Path:
    """The run's model folder; a continued run's merged parent is cached by the main process before the others."""
    with distributed.main_first():
        return continual.model_dir_for(config)


def show_plan(config: RunConfig, processes: int | None = None) -> Prepared:
    prepared = prepare(config, processes)
    if distributed.is_main():
        print_plan(prepared.plan, console)
    return prepared


def train_run(config: RunConfig) -> RunFolder:
    """Plan, train, evaluate base vs tuned, and leave a finished run folder."""
    prepared = show_plan(config)
    run = RunFolder(distributed.share_from_main(lambda: _new_run_folder(prepared)))
    return _train_and_score(run, prepared)


def check_disk(plan: Plan, runs_dir: Path) -> None:
    """Refuse, before anything is trained or written, a full fine-tune whose checkpoints would fill the disk."""
    needed = plan.estimate.disk_gb
    existing = next(folder for folder in (runs_dir.absolute(), *runs_dir.absolute().parents) if folder.exists())
    free = shutil.disk_usage(existing).free / 2**30
    if needed > free:
        raise RunError(
            f"{runs_dir}: a full fine-tune's checkpoints and model take up to ~{needed:.1f} GiB and {free:.1f} GiB is "
            "free; lower output.keep_checkpoints, set output.save_checkpoints: false, delete finished runs' "
            "checkpoints (tunesmith prune --checkpoints-only RUN ...), or train a LoRA adapter (training.method: lora)"
        )


def _new_run_folder(prepared: Prepared) -> Path:
    """The run's folder with its config, plan and splits; run.json comes first (stage ``preparing``), so that a
    process killed while writing the rest leaves a run that ``runs`` shows as failed, not an unexplained folder."""
    config, task = prepared.config, prepared.task
    check_disk(prepared.plan, Path(config.output.runs_dir))
    run = RunFolder.create(config.output.runs_dir, config.name)
    console.print(f"run folder: [bold]{run.path}[/bold]")
    run.start(parent=continual.parent_record(config, prepared.model_dir), data_files=_data_files(config))
    run.write_text("config.yaml", dump_config(config))
    run.write_json("plan.json", prepared.plan.to_dict())
    for name in SPLITS:
        task.write_split(run.data_dir / f"{name}.jsonl", getattr(prepared.data, name))
    task.write_resources(run.path, prepared.data)
    run.update(stage=TRAINING, **({"data": prepared.data.report} if prepared.data.report else {}))
    return run.path


def resume_run(run_path: Path) -> RunFolder:
    """Finish a run that was stopped: same config, plan and splits, from its newest complete checkpoint."""
    run = RunFolder.open(run_path)
    record = run.read_json("run.json")
    _check_resumable(run, record)
    if record["status"] == "done":  # stopped while writing its report, the one thing left to do
        run.clear_leftovers()
        write_report(run.path)
        console.print(f"the run had finished; its report was missing and is written now: {run.path / 'report.html'}")
        return run
    config = saved_config(run)
    task = get_task(config.task)
    plan = Plan.from_dict(run.read_json("plan.json"))
    planned_processes = plan.hardware.get("world_size", 1)
    _check_same_world_size(run, planned_processes)
    data = TaskData(*(task.read_split(run.data_dir / f"{name}.jsonl") for name in SPLITS))
    checkpoint = distributed.share_from_main(lambda: _start_resuming(run, plan, planned_processes))
    prepared = Prepared(config, task, data, _model_dir(config), plan)
    return _train_and_score(run, prepared, resume_from=checkpoint)


def _check_resumable(run: RunFolder, record: dict) -> None:
    status = effective_status(record)
    # only a process seen alive on this host: another host's, or an unrecorded one, may have been stopped
    if status == "running" and distributed.is_main():  # the others may read run.json after the main one
        raise RunError(
            f"{run.path}: the run is still {status} (process {record.get('process', {}).get('pid')}); "
            "stop it before resuming it"
        )
    if status == "done" and ((run.path / "report.html").is_file() or not (run.path / "metrics.json").is_file()):
        raise RunError(f"{run.path}: the run already finished; start a new one instead")
    if record.get("stage") == PREPARING:
        raise RunError(
            f"{run.path}: the run stopped while {PREPARING}, before its plan and data splits were all written; "
            "start it again from its config (tunesmith train CONFIG)"
        )


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
    cleared = run.clear_outputs()
    if cleared:
        console.print(f"written again from the checkpoint: {', '.join(cleared)} (the stopped attempt's)")
    run.resume_started(str(checkpoint) if checkpoint else None)
    return checkpoint


def _train_and_score(run: RunFolder, prepared: Prepared, resume_from: Path | None = None) -> RunFolder:
    from transformers import set_seed

    config, task, plan, data = prepared.config, prepared.task, prepared.plan, prepared.data
    set_seed(config.training.seed)  # the adapter's random init too: same config, same run
    stage = _Stages(run)
    try:
        stage.enter(TRAINING)
        bundle = task.build(config, plan, prepared.model_dir)
        result = task.train(bundle, data, plan, config, run, resume_from)
        distributed.leave()  # the main process scores, reports and writes alone
        if not distributed.is_main():
            return run  # the others' part ends with training
        if plan.hardware["device"] == "cpu":
            distributed.take_the_cores()
        if result.sharded or result.converted:  # a shard of the weights, or an adapter saved in another form
            bundle = task.load_trained(run.path, config, prepared.model_dir)
        run.update(training=_without_none(result.__dict__))
        stage.enter("choosing decoding")
        plan, chosen = task.after_training(bundle, data, plan, config)
        if chosen:  # the plan eval, serve and export read from now on
            run.write_json("plan.json", plan.to_dict())
            run.update(**chosen)
            for name, record in chosen.items():
                console.print(f"{name.removesuffix('_search')}: {record['summary']}")
        if data.test:
            stage.enter(SCORING)
            started = time.perf_counter()
            scores = task.evaluate(bundle, data.test, plan, config, config.evaluation.compare_base)
            run.update(scoring_seconds=round(time.perf_counter() - started, 1))  # against the plan's estimate
            task.print_scores(scores, console)
            extra = task.after_scoring(bundle, data, plan, config, run, scores)
            if config.continue_from and config.continual.evaluate_earlier:
                earlier = continual.score_earlier_stages(run, task, bundle, plan, config)
                extra |= {"earlier_stages": earlier} if earlier else {}
            task.write_scores(run.path, scores, extra)
        run.finish(status="done")
    except BaseException as err:
        raised = stage.stopped(err)
        if raised is err:
            raise
        raise raised from None
    set_current(run.path.parent, run.path)  # the newest finished run serves until a rollback says otherwise
    if data.test:
        write_report(run.path)  # derived from the finished folder; `tunesmith report` rebuilds it
    record = run.read_json("run.json")
    console.print(
        f"done in {record['wall_seconds'] / 60:.1f} min (training {result.train_seconds / 60:.1f} min, "
        f"peak memory {result.peak_memory_gb:.2f} GiB). Run folder: [bold]{run.path}[/bold]"
        + (f"\nreport: {run.path / 'report.html'}" if (run.path / "report.html").is_file() else "")
    )
    return run


@dataclass
class _Stages:
    """Where a run is (run.json's ``stage``), and what a stop there becomes: Ctrl-C a RunInterrupted saying how
    to resume (run.json ``interrupted``), a disk error a RunError naming the file (``failed``), any other error
    itself (``failed``, with the error). Only the main process writes run.json."""

    run: RunFolder
    name: str = PREPARING

    def enter(self, name: str) -> None:
        self.name = name
        if distributed.is_main():
            self.run.update(stage=name)

    def stopped(self, err: BaseException) -> BaseException:
        if isinstance(err, KeyboardInterrupt):
            status, reason = "interrupted", "stopped with Ctrl-C"
            raised: BaseException = RunInterrupted(
                f"{self.run.path}: stopped while {self.name}{_checkpoint_note(self.run)}; "
                f"finish it with: {resume_command(self.run.path)}"
            )
        elif isinstance(err, OSError) and err.errno in DISK_ERRORS:
            status, reason = "failed", f"{err.strerror}: {err.filename or 'a file of the run'}"
            raised = RunError(
                f"{self.run.path}: {reason} while {self.name}; what was written before is kept. "
                f"Free some space, then finish it with: {resume_command(self.run.path)}"
            )
        elif isinstance(err, pickle.UnpicklingError):  # torch.load(weights_only=True) met a pickled object
            status, reason = "failed", "a checkpoint file holds Python objects, not only tensors: not loaded"
            raised = RunError(
                f"{self.run.path}: {reason} (transformers loads checkpoints with weights_only). Remove that "
                f"checkpoint folder to resume from an earlier one. {str(err).splitlines()[0]}"
            )
        else:
            status, reason, raised = "failed", f"{type(err).__name__}: {err}", err
        if distributed.is_main():
            try:
                self.run.finish(status=status, stage=self.name, error=reason)
            except OSError:  # the disk is full: run.json keeps "running", which `runs` shows as interrupted
                pass
        return raised


def _checkpoint_note(run: RunFolder) -> str:
    newest = run.newest_checkpoint()
    return f" (newest checkpoint: {newest.name})" if newest else " (no checkpoint yet)"


def saved_config(run: RunFolder) -> RunConfig:
    config_file = run.path / "config.yaml"
    return config_from_dict(yaml.safe_load(config_file.read_text()), str(config_file), saved=True)


def evaluate_run(run_path: Path, max_examples: int | None = None) -> Path:
    """Re-score a finished run's test split; results go to a new ``evals/eval-<timestamp>/`` folder in the run."""
    run = RunFolder.open(run_path)
    if run.read_json("run.json").get("status") != "done":
        raise RunError(f"{run.path}: the run has not finished (did training finish? `train --resume` it first)")
    config = saved_config(run)
    if max_examples:
        config.evaluation.max_examples = max_examples
    task = get_task(config.task)
    test = task.read_split(run.data_dir / "test.jsonl")
    if not test:
        raise RunError(f"{run.path}: the run has no test split to score")
    bundle = task.load_trained(run.path, config, continual.model_dir_for(config))
    scores = task.evaluate(bundle, test, Plan.from_dict(run.read_json("plan.json")), config, compare_base=False)
    task.print_scores(scores, console)
    target = RunFolder.create(run.path / "evals", "eval").path
    task.write_scores(target, scores)
    return target


def plan_splits(config: RunConfig, splits, model_dir: Path, processes: int | None = None):
    """The plan of a Q&A config for these splits, and the tokenizer that measured them (``tunesmith analyze``)."""
    task = get_task(config.task)
    plan_with_tokenizer = getattr(task, "plan_with_tokenizer", None)  # the tasks whose records are token sequences
    if plan_with_tokenizer is None:
        raise ConfigError(f"tunesmith analyze reads Q&A, chat and summary data, not a '{config.task}' config's")
    data = TaskData(splits.train, splits.valid, splits.test)
    hardware = detect_hardware(processes or distributed.world_size())
    return plan_with_tokenizer(config, data, model_dir, hardware)


def _without_none(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if value is not None}


def _data_files(config: RunConfig) -> dict:
    """Each source data file with its content hash, so a run's lineage says exactly what it learned from."""
    files = {}
    for name in SPLITS:
        path = getattr(config.data, name)
        if path is not None and Path(path).is_file():
            files[name] = {"path": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}
    return files

"""The chain of a ``task: embedding`` run, the counterpart of :mod:`tunesmith.pipeline` for sentence embeddings.

config -> pairs (validated, sampled) -> model folder -> profile -> plan -> run folder
       -> base scores -> [SimCSE stage] -> training -> tuned scores -> model/ (adapter merged) -> finish
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console

from tunesmith.config import RunConfig, dump_config
from tunesmith.data.pairs import LabelledText, PairSet, load_pairs, sample_pairs, split_pairs
from tunesmith.data.validate import validate_pairs
from tunesmith.plan import Plan
from tunesmith.runs import RunFolder, save_folder, write_text
from tunesmith.runs.registry import set_current

console = Console()
CURRICULUM_PHASES = 2  # the easier half first, then every pair


@dataclass
class PreparedEmbedding:
    config: RunConfig
    train: PairSet
    test: PairSet | None
    model_dir: Path
    plan: Plan
    data_report: dict


def load_embedding_data(config: RunConfig) -> tuple[PairSet, PairSet | None, dict]:
    """Train and test PairSets from the config's ``data`` and ``embedding`` sections, and what was done to them."""
    data, settings = config.data, config.embedding
    read = lambda path: load_pairs(path, settings.data_format, settings.columns, settings.score_max)  # noqa: E731
    train = read(data.train)
    test = read(data.test) if data.test else None
    report: dict = {"train_records": len(train), "test_records": len(test) if test else 0}
    if test is None and data.test_fraction > 0:
        train, test = split_pairs(train, data.test_fraction, data.split_seed)
        report["test_carved_from_train"] = data.test_fraction
    train = sample_pairs(train, settings.max_train_examples, data.split_seed)
    test = sample_pairs(test, settings.max_eval_examples, data.split_seed) if test else None
    if settings.validate_pairs:
        train, validation = validate_pairs(train)
        report["validation"] = validation.to_dict()
        if validation.total_dropped:
            console.print(f"pair validation: {validation.summary()}")
    report.update(train_used=len(train), test_used=len(test) if test else 0)
    if settings.simcse == "only":
        train = PairSet("texts", [LabelledText(text) for text in train.texts()])
        report["simcse_texts"] = len(train)
    return train, test, report


def prepare_embedding(config: RunConfig) -> PreparedEmbedding:
    """Everything before training: data read and checked, model located, plan made. Nothing is written."""
    from transformers import AutoTokenizer

    from tunesmith.models.embedding import resolve_embedding_model
    from tunesmith.plan import detect_hardware, read_model_info
    from tunesmith.plan.embedding import make_embedding_plan, profile_pairs

    train, test, report = load_embedding_data(config)
    model_dir = resolve_embedding_model(config.model.name)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    profile = profile_pairs(train, test, tokenizer)
    plan = make_embedding_plan(profile, config, detect_hardware(), read_model_info(model_dir))
    return PreparedEmbedding(config, train, test, model_dir, plan, report)


def show_embedding_plan(config: RunConfig) -> PreparedEmbedding:
    from tunesmith.plan.show import print_plan

    prepared = prepare_embedding(config)
    print_plan(prepared.plan, console)
    return prepared


def train_embedding_run(config: RunConfig) -> RunFolder:
    """Plan, score the base model, train, score the tuned model, and leave a finished run folder."""
    prepared = show_embedding_plan(config)
    run = RunFolder.create(config.output.runs_dir, config.name)
    console.print(f"run folder: [bold]{run.path}[/bold]")
    _write_inputs(run, prepared)
    try:
        result = _train_and_score(run, prepared)
    except BaseException as err:
        run.finish(status="failed", error=f"{type(err).__name__}: {err}")
        raise
    run.finish(status="done")
    set_current(run.path.parent, run.path)
    record = run.read_json("run.json")
    console.print(
        f"done in {record['wall_seconds'] / 60:.1f} min (training {result['train_seconds'] / 60:.1f} min). "
        f"Run folder: [bold]{run.path}[/bold]"
    )
    return run


def _train_and_score(run: RunFolder, prepared: PreparedEmbedding) -> dict:
    from transformers import set_seed

    from tunesmith.metrics.embedding_eval import evaluate_embeddings
    from tunesmith.metrics.embedding_report import print_embedding_metrics, write_embedding_results
    from tunesmith.tasks.embedding import build_embedding, merge_lora, save_adapter

    config, plan, settings = prepared.config, prepared.plan, prepared.config.embedding
    set_seed(config.training.seed)
    use_cpu = plan.hardware["device"] == "cpu"
    bundle = build_embedding(prepared.model_dir, plan, config.lora.dropout, device="cpu" if use_cpu else "cuda")
    score = lambda model: evaluate_embeddings(  # noqa: E731
        model,
        prepared.test,
        plan["matryoshka_dims"],
        settings.retrieval_k,
        settings.eval_batch_size,
        config.data.split_seed,
        settings.pairs_per_text,
    )
    scores = {}
    if prepared.test and config.evaluation.compare_base:
        console.print("scoring the base model")
        scores["base"] = score(bundle.model)
    stages = _train_stages(bundle, run, prepared)
    if bundle.method == "lora":
        save_folder(run.adapter_dir, lambda folder: save_adapter(bundle.model, folder))
        merge_lora(bundle.model)
    save_folder(run.path / "model", lambda folder: bundle.model.save(str(folder)))
    train_seconds = sum(stage["train_seconds"] for stage in stages)
    run.update(training={"stages": stages, "train_seconds": train_seconds})
    if prepared.test:
        console.print("scoring the fine-tuned model")
        scores["tuned"] = score(bundle.model)
        extra = {}
        if settings.export_int8 and use_cpu:
            extra["int8_export"] = _export_int8(bundle.model, run, prepared.test, scores, score)
        write_embedding_results(run.path, scores, prepared.test.shape, extra)
        print_embedding_metrics(scores, prepared.test.shape, console)
        if extra:
            int8 = extra["int8_export"]
            console.print(
                f"INT8 (model-int8/): {int8['speedup']:.2f}x the fp32 encoding speed "
                f"({int8['int8_texts_per_s']:.0f} vs {int8['fp32_texts_per_s']:.0f} texts/s), "
                f"{int8['metric']} {int8['change']:+.4f} at full size"
            )
    return {"train_seconds": train_seconds}


def _train_stages(bundle, run: RunFolder, prepared: PreparedEmbedding) -> list[dict]:
    """[SimCSE,] then the supervised stage, or its curriculum phases; returns what each stage did."""
    config, plan, settings, train = prepared.config, prepared.plan, prepared.config.embedding, prepared.train
    stages = []
    if settings.simcse == "first" and train.shape != "texts":
        stages.append(_run_stage(bundle, run, plan, config, _simcse_set(train), "simcse"))
    if settings.curriculum and train.shape in ("scored_pairs", "labelled_pairs"):
        from tunesmith.data.curriculum import curriculum_phases

        phases = curriculum_phases(train.records, CURRICULUM_PHASES)
        for number, phase in enumerate(phases, start=1):
            data, epochs = PairSet(train.shape, phase), plan["epochs"] / len(phases)
            stages.append(_run_stage(bundle, run, plan, config, data, f"curriculum-{number}", epochs))
    else:
        stages.append(_run_stage(bundle, run, plan, config, train, "train"))
    return stages


def _export_int8(model, run: RunFolder, test: PairSet, scores: dict, score) -> dict:
    """Write model-int8/, score it like the others (as ``scores["int8"]``), and time encoding against fp32."""
    from tunesmith.export.embedding_int8 import quantize_int8, save_int8, texts_per_second
    from tunesmith.metrics.embedding_report import primary_metric

    console.print("INT8 copy: quantising, scoring and timing")
    quantized = quantize_int8(model)
    save_int8(quantized, run.path / "model", run.path / "model-int8")
    scores["int8"] = score(quantized)
    texts = test.texts()[:512]
    fp32_speed, int8_speed = texts_per_second(model.to("cpu"), texts), texts_per_second(quantized, texts)
    metric, full = primary_metric(test.shape), next(iter(scores["tuned"]))
    return {
        "fp32_texts_per_s": round(fp32_speed, 1),
        "int8_texts_per_s": round(int8_speed, 1),
        "speedup": round(int8_speed / fp32_speed, 3),
        "metric": metric,
        "change": round(scores["int8"][full][metric] - scores["tuned"][full][metric], 4),
        "timed_texts": len(texts),
    }


def _simcse_set(train: PairSet) -> PairSet:
    return PairSet("texts", [LabelledText(text) for text in train.texts()])


def _run_stage(
    bundle, run: RunFolder, plan: Plan, config: RunConfig, train: PairSet, name: str, epochs: float | None = None
) -> dict:
    from tunesmith.schedules import schedule_settings
    from tunesmith.tasks.embedding import RANKING_LOSSES, make_losses, to_dataset, training_sets
    from tunesmith.training.embedding import train_embedding

    settings = config.embedding
    sets = training_sets(
        train,
        plan["loss"],
        bool(plan["positives_mnrl"]),
        settings.positive_threshold,
        settings.pairs_per_text,
        config.training.seed,
        negative_band=tuple(settings.negative_band) if settings.hard_negatives and name != "simcse" else None,
    )
    losses = make_losses(bundle.model, list(sets), plan["matryoshka_dims"], settings.mini_batch_size)
    simcse = name == "simcse"
    epochs = epochs or (settings.simcse_epochs if simcse else plan["epochs"])
    console.print(f"{name}: " + ", ".join(f"{len(rows)} rows with {loss}" for loss, rows in sets.items()))
    result = train_embedding(
        bundle.model,
        {loss: to_dataset(rows) for loss, rows in sets.items()},
        losses,
        epochs=epochs,
        batch_size=plan["batch_size"],
        learning_rate=plan["learning_rate"],
        schedule=schedule_settings(config.schedule, plan["warmup_steps"]),
        output_dir=run.checkpoints_dir,
        log_file=run.logs_dir / f"{name}_log.jsonl",
        seed=config.training.seed,
        max_steps=None if simcse else config.training.max_steps,
        weight_decay=config.training.weight_decay,
        max_grad_norm=config.training.max_grad_norm,
        logging_steps=config.output.logging_steps,
        use_cpu=plan.hardware["device"] == "cpu",
        bf16=bool(plan["bf16"]),
        group_by_length=not any(loss in RANKING_LOSSES for loss in sets),
    )
    return {"stage": name, "rows": {loss: len(rows) for loss, rows in sets.items()}, **asdict(result)}


def _write_inputs(run: RunFolder, prepared: PreparedEmbedding) -> None:
    config = prepared.config
    run.write_text("config.yaml", dump_config(config))
    run.write_json("plan.json", prepared.plan.to_dict())
    for name, data in (("train", prepared.train), ("test", prepared.test)):
        records = data.records if data else []
        shape = data.shape if data else ""
        lines = "".join(
            json.dumps({"shape": shape, **asdict(record)}, ensure_ascii=False) + "\n" for record in records
        )
        write_text(run.data_dir / f"{name}.jsonl", lines)
    run.start(parent={"kind": "base_model", "name": config.model.name, "path": str(prepared.model_dir)})
    run.update(data=prepared.data_report)


def evaluate_embedding_run(run: RunFolder, config: RunConfig, max_examples: int | None = None) -> Path:
    """Re-score a finished embedding run's model/ on its saved test split, into ``evals/eval-<timestamp>/``."""
    from tunesmith.errors import RunError
    from tunesmith.metrics.embedding_eval import evaluate_embeddings
    from tunesmith.metrics.embedding_report import print_embedding_metrics, write_embedding_results
    from tunesmith.tasks.embedding import load_sentence_model

    if not (run.path / "model").is_dir():
        raise RunError(f"{run.path}: the run has no model/ folder (did training finish?)")
    test = saved_pairs(run.data_dir / "test.jsonl")
    if test is None:
        raise RunError(f"{run.path}: the run has no test split to score")
    test = PairSet(test.shape, test.records[:max_examples] if max_examples else test.records)
    plan = Plan.from_dict(run.read_json("plan.json"))
    settings = config.embedding
    model = load_sentence_model(run.path / "model")
    scores = {
        "tuned": evaluate_embeddings(
            model,
            test,
            plan["matryoshka_dims"],
            settings.retrieval_k,
            settings.eval_batch_size,
            config.data.split_seed,
            settings.pairs_per_text,
        )
    }
    target = RunFolder.create(run.path / "evals", "eval").path
    write_embedding_results(target, scores, test.shape)
    print_embedding_metrics(scores, test.shape, console)
    return target


def saved_pairs(path: Path) -> PairSet | None:
    """Read back a split written to a run folder's data/ (None when it is empty)."""
    from tunesmith.data.pairs import LabelledText, Pair, Triplet

    lines = (
        [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()] if path.is_file() else []
    )
    if not lines:
        return None
    shape = lines[0].pop("shape")
    kind = {"triplets": Triplet, "classes": LabelledText, "texts": LabelledText}.get(shape, Pair)
    return PairSet(shape, [kind(**{k: v for k, v in line.items() if k != "shape"}) for line in [lines[0], *lines[1:]]])

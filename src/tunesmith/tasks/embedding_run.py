"""The ``embedding`` task: a sentence-transformers model (full fine-tuning, or a LoRA adapter merged at the end)
trained with contrastive losses on pairs, triplets, labelled texts or raw texts, scored at every Matryoshka
dimension.

Training runs in stages: an optional SimCSE stage, then the supervised data (in curriculum phases when asked).
Each stage checkpoints into ``checkpoints/<stage>/``; a stage that another follows leaves its final weights in
``checkpoints/<stage>/final/`` so that a resumed run starts the next stage from them. With a validation split the
model is scored after every epoch on the test shape's primary metric (Spearman, ROC-AUC or NDCG@10): early
stopping, the kept checkpoint and the plateau layer all read it.

An ensemble (``embedding.ensemble_members`` >= 2) trains the other members through the same stages
(``member-<n>-<stage>``, each from the base with its own seed), keeps every member under ``members/``, then
distils their mean embedding into the run's model (stage ``distill``); each member and the ensemble are scored
beside it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tunesmith.data.pairs import LabelledText, PairSet, load_pairs, record_texts, sample_pairs, split_pairs
from tunesmith.plan import Choice, Hardware, Plan
from tunesmith.tasks.contract import Scores, TaskData, sample_replay

CURRICULUM_PHASES = 2  # the easier half first, then every pair
FINAL = "final"
STAGE_FILE = "stage.json"
MEMBERS = "members"  # an ensemble run's members/member-<n>/ folders
DISTILL = "distill"  # the stage that distils an ensemble into the run's model


@dataclass(frozen=True)
class Stage:
    name: str
    data: PairSet
    epochs: float
    simcse: bool = False


class EmbeddingTask:
    name = "embedding"

    # -- data -------------------------------------------------------------------------------------------------
    def load_data(self, config) -> TaskData:
        """Train, validation and test PairSets from ``data`` and ``embedding``, and what was done to them."""
        from tunesmith.data.validate import validate_pairs

        data, settings = config.data, config.embedding
        read = lambda path: load_pairs(  # noqa: E731
            path, settings.data_format, settings.columns, settings.score_max, encoding=data.encoding
        )
        train = read(data.train)
        test = read(data.test) if data.test else None
        valid = read(data.valid) if data.valid else None
        report: dict = {"train_records": len(train), "test_records": len(test) if test else 0}
        if test is None and data.test_fraction > 0:
            train, test = split_pairs(train, data.test_fraction, data.split_seed)
            report["test_carved_from_train"] = data.test_fraction
        if valid is None and data.valid_fraction > 0 and train.shape != "texts":
            train, valid = split_pairs(train, data.valid_fraction, data.split_seed + 1)
            report["valid_carved_from_train"] = data.valid_fraction
        train = sample_pairs(train, settings.max_train_examples, data.split_seed)
        test = sample_pairs(test, settings.max_eval_examples, data.split_seed) if test else None
        valid = sample_pairs(valid, settings.max_eval_examples, data.split_seed) if valid else None
        if settings.validate_pairs:
            train, validation = validate_pairs(train)
            report["validation"] = validation.to_dict()
        report.update(train_used=len(train), valid_used=len(valid) if valid else 0, test_used=len(test) if test else 0)
        if settings.simcse == "only":
            train = PairSet("texts", [LabelledText(text) for text in train.texts()])
            report["simcse_texts"] = len(train)
        return TaskData(train, valid or None, test or None, report)

    def write_split(self, path: Path, records: PairSet | None) -> None:
        from tunesmith.atomic import write_text

        rows = records.records if records else []
        shape = records.shape if records else ""
        write_text(
            path, "".join(json.dumps({"shape": shape, **asdict(row)}, ensure_ascii=False) + "\n" for row in rows)
        )

    def read_split(self, path: Path) -> PairSet | None:
        from tunesmith.data.pairs import Pair, Triplet

        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
        if not lines:
            return None
        shape = lines[0]["shape"]
        kind = {"triplets": Triplet, "classes": LabelledText, "texts": LabelledText}.get(shape, Pair)
        return PairSet(shape, [kind(**{k: v for k, v in line.items() if k != "shape"}) for line in lines])

    def add_replay(self, config, data: TaskData, pool: list[PairSet | None]) -> tuple[TaskData, Choice | None]:
        """Earlier stages' training records of the same shape, ``continual.replay_ratio`` of them per new one."""
        unique: dict[tuple, object] = {}
        other_shapes = set()
        for split in pool:
            if split is None:
                continue
            if split.shape != data.train.shape:
                other_shapes.add(split.shape)
                continue
            for record in split.records:
                unique.setdefault(record_texts(record) + (str(record),), record)
        replay, ratio, source = sample_replay(config, list(unique.values()), len(data.train))
        reason = f"{ratio:g} earlier record per new one ({len(unique)} of shape {data.train.shape} in the lineage)"
        if other_shapes:
            reason += f"; earlier {', '.join(sorted(other_shapes))} records cannot train with {data.train.shape}"
        train = PairSet(data.train.shape, data.train.records + replay)
        return TaskData(train, data.valid, data.test, data.report), Choice(len(replay), reason, source)

    # -- model and plan ---------------------------------------------------------------------------------------
    def model_dir(self, config, parent) -> Path:
        """The base model's folder, or the parent run's trained model (its adapter already merged)."""
        from tunesmith.models.embedding import resolve_embedding_model

        if parent is None:
            return resolve_embedding_model(config.model.name)
        return parent.path / "model"

    def plan(self, config, data: TaskData, model_dir: Path, hardware: Hardware) -> Plan:
        """The embedding plan (:mod:`tunesmith.plan.embedding`); embedding runs train in one process."""
        from transformers import AutoTokenizer

        from tunesmith.errors import ConfigError

        if hardware.world_size > 1:
            raise ConfigError("embedding runs train in one process; start them without a launcher or --processes")

        from tunesmith.plan import read_model_info
        from tunesmith.plan.embedding import make_embedding_plan, profile_pairs

        tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=config.model.trust_remote_code)
        profile = profile_pairs(data.train, data.test, tokenizer, valid=data.valid)
        return make_embedding_plan(profile, config, hardware, read_model_info(model_dir))

    def build(self, config, plan: Plan, model_dir: Path):
        from tunesmith.tasks.embedding import build_embedding

        device = plan.hardware["device"]
        bundle = build_embedding(model_dir, plan, config.lora.dropout, device, config.model.trust_remote_code)
        bundle.model_dir = model_dir
        return bundle

    def load_trained(self, run_path: Path, config, model_dir: Path):
        from tunesmith.tasks.embedding import EmbeddingBundle, load_sentence_model

        model = load_sentence_model(Path(run_path) / "model", trust_remote_code=config.model.trust_remote_code)
        members = sorted((Path(run_path) / MEMBERS).glob("member-*"), key=lambda path: int(path.name.split("-")[1]))
        return EmbeddingBundle(model, "full", model_dir, members)

    # -- training ---------------------------------------------------------------------------------------------
    def train(self, bundle, data: TaskData, plan: Plan, config, run, resume_from: Path | None):
        """Every stage in order (finished ones skipped on resume), then, for an ensemble, the other members and the
        distillation; model/ (and adapter/ for LoRA) saved."""
        from tunesmith.atomic import save_folder
        from tunesmith.tasks.embedding import merge_lora, save_adapter
        from tunesmith.training import TrainResult
        from tunesmith.training.callbacks import log_saved_model

        stages = training_stages(data.train, plan, config)
        members = plan_members(plan)
        seed, ensemble = config.training.seed, members > 1
        results, callbacks = self._train_stages(
            bundle, stages, data.valid, plan, config, run, resume_from, seed, ensemble
        )
        if ensemble:
            results += self._train_members(bundle, stages, data, plan, config, run, resume_from, members)
            record, callbacks = self._distill(bundle, data, plan, config, run, resume_from, members)
            results.append(record)
            bundle.members = member_folders(run.path, members)
        if bundle.method == "lora":
            save_folder(run.adapter_dir, lambda folder: save_adapter(bundle.model, folder))
            trust = config.model.trust_remote_code
            bundle.model = merge_lora(bundle.model, bundle.model_dir, run.adapter_dir, trust)
        save_folder(run.path / "model", lambda folder: bundle.model.save(str(folder)))
        log_saved_model(callbacks, run.path / "model", "model")  # to the last stage's MLflow run, when tracked
        last = results[-1]
        return TrainResult(
            steps=sum(result["steps"] for result in results),
            train_seconds=round(sum(result["train_seconds"] for result in results), 1),
            final_loss=last.get("final_loss"),
            validation=last.get("validation", []),
            peak_memory_gb=max(result["peak_memory_gb"] for result in results),
            validation_metric=last.get("validation_metric"),
            best_checkpoint=last.get("best_checkpoint"),
            best_validation=last.get("best_validation"),
            stopped_early=last.get("stopped_early", False),
            stages=results,
        )

    def _train_stages(self, bundle, stages, valid, plan, config, run, resume_from, seed: int, keep_last: bool):
        """Train ``stages`` in order into checkpoints/<stage>/; a finished stage that another follows (or, with
        ``keep_last``, any) leaves checkpoints/<stage>/final/, which a resumed run skips and starts after."""
        results, finished, callbacks = [], None, []
        for number, stage in enumerate(stages):
            folder = run.checkpoints_dir / stage.name
            done = folder / FINAL / STAGE_FILE
            if done.is_file():
                results.append(json.loads(done.read_text()))
                finished = folder / FINAL
                continue
            if finished is not None:  # resuming after a finished stage: start from its weights
                _load_weights(bundle.model, finished)
                finished = None
            resume = resume_from if resume_from is not None and resume_from.parent == folder else None
            rows, result, callbacks = self._train_stage(bundle, stage, valid, plan, config, run, resume, seed)
            results.append({"stage": stage.name, "rows": rows, **_without_none(asdict(result))})
            if number < len(stages) - 1 or keep_last:
                _save_final(bundle.model, folder / FINAL, results[-1])
        if finished is not None:  # every stage had finished: the model is the last one's
            _load_weights(bundle.model, finished)
        return results, callbacks

    def _train_members(self, bundle, stages, data, plan, config, run, resume_from, members: int) -> list[dict]:
        """Members 2..N, each built afresh from the base and trained through the same stages with its own seed
        (stages ``member-<n>-<stage>``); every member's final weights (the run's model as member 1) are saved
        under members/ for the ensemble's teacher and its scores."""
        import dataclasses

        folders = member_folders(run.path, members)
        if not (folders[0] / STAGE_FILE).is_file():
            _save_final(plain_model(bundle), folders[0], {"member": 1})
        results = []
        for number, folder in enumerate(folders[1:], start=2):
            if (folder / STAGE_FILE).is_file():
                results += json.loads((folder / STAGE_FILE).read_text())["stages"]
                continue
            member = self.build(config, plan, bundle.model_dir)
            renamed = [dataclasses.replace(stage, name=f"member-{number}-{stage.name}") for stage in stages]
            seed = config.training.seed + number - 1
            trained, _ = self._train_stages(member, renamed, data.valid, plan, config, run, resume_from, seed, False)
            _save_final(plain_model(member), folder, {"member": number, "stages": trained})
            results += trained
        return results

    def _distill(self, bundle, data, plan, config, run, resume_from, members: int):
        """The run's model (member 1) trained towards the members' mean unit embedding of every training text."""
        from rich.console import Console

        from tunesmith.tasks.embedding import EnsembleEncoder, distill_dataset

        folder = run.checkpoints_dir / DISTILL
        done = folder / FINAL / STAGE_FILE
        if done.is_file():
            _load_weights(bundle.model, folder / FINAL)
            return json.loads(done.read_text()), []
        texts = data.train.texts()
        Console().print(f"distilling {members} members into the run's model: the teacher encodes {len(texts)} texts")
        teacher = EnsembleEncoder(
            member_folders(run.path, members),
            plan["max_seq_length"],
            plan.hardware["device"],
            config.model.trust_remote_code,
        )
        targets = distill_dataset(texts, teacher.encode(texts, config.embedding.eval_batch_size))
        stage = Stage(DISTILL, data.train, plan["distill_epochs"])
        resume = resume_from if resume_from is not None and resume_from.parent == folder else None
        rows, result, callbacks = self._train_stage(
            bundle, stage, data.valid, plan, config, run, resume, config.training.seed, distill=targets
        )
        record = {"stage": DISTILL, "rows": rows, **_without_none(asdict(result))}
        _save_final(bundle.model, folder / FINAL, record)
        return record, callbacks

    def _train_stage(self, bundle, stage: Stage, valid, plan: Plan, config, run, resume_from, seed: int, distill=None):
        """One stage: its training sets from the stage's data (or ``distill``: text and teacher embedding rows)."""
        from rich.console import Console

        from tunesmith.schedules import plateau_reducer, schedule_settings
        from tunesmith.tasks.embedding import (
            RANKING_LOSSES,
            dense_miner,
            make_losses,
            tfidf_miner,
            to_dataset,
            training_sets,
        )
        from tunesmith.training.callbacks import standard_callbacks
        from tunesmith.training.embedding import train_embedding

        settings, training, output = config.embedding, config.training, config.output
        if distill is not None:
            datasets = {"distill": distill}
        else:
            miner, negatives = None, planned_negatives(plan, config)
            if negatives == "tfidf" and not stage.simcse:
                miner = tfidf_miner(tuple(settings.negative_band))
            elif negatives == "dense" and not stage.simcse:  # the model as this stage starts mines
                miner = dense_miner(bundle.model, settings.negative_margin, settings.eval_batch_size)
            sets = training_sets(
                stage.data,
                plan["loss"],
                bool(plan["positives_mnrl"]),
                settings.positive_threshold,
                settings.pairs_per_text,
                seed,
                miner=miner,
            )
            datasets = {loss: to_dataset(rows) for loss, rows in sets.items()}
        losses = make_losses(bundle.model, list(datasets), plan["matryoshka_dims"], settings.mini_batch_size)
        rows = {loss: len(dataset) for loss, dataset in datasets.items()}
        Console().print(f"{stage.name}: " + ", ".join(f"{count} rows with {loss}" for loss, count in rows.items()))
        evaluator = None if stage.simcse or valid is None else validation_evaluator(valid, plan, config)
        schedule = schedule_settings(config.schedule, plan["warmup_steps"])
        use_cpu = plan.hardware["device"] == "cpu"
        callbacks = standard_callbacks(
            output,
            run.logs_dir,
            schedule,
            use_cpu=use_cpu,
            validation_metric=f"eval_{evaluator.primary_metric}" if evaluator else None,
            greater_is_better=True,
            plateau=config.schedule.plateau is not None,
            patience=training.early_stopping_patience,
            stage=stage.name,
        )
        result = train_embedding(
            bundle.model,
            datasets,
            losses,
            epochs=stage.epochs,
            batch_size=plan["batch_size"],
            learning_rate=plan["learning_rate"],
            schedule=schedule,
            output_dir=run.checkpoints_dir / stage.name,
            seed=seed,
            max_steps=None if stage.simcse or distill is not None else training.max_steps,
            weight_decay=training.weight_decay,
            max_grad_norm=training.max_grad_norm,
            logging_steps=output.logging_steps,
            use_cpu=use_cpu,
            bf16=bool(plan["bf16"]),
            group_by_length=not any(loss in RANKING_LOSSES for loss in datasets),
            evaluator=evaluator,
            callbacks=callbacks,
            plateau=plateau_reducer(config.schedule) if evaluator else None,
            save_checkpoints=output.save_checkpoints,
            keep_checkpoints=output.keep_checkpoints,
            keep_best=training.keep_best,
            resume_from=resume_from,
        )
        return rows, result, callbacks

    # -- evaluation -------------------------------------------------------------------------------------------
    def evaluate(self, bundle, records: PairSet, plan: Plan, config, compare_base: bool) -> Scores:
        """Each model at every dimension; the base model is loaded afresh from the folder training started from."""
        from tunesmith.metrics.embedding_report import embedding_summary, primary_metric

        limit = config.evaluation.max_examples
        if limit:
            records = PairSet(records.shape, records.records[:limit])
        models = {}
        if compare_base and getattr(bundle, "model_dir", None) is not None:
            from tunesmith.tasks.embedding import load_sentence_model

            device = plan.hardware["device"]
            base = load_sentence_model(
                bundle.model_dir, plan["max_seq_length"], device, config.model.trust_remote_code
            )
            models["base"] = score_embeddings(base, records, plan, config)
        if bundle.members:  # an ensemble run: each member, then all of them as one, then the distilled model
            from tunesmith.tasks.embedding import EnsembleEncoder, load_sentence_model

            device, trust = plan.hardware["device"], config.model.trust_remote_code
            for number, folder in enumerate(bundle.members, start=1):
                member = load_sentence_model(folder, plan["max_seq_length"], device, trust)
                models[f"member-{number}"] = score_embeddings(member, records, plan, config)
            ensemble = EnsembleEncoder(bundle.members, plan["max_seq_length"], device, trust)
            models["ensemble"] = score_embeddings(ensemble, records, plan, config)
        models["tuned"] = score_embeddings(bundle.model, records, plan, config)
        summaries = {label: embedding_summary(by_dim) for label, by_dim in models.items()}
        return Scores(primary_metric(records.shape), True, summaries, extra={"data_shape": records.shape})

    def write_scores(self, folder: Path, scores: Scores, extra: dict | None = None) -> None:
        from tunesmith.metrics.embedding_report import write_embedding_results

        by_dim = {label: summary["by_dimension"] for label, summary in scores.models.items()}
        extras = {key: value for key, value in {**scores.extra, **(extra or {})}.items() if key != "data_shape"}
        write_embedding_results(folder, by_dim, scores.extra["data_shape"], extras)

    def print_scores(self, scores: Scores, console) -> None:
        from tunesmith.metrics.embedding_report import print_embedding_metrics

        by_dim = {label: summary["by_dimension"] for label, summary in scores.models.items()}
        print_embedding_metrics(by_dim, scores.extra["data_shape"], console)

    def write_resources(self, run_path: Path, data: TaskData) -> None:
        pass  # everything an embedding run needs is in its splits and model folder

    def after_training(self, bundle, data: TaskData, plan: Plan, config) -> tuple[Plan, dict]:
        return plan, {}  # an encoder's embeddings have no decoding to choose

    def after_scoring(self, bundle, data: TaskData, plan: Plan, config, run, scores: Scores) -> dict:
        """The INT8 copy (model-int8/: ONNX, dynamically quantised) on a CPU: encoded through that ONNX file in
        onnxruntime, scored like the others, and timed against the fp32 torch model (:mod:`tunesmith.models.int8`)."""
        if not (config.embedding.export_int8 and plan.hardware["device"] == "cpu"):
            return {}
        from rich.console import Console

        from tunesmith.metrics.embedding_report import embedding_summary
        from tunesmith.models.int8 import INT8_FILE, export_int8, load_int8, texts_per_second

        Console().print("INT8 copy: exporting to ONNX, quantising, scoring and timing")
        export_int8(bundle.model, run.path / "model-int8")
        int8 = load_int8(run.path / "model-int8")
        scores.models["int8"] = embedding_summary(score_embeddings(int8, data.test, plan, config))
        texts = data.test.texts()[:512]
        fp32_speed, int8_speed = texts_per_second(bundle.model.to("cpu"), texts), texts_per_second(int8, texts)
        metric = scores.primary_metric
        change = scores.models["int8"]["overall"].get(metric, 0) - scores.models["tuned"]["overall"].get(metric, 0)
        return {
            "int8_export": {
                "file": INT8_FILE,
                "fp32_texts_per_s": round(fp32_speed, 1),
                "int8_texts_per_s": round(int8_speed, 1),
                "speedup": round(int8_speed / fp32_speed, 3),
                "metric": metric,
                "change": round(change, 4),
                "timed_texts": len(texts),
            }
        }


def planned_negatives(plan: Plan, config) -> str:
    """The plan's hard negatives; a plan saved before the plan chose them (a resumed older run): the config's."""
    return plan.get("hard_negatives", config.embedding.hard_negatives)


def training_stages(train: PairSet, plan: Plan, config) -> list[Stage]:
    """[SimCSE,] then the supervised data, or its curriculum phases (easier half first, then every pair), or two
    rounds of dense negative mining."""
    settings = config.embedding
    stages = []
    if settings.simcse == "first" and train.shape != "texts":
        stages.append(Stage("simcse", _simcse_set(train), settings.simcse_epochs, simcse=True))
    if settings.curriculum and train.shape in ("scored_pairs", "labelled_pairs"):
        from tunesmith.data.curriculum import curriculum_phases

        phases = curriculum_phases(train.records, CURRICULUM_PHASES)
        for number, phase in enumerate(phases, start=1):
            stages.append(Stage(f"curriculum-{number}", PairSet(train.shape, phase), plan["epochs"] / len(phases)))
    elif planned_negatives(plan, config) == "dense" and settings.negative_rounds == 2 and train.shape != "texts":
        # The second half trains on negatives mined again by the half-trained model (harder for it).
        stages += [Stage(f"round-{number}", train, plan["epochs"] / 2) for number in (1, 2)]
    else:
        stages.append(Stage("train", train, plan["epochs"], simcse=train.shape == "texts"))
    return stages


def score_embeddings(model, records: PairSet, plan: Plan, config) -> dict:
    """``{dimension: {metric: value}}`` of ``model`` on ``records`` (see :mod:`tunesmith.metrics.embedding_eval`)."""
    from tunesmith.metrics.embedding_eval import evaluate_embeddings

    settings = config.embedding
    return evaluate_embeddings(
        model,
        records,
        plan["matryoshka_dims"],
        settings.retrieval_k,
        settings.eval_batch_size,
        config.data.split_seed,
        settings.pairs_per_text,
    )


def validation_evaluator(valid: PairSet, plan: Plan, config):
    """A sentence-transformers evaluator scoring the validation split at full size on its primary metric."""
    from sentence_transformers.sentence_transformer.evaluation import SentenceEvaluator

    from tunesmith.metrics.embedding_eval import evaluate_embeddings
    from tunesmith.metrics.embedding_report import primary_metric

    settings = config.embedding

    class ValidationEvaluator(SentenceEvaluator):
        def __init__(self) -> None:
            super().__init__()
            self.primary_metric, self.greater_is_better = primary_metric(valid.shape), True

        def __call__(self, model, output_path=None, epoch: int = -1, steps: int = -1) -> dict:
            by_dim = evaluate_embeddings(
                model, valid, None, settings.retrieval_k, settings.eval_batch_size, config.data.split_seed
            )
            full = next(iter(by_dim.values()))
            return {name: value for name, value in full.items() if isinstance(value, float)}

    return ValidationEvaluator()


def plan_members(plan: Plan) -> int:
    """The plan's ensemble size; a plan saved before the plan chose one (a resumed older run): one model."""
    return plan.get("ensemble_members", 1)


def member_folders(run_path: Path, members: int) -> list[Path]:
    """members/member-<n>/ of an ensemble run, the run's own model (before distillation) first."""
    return [Path(run_path) / MEMBERS / f"member-{number}" for number in range(1, members + 1)]


def plain_model(bundle):
    """The bundle's model as a plain sentence-transformers model: a LoRA adapter merged into a copy."""
    if bundle.method != "lora":
        return bundle.model
    import copy

    merged = copy.deepcopy(bundle.model)
    merged[0].auto_model = merged[0].auto_model.merge_and_unload()
    return merged


def _save_final(model, folder: Path, record: dict) -> None:
    """``model`` and its stage record (stage.json) into ``folder``, atomically."""
    from tunesmith.atomic import save_folder

    save_folder(folder, lambda target: _save_stage(model, target, record))


def _without_none(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if value is not None}


def _simcse_set(train: PairSet) -> PairSet:
    return PairSet("texts", [LabelledText(text) for text in train.texts()])


def _save_stage(model, folder: Path, result: dict) -> None:
    model.save(str(folder))
    (folder / STAGE_FILE).write_text(json.dumps(result))


def _load_weights(model, folder: Path) -> None:
    """Put a saved stage's weights into ``model`` (as sentence-transformers' trainer loads a checkpoint)."""
    loaded = type(model)(str(folder), device=str(model.device), local_files_only=True)
    model.load_state_dict(loaded.state_dict())


EMBEDDING = EmbeddingTask()

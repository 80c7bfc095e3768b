"""The generative tasks: ``causal_lm`` (Q&A, chat) and ``summarization`` (a decoder-only instruct model with a
summarisation prompt, or an encoder-decoder such as T5/BART/Pegasus), both a LoRA adapter (or every weight,
``training.method: full``) scored by generation.

Data are :class:`tunesmith.data.Example` lists; training is :func:`tunesmith.training.train` (the loss on the
answer's tokens only); the evaluator generates an answer per test question and scores it against the reference
(token F1 for Q&A, ROUGE-L for summaries), base model (adapter off, or its weights read back) and tuned side by
side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from tunesmith.data import Example, Splits, load_examples, load_splits, write_examples
from tunesmith.errors import ConfigError
from tunesmith.plan import (
    Choice,
    Hardware,
    Plan,
    generation_batch,
    generation_settings,
    make_plan,
    profile_splits,
    read_model_info,
)
from tunesmith.tasks.contract import Scores, TaskData, sample_replay


@dataclass(frozen=True)
class GenerativeTask:
    """A LoRA adapter on a text-generation model; ``primary_metric`` is what its answers are judged by."""

    name: str
    primary_metric: str
    summaries: bool = False  # plans for a style (fewer epochs, a lower rate, beam search), not for facts

    # -- data -------------------------------------------------------------------------------------------------
    def load_data(self, config) -> TaskData:
        """The splits; with ``rewrites.k``, the training split gains K new phrasings of every fact
        (:mod:`tunesmith.rewrite`); with ``retrieval.enabled``, each prompt holds its retrieved passages
        (:mod:`.rag`); with ``documents``, the training split gains its answers and files as plain text
        (:mod:`.documents`)."""
        splits = load_splits(config.data)
        train, valid, test, report, knowledge = splits.train, splits.valid, splits.test, {}, None
        if config.rewrites.k:
            train, report["rewrites"] = rewrite_training(config, train)
        if config.retrieval.enabled:
            from tunesmith.tasks import rag

            knowledge = rag.build_knowledge(config, train, valid)
            report["retrieval"] = rag.retrieval_scores(knowledge, test or [], config)
            valid, test = (rag.augment(split or [], knowledge, config, training=False) for split in (valid, test))
            train = rag.augment(train, knowledge, config, training=True)
        if config.documents.enabled:
            from tunesmith.tasks.documents import add_documents

            train, report["documents"] = add_documents(config, train)
        return TaskData(train, valid, test, report, knowledge)

    def write_split(self, path: Path, records: list[Example] | None) -> None:
        write_examples(path, records or [])

    def write_resources(self, run_path: Path, data: TaskData) -> None:
        if data.knowledge is not None:
            from tunesmith.tasks.rag import save_index

            save_index(data.knowledge, run_path)

    def read_split(self, path: Path) -> list[Example]:
        return load_examples(path, "messages") if path.is_file() and path.stat().st_size else []

    def add_replay(self, config, data: TaskData, pool: list[list[Example]]) -> tuple[TaskData, Choice | None]:
        """Earlier stages' training examples (each once), ``continual.replay_ratio`` of them per new one."""
        from tunesmith.data.split import example_key

        unique: dict[str, Example] = {}
        for split in pool:
            for example in split:
                unique.setdefault(example_key(example), example)
        replay, ratio, source = sample_replay(config, list(unique.values()), len(data.train))
        reason = (
            f"{ratio:g} earlier example per new one ({len(unique)} available from the lineage): "
            "rehearsing the earlier rounds keeps what they taught"
        )
        replayed = replace(data, train=data.train + replay)  # a retrieval run's knowledge kept
        return replayed, Choice(len(replay), reason, source)

    # -- model and plan ---------------------------------------------------------------------------------------
    def model_dir(self, config, parent) -> Path:
        """The base model, or the parent run's lineage with every adapter merged (cached under TUNESMITH_HOME; a
        parent fine-tuned in full: its own model folder)."""
        from tunesmith.models import resolve_model
        from tunesmith.models.gguf import home_dir
        from tunesmith.runs.lineage import merged_model_dir

        if parent is None:
            return resolve_model(config.model.name)
        return merged_model_dir(parent, home_dir() / "merged")

    def plan(self, config, data: TaskData, model_dir: Path, hardware: Hardware) -> Plan:
        return self.plan_with_tokenizer(config, data, model_dir, hardware)[0]

    def plan_with_tokenizer(self, config, data: TaskData, model_dir: Path, hardware: Hardware):
        """The plan, and the model's tokenizer that measured the data (``tunesmith analyze`` shows both)."""
        from tunesmith.models.load import load_tokenizer

        tokenizer = load_tokenizer(model_dir, config.model.trust_remote_code)
        splits = Splits(data.train, data.valid or [], data.test or [])
        profile = profile_splits(splits, tokenizer, config.model.system_prompt)
        plan = make_plan(profile, config, hardware, read_model_info(model_dir), self.summaries)
        if data.knowledge is not None:
            from tunesmith.tasks.rag import plan_choices

            plan.choices |= plan_choices(config, data.knowledge)
        if data.report.get("documents"):
            from tunesmith.tasks.documents import plan_choice

            plan.choices["document_rows"] = plan_choice(data.report["documents"])
        return plan, tokenizer

    def build(self, config, plan: Plan, model_dir: Path):
        from tunesmith.models.load import PISSA_INIT, build_causal, build_seq2seq, is_encoder_decoder

        options = {"use_dora": config.lora.use_dora, "use_rslora": config.lora.use_rslora}
        if config.lora.use_pissa:
            options["init_lora_weights"] = PISSA_INIT
        options["trust_remote_code"] = config.model.trust_remote_code
        if self.summaries and is_encoder_decoder(model_dir):
            return build_seq2seq(model_dir, plan, config.lora.dropout, **options)
        return build_causal(model_dir, plan, config.lora.dropout, config.model.system_prompt, **options)

    def load_trained(self, run_path: Path, config, model_dir: Path):
        """The base (either family) with the run's saved adapter attached, or the run's whole model."""
        from tunesmith.models.load import load_trained_model
        from tunesmith.runs import RunFolder

        trained, trust = RunFolder(Path(run_path)).trained_dir, config.model.trust_remote_code
        return load_trained_model(model_dir, trained, config.model.system_prompt, trust)

    # -- training ---------------------------------------------------------------------------------------------
    def train(self, bundle, data: TaskData, plan: Plan, config, run, resume_from: Path | None):
        from tunesmith.training import train

        encode = lambda examples, difficulty=False, prompts=False: encode_for(  # noqa: E731
            bundle, examples, plan["max_length"], plan["max_new_tokens"], difficulty, prompts
        )
        valid = encode(data.valid) if data.valid else None  # the validation loss stays the answers' alone
        train_data = encode(data.train, config.training.curriculum == "difficulty", plan.get("train_on_prompt", False))
        use_cpu = plan.hardware["device"] == "cpu"
        scorer = self.validation_scorer(bundle, data, plan, config)
        return train(bundle, train_data, valid, plan, config, run, use_cpu, resume_from, scorer)

    def validation_scorer(self, bundle, data: TaskData, plan: Plan, config):
        """With the plan's ``select_by: answers``, the validation questions' answers decide (:mod:`.selection`)."""
        from tunesmith import distributed
        from tunesmith.tasks.selection import METRIC, answer_scorer
        from tunesmith.training.trainer import ValidationScorer

        if not data.valid or plan.get("select_by", "loss") != "answers":
            return None
        if distributed.world_size() > 1:
            raise ConfigError("training.select_by 'answers' runs in one process; set it to 'loss' for several")
        score = answer_scorer(bundle, data.valid, plan, generation_batch(plan, config), self.summaries)
        return ValidationScorer(METRIC, score)

    # -- evaluation -------------------------------------------------------------------------------------------
    def after_training(self, bundle, data: TaskData, plan: Plan, config) -> tuple[Plan, dict]:
        """The decoding that scores best on the validation split (:mod:`tunesmith.tasks.decoding`); a retrieval run
        then chooses whether to answer by generating or by copying the first record's answer
        (:func:`tunesmith.tasks.rag.choose_answer`)."""
        from tunesmith.tasks.decoding import choose_decoding

        plan, decoding = choose_decoding(bundle, data.valid, plan, config, self.primary_metric)
        records = {"decoding_search": decoding} if decoding else {}
        if data.knowledge is not None:
            from tunesmith.tasks.rag import choose_answer

            plan, answer = choose_answer(bundle, data.valid, data.knowledge, plan, config, self.primary_metric)
            records |= {"answer_search": answer} if answer else {}
        return plan, records

    def evaluate(self, bundle, records: list[Example], plan: Plan, config, compare_base: bool) -> Scores:
        """Generate and score the first ``evaluation.max_examples`` records with the plan's decoding settings."""
        from tunesmith.metrics import evaluate_bundle

        limit = config.evaluation.max_examples
        records = records[:limit] if limit else records
        result = evaluate_bundle(
            bundle,
            records,
            max_new_tokens=plan["max_new_tokens"],
            batch_size=generation_batch(plan, config, plan.get("num_beams", 1)),
            bf16=bool(plan["bf16"]),
            compare_base=compare_base,
            max_length=plan["max_length"],
            generation=generation_settings(plan),
            cache_base=config.evaluation.cache_base_scores,
        )
        extra = {"base_cache": result["base_cache"]} if "base_cache" in result else {}
        return Scores(self.primary_metric, True, result["summary"], result["rows"], extra)

    def write_scores(self, folder: Path, scores: Scores, extra: dict | None = None) -> None:
        from tunesmith.metrics.evaluate import write_results

        result = {"summary": scores.models, "rows": scores.rows}
        extras = {**scores.extra, **(extra or {})}
        write_results(folder, result, self.name, scores.primary_metric, scores.greater_is_better, extras)

    def print_scores(self, scores: Scores, console) -> None:
        from tunesmith.metrics.show import print_metrics

        print_metrics(scores.models, console, primary=scores.primary_metric)

    def after_scoring(self, bundle, data: TaskData, plan: Plan, config, run, scores: Scores) -> dict:
        """A retrieval run: the retrieval scores of its test questions (run.json) and its answers' grounding."""
        if not config.retrieval.enabled:
            return {}
        from rich.console import Console

        from tunesmith.tasks.rag import grounding

        retrieved = (run.read_json("run.json").get("data") or {}).get("retrieval", {})
        result = {**retrieved, **grounding(scores.rows)}
        console = Console()
        console.print("retrieval: " + ", ".join(f"{name} {value}" for name, value in result.items()))
        if data.knowledge is not None and scores.rows:
            copied = self._score_copies(data.knowledge, scores)
            answered = plan.choices.get("retrieval_answer")
            console.print(
                f"the first retrieved record's answer, copied (no model): {self.primary_metric} "
                f"{copied[self.primary_metric]}, fact recall {copied['fact_recall']} (the 'retrieved' column); "
                f"this run answers by {answered.value if answered else 'generate'}"
            )
        return {"retrieval": result}

    @staticmethod
    def _score_copies(knowledge, scores: Scores) -> dict:
        """The scored test questions answered by copying the first retrieved record's answer: a baseline that
        needs no model, kept beside base and tuned (label ``retrieved``) in the rows and the summary."""
        from tunesmith.metrics.evaluate import summarize
        from tunesmith.tasks.rag import copy_scores

        prompts, references = [row["question"] for row in scores.rows], [row["reference"] for row in scores.rows]
        for row, copied in zip(scores.rows, copy_scores(knowledge, prompts, references)):
            row["retrieved"] = copied
        scores.models["retrieved"] = summarize(scores.rows, "retrieved")
        return scores.models["retrieved"]["overall"]


def encode_for(
    bundle, examples, max_length: int, max_target_length: int, with_difficulty: bool = False, prompts: bool = False
):
    """Training rows for the bundle's family: chat-formatted with answer-only labels (``prompts``: the user turns'
    too), or source/target pairs.

    ``with_difficulty`` adds the difficulty and source columns a difficulty curriculum reads (decoder-only).
    """
    from tunesmith.models.chat import encode_examples, encode_seq2seq_examples

    if bundle.model.config.is_encoder_decoder:
        if with_difficulty:
            raise ConfigError("training.curriculum 'difficulty' is not supported for encoder-decoder models yet")
        return encode_seq2seq_examples(bundle.tokenizer, examples, max_length, max_target_length)
    return encode_examples(bundle.tokenizer, examples, max_length, bundle.system_prompt, with_difficulty, prompts)


CAUSAL_LM = GenerativeTask("causal_lm", "token_f1")
SUMMARIZATION = GenerativeTask("summarization", "rouge_l", summaries=True)


def rewrite_training(config, train: list[Example]) -> tuple[list[Example], dict]:
    """The training split with ``rewrites.k`` filtered rewrites of every fact, and what was kept and dropped."""
    from rich.console import Console

    from tunesmith.models.embedding import resolve_embedding_model
    from tunesmith.rewrite import add_rewrites, describe, make_generator
    from tunesmith.tasks.embedding import load_sentence_model

    settings = config.rewrites
    model = settings.model or (config.model.name if settings.generator == "model" else None)
    generator = make_generator(
        settings.generator, model, settings.base_url, settings.api_key_env, config.training.seed
    )
    encoder = load_sentence_model(resolve_embedding_model(settings.encoder))
    rewritten, stats = add_rewrites(train, settings.k, generator, encoder, settings.min_similarity)
    Console().print(f"rewrites: {describe(stats)}")
    return rewritten, stats

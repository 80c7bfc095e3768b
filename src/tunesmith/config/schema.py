"""The run configuration: one pydantic model per section, validated before anything heavy is imported.

Fields left as ``None`` are chosen by the plan (see :mod:`tunesmith.plan`); a value set here always wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tunesmith.config.embedding import EmbeddingConfig

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TASKS = ("causal_lm", "summarization", "embedding")
DEFAULT_MODEL_BY_TASK = {
    "causal_lm": DEFAULT_MODEL,
    "summarization": DEFAULT_MODEL,
    "embedding": DEFAULT_EMBEDDING_MODEL,
}

# Settings a task's code never reads, by task, as dotted keys (a whole section by its own name). Written in a
# config for that task, each is an error naming the key and the task, not a setting silently ignored; defaults
# never are (only keys present in the file count). causal_lm and summarization share one code path.
NOT_FOR_TASK: dict[str, tuple[str, ...]] = {
    "causal_lm": (
        "embedding",  # sentence-embedding settings: only embedding runs read them
    ),
    "summarization": (
        "embedding",  # sentence-embedding settings: only embedding runs read them
        "retrieval",  # retrieval-augmented answers are for Q&A/chat runs
        "rewrites",  # new phrasings of Q&A questions
        "documents",  # knowledge trained as plain text beside Q&A
    ),
    "embedding": (
        "retrieval",  # retrieval-augmented answers are for Q&A/chat runs
        "rewrites",  # new phrasings of Q&A questions
        "documents",  # knowledge trained as plain text beside Q&A
        "model.system_prompt",  # an encoder has no chat template: texts are encoded as they are
        "data.format",  # Q&A/summary record shapes; pair shapes are embedding.data_format
        "data.instruction",  # the instruction put before a text to summarise
        "data.prompt_field",  # a Q&A record's question; pair columns are named in embedding.columns
        "data.answer_field",  # a Q&A record's answer; pair columns are named in embedding.columns
        "data.category_field",  # Q&A scores by category; a class label is embedding.columns.label
        "data.difficulty_field",  # Q&A scores by difficulty and the difficulty curriculum
        "training.grad_accum",  # the embedding trainer takes one batch per step (in-batch negatives)
        "training.max_length",  # texts are cut at embedding.max_seq_length
        "training.gradient_checkpointing",  # not passed to the sentence-transformers trainer
        "training.select_by",  # embeddings are selected by their own primary metric
        "training.curriculum",  # the causal curriculum; pairs have embedding.curriculum
        "training.curriculum_phases",  # phases of training.curriculum
        "training.packing",  # packs a causal model's token sequences into one row
        "training.compile",  # compiles a causal model's blocks for the Hugging Face trainer's steps
        "evaluation.max_new_tokens",  # generation length: an embedding run generates nothing
        "evaluation.mode",  # greedy or beam-search generation
        "evaluation.num_beams",  # beam-search generation
        "evaluation.length_penalty",  # beam-search generation
        "evaluation.no_repeat_ngram_size",  # generation
        "evaluation.choose_decoding",  # generation
        "evaluation.cache_base_scores",  # the base model's generated answers
        "evaluation.batch_size",  # sequences generated at once; encoding uses embedding.eval_batch_size
        "continual.parent_kl_weight",  # KL to the previous round on a causal model's answer tokens
        "lora.use_dora",  # the encoder's adapter is plain LoRA (tasks.embedding.attach_lora)
        "lora.use_rslora",  # the encoder's adapter is plain LoRA
        "lora.use_pissa",  # the encoder's adapter is plain LoRA
        "training.method",  # an encoder's full or LoRA training is embedding.method
        "training.freeze_embeddings",  # a causal model's full fine-tune; an encoder's is embedding.method
        "training.train_on_prompt",  # the loss on a chat prompt's user turns
        "training.neftune_alpha",  # noise on a generative model's input embeddings in the Hugging Face trainer
    ),
}
# Where a setting rejected for a task lives for that task, named in the error.
USE_INSTEAD: dict[str, dict[str, str]] = {
    "embedding": {
        "data.format": "embedding.data_format",
        "data.prompt_field": "embedding.columns",
        "data.answer_field": "embedding.columns",
        "data.category_field": "embedding.columns",
        "training.max_length": "embedding.max_seq_length",
        "training.curriculum": "embedding.curriculum",
        "evaluation.batch_size": "embedding.eval_batch_size",
        "training.method": "embedding.method",
    },
}


class NotForTaskError(ValueError):
    """Settings written for a task they do not apply to: ``problems`` holds (dotted key, message) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{key}: {message}" for key, message in problems))


def not_for_task_message(key: str, task: str) -> str:
    """Why ``key`` is rejected for ``task``: the tasks it applies to, and what to set instead where there is one."""
    applies = [other for other in TASKS if key not in NOT_FOR_TASK.get(other, ())]
    message = f"does not apply to task '{task}' (only to: {', '.join(applies)})"
    instead = USE_INSTEAD.get(task, {}).get(key)
    return message + (f"; set {instead} instead" if instead else "")


def keys_not_for_task(raw: Mapping[str, Any], task: str) -> list[str]:
    """The keys of NOT_FOR_TASK[task] that ``raw`` (a config mapping, or RunConfig's fields) actually sets."""
    return [key for key in NOT_FOR_TASK.get(task, ()) if _is_set(raw, key.split("."))]


def _is_set(raw: Any, path: list[str]) -> bool:
    head, rest = path[0], path[1:]
    if isinstance(raw, BaseModel):  # a section given as a model (or re-validated on assignment): its set fields
        if head not in raw.model_fields_set:
            return False
        value = getattr(raw, head)
    elif isinstance(raw, Mapping):
        if head not in raw:
            return False
        value = raw[head]
    else:
        return False
    if not rest:
        return not isinstance(value, BaseModel) or bool(value.model_fields_set)
    return _is_set(value, rest)


class Section(BaseModel):
    """Base for every section: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(Section):
    """Which base model to fine-tune."""

    name: str = Field(DEFAULT_MODEL, description="Hugging Face id, local model folder, or a .gguf file.")
    system_prompt: str | None = Field(
        None, description="System message put before every prompt; None keeps the chat template's default."
    )
    trust_remote_code: bool = Field(
        False,
        description="Run the Python code a model folder ships for an architecture transformers lacks (config.json's "
        "auto_map; for example some large embedding models). Off: such a model is refused. Set it only for code "
        "you trust. A run that continues such a run must set it too; serve, export and eval of the run follow it.",
    )


class DataConfig(Section):
    """Where the examples come from and how their fields are named."""

    train: Path = Field(description="JSON, JSONL or CSV file with the training records.")
    valid: Path | None = Field(None, description="Validation file; carved out of train when absent.")
    test: Path | None = Field(None, description="Test file; carved out of train when absent.")
    format: Literal["auto", "qa", "alpaca", "messages", "summary"] = Field("auto", description="Record shape.")
    instruction: str | None = Field(
        None, description="summary shape: the instruction before each text; default 'Summarize this <field>:'."
    )
    prompt_field: str | None = Field(None, description="Field holding the question/instruction (dotted path).")
    answer_field: str | None = Field(None, description="Field holding the answer/output (dotted path).")
    category_field: str = Field("category", description="Field holding the category (dotted path).")
    difficulty_field: str = Field("difficulty", description="Field holding the difficulty (dotted path).")
    valid_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="Share of train held out when valid is absent.")
    test_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="Share of train held out when test is absent.")
    split_seed: int = Field(42, description="Seed of the train/valid/test split.")
    encoding: str = Field(
        "utf-8",
        description="Text encoding of the data files (a Python codec name: utf-8, cp1252, latin-1, utf-16, ...); "
        "a UTF-8 byte-order mark is skipped.",
    )

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        from tunesmith.textfiles import check_encoding

        return check_encoding(value)  # codecs.lookup: an unknown encoding is a config error, not a failed read

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> DataConfig:
        held_out = (self.valid_fraction if self.valid is None else 0) + (
            self.test_fraction if self.test is None else 0
        )
        if held_out >= 0.9:
            raise ValueError(f"valid_fraction + test_fraction = {held_out:.2f} leaves almost nothing to train on")
        return self


class LoraConfig(Section):
    """LoRA adapter shape (PEFT)."""

    r: int | None = Field(None, ge=1, le=1024, description="Rank; chosen by the plan when unset.")
    alpha: float | None = Field(None, gt=0, description="Scaling numerator; chosen by the plan when unset.")
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout on the adapter's input; 0 by default: it costs ~40% speed on CPU."
    )
    target_modules: list[str] | Literal["all-linear"] | None = Field(
        None, description="Modules to adapt; the plan picks all-linear: it stores facts better than attention only."
    )
    use_dora: bool = Field(
        False,
        description="DoRA (Liu et al. 2024): the weight's direction adapted by LoRA and its magnitude learned apart "
        "(PEFT); slower per step. Off by default: not yet measured to pay on tunesmith's data.",
    )
    use_rslora: bool = Field(
        False,
        description="rsLoRA (Kalajdzievski 2023): scale updates by alpha/sqrt(r) instead of alpha/r, so high ranks "
        "learn as fast as low ones (PEFT). Off by default: not yet measured to pay on tunesmith's data.",
    )
    use_pissa: bool = Field(
        False,
        description="PiSSA (Meng et al. 2024): the adapter starts from each weight's r principal singular directions "
        "and the frozen base keeps the rest (PEFT's init_lora_weights='pissa_niter_4', a fast SVD). The saved "
        "adapter is converted to plain LoRA of rank 2r on the untouched base, so scoring, export and serving see an "
        "ordinary adapter. Off by default: bench/facts.py measured it ahead on the demo (token F1 0.396 vs 0.346) and "
        "behind on the re-worded MSU Q&A (0.471 vs 0.543).",
    )

    @model_validator(mode="after")
    def _pissa_without_dora(self) -> LoraConfig:
        if self.use_pissa and self.use_dora:
            raise ValueError(
                "use_pissa and use_dora cannot be combined: a PiSSA adapter is saved converted to plain LoRA, "
                "which has no place for DoRA's magnitudes"
            )
        return self


class TrainingConfig(Section):
    """Optimisation settings."""

    method: Literal["lora", "full"] | None = Field(
        None,
        description="What is trained: a LoRA adapter (the lora section), or every weight of the model (full "
        "fine-tuning, saved as a whole model folder); the plan picks when unset.",
    )
    freeze_embeddings: bool | None = Field(
        None,
        description="A full fine-tune leaves the input token embeddings as they are (and the output layer where it "
        "shares them): words the training data never uses keep their place beside their synonyms. Unset: the "
        "plan's choice.",
    )
    epochs: float | None = Field(None, gt=0, description="Passes over the training data; plan chooses when unset.")
    max_steps: int | None = Field(None, gt=0, description="Stop after this many optimiser steps (overrides epochs).")
    batch_size: int | None = Field(None, ge=1, description="Examples per forward pass.")
    grad_accum: int | None = Field(None, ge=1, description="Forward passes per optimiser step.")
    learning_rate: float | None = Field(None, gt=0, lt=1, description="Peak learning rate.")
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    neftune_alpha: float | None = Field(
        None,
        gt=0,
        description="NEFTune: uniform noise of this scale / sqrt(tokens x width) added to the input embeddings in "
        "training steps only (Jain et al. 2023; transformers' own hook); 5 is the paper's usual value. Unset: none.",
    )
    train_on_prompt: bool | None = Field(
        None,
        description="The loss on the user turns' text too, not only the answers (Axolotl's train_on_inputs, "
        "LLaMA-Factory's train_on_prompt); the validation loss stays the answers'. Decoder-only models. Unset: the "
        "plan's choice (lm.TRAIN_ON_PROMPT: off, measured ahead on one Q&A set and behind on the other).",
    )
    max_length: int | None = Field(None, ge=16, description="Tokens per example; longer ones are cut.")
    bf16: bool | None = Field(None, description="bf16 autocast; plan enables it where the CPU/GPU supports it.")
    gradient_checkpointing: bool | None = Field(
        None, description="Recompute activations in the backward pass; the plan turns it on when memory is short."
    )
    early_stopping_patience: int | None = Field(
        3,
        ge=1,
        description="Stop after this many evaluations without a better validation score; None: all epochs. Unset "
        "(causal LMs and summaries), the plan picks: 3 on the validation loss, none where the answers decide.",
    )
    keep_best: bool = Field(
        True, description="End with the adapter of the best validation score (its checkpoint is never rotated out)."
    )
    select_by: Literal["loss", "answers"] | None = Field(
        None,
        description="What decides early stopping and the kept checkpoint: the validation loss, or the validation "
        "questions' generated answers (token F1 and fact recall; ROUGE-L for summaries) after each epoch; the "
        "plan picks answers where there are enough validation questions and the time allows.",
    )
    curriculum: Literal["none", "difficulty", "length", "base_loss"] = Field(
        "none",
        description="Train easy to hard, by the records' difficulty labels (or scores), the example's length, or "
        "the base model's loss on it; none: length-grouped random batches.",
    )
    packing: bool = Field(
        False,
        description="Pack each micro-batch's examples into one row (no padding); attention stays within each "
        "example (positions restart at 0). Off by default: not every model's attention honours it.",
    )
    compile: bool | None = Field(
        None,
        description="torch.compile each repeated block (a decoder's layers) in place for the training steps: "
        "about 1.2x the tokens/s on a CPU after ~30 s of compiling; needs a C++ compiler there. Evaluation and "
        "scoring stay eager. Unset, the plan compiles where it is measured to save at least twice that time.",
    )
    curriculum_phases: int = Field(
        3, ge=1, description="Curriculum phases: phase k of N trains on the easiest k/N share of the data."
    )
    seed: int = 42
    time_budget_minutes: float | None = Field(
        None, gt=0, description="If set, the plan lowers epochs so the estimated training time fits."
    )


class PlateauConfig(Section):
    """Lower the rate when validation loss stops improving (on top of any schedule; needs validation data)."""

    patience: int = Field(1, ge=1, description="Evaluations without improvement before the rate is lowered.")
    factor: float = Field(0.5, gt=0, lt=1, description="Multiply the rate by this at each reduction.")
    min_factor: float = Field(0.1, gt=0, le=1, description="Never go below this share of the scheduled rate.")
    threshold: float = Field(1e-3, ge=0, lt=1, description="Relative improvement that counts as one.")


class ScheduleConfig(Section):
    """Learning-rate schedule: a warmup then a decay (see :mod:`tunesmith.schedules`)."""

    type: Literal["warmup_cosine", "linear", "constant", "three_phase"] = "warmup_cosine"
    warmup_ratio: float | None = Field(None, ge=0, lt=1, description="Share of steps spent warming up.")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="Floor of the decay, as a share of the peak rate.")
    phase_boundaries: tuple[float, float] = Field(
        (0.3, 0.8), description="three_phase: where exploration and exploitation end, as shares of all steps."
    )
    explore_end_ratio: float = Field(
        0.6, gt=0, le=1, description="three_phase: the rate at the end of exploration, as a share of the peak."
    )
    plateau: PlateauConfig | None = Field(
        None,
        description="Off by default: the schedule already decays and the best epoch is kept; with one evaluation "
        "per epoch, a reduction comes late. Set (e.g. {} for the defaults) for long runs whose loss stalls.",
    )

    @model_validator(mode="after")
    def _phases_in_order(self) -> ScheduleConfig:
        first, second = self.phase_boundaries
        if not 0 < first < second <= 1:
            raise ValueError(
                f"phase_boundaries must satisfy 0 < first < second <= 1, got {list(self.phase_boundaries)}"
            )
        if self.type == "three_phase" and self.min_lr_ratio > self.explore_end_ratio:
            raise ValueError("min_lr_ratio must not exceed explore_end_ratio: the rate only decays")
        return self


class EvaluationConfig(Section):
    """How the test split is scored."""

    max_new_tokens: int | None = Field(None, ge=1, description="Generation length; plan sizes it from answers.")
    batch_size: int | None = Field(
        None,
        ge=1,
        description="Sequences generated at once, each beam counting as one (beam search: at most 16); the plan "
        "picks when unset (64 on a CPU: a decoding step costs far less than 4 of 16).",
    )
    compare_base: bool = Field(True, description="Also score the base model, side by side.")
    max_examples: int | None = Field(None, ge=1, description="Score only the first N test examples.")
    mode: Literal["fast", "quality"] | None = Field(
        None, description="Generation: fast (greedy) or quality (beam search); the plan picks when unset."
    )
    num_beams: int | None = Field(None, ge=1, le=16, description="Beam width; set by the mode when unset.")
    length_penalty: float | None = Field(None, description="Beam search: >1 favours longer outputs.")
    no_repeat_ngram_size: int | None = Field(None, ge=0, description="Never repeat an n-gram of this size.")
    cache_base_scores: bool = Field(
        True,
        description="Reuse the base model's answers from an earlier run with the same base weights, test split "
        "and decoding (kept under TUNESMITH_HOME/base_scores) instead of generating them again.",
    )
    choose_decoding: bool | None = Field(
        None,
        description="After training, score greedy and beam search, with and without the repetition guard, on the "
        "validation split and keep the best (the plan's choice for summaries); settings set here stay fixed.",
    )


class RetrievalConfig(Section):
    """Answers from retrieved passages (Q&A/chat runs): a knowledge base indexed for hybrid (dense + BM25) search,
    and a generator trained, RAFT-style, with the passages retrieved for each question in its prompt."""

    enabled: bool = Field(False, description="Retrieve passages for every question, in training and scoring.")
    documents: list[Path] = Field(
        default_factory=list,
        description="Text/Markdown files or JSONL passages added to the knowledge base (the training records, "
        "one passage per distinct answer, are always in it); relative to the config's folder.",
    )
    encoder: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2", description="Sentence-transformers model for the dense side."
    )
    top_k: int | None = Field(None, ge=1, le=20, description="Passages put in each prompt; the plan picks 3.")
    ranking: Literal["hybrid", "dense"] | None = Field(
        None,
        description="hybrid (dense + BM25 fused by reciprocal rank) or dense alone; the plan keeps hybrid unless "
        "dense finds more validation questions' passages.",
    )
    without_gold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Share of training prompts whose own passage is left out (only distractors); the plan picks 0.2.",
    )
    answer: Literal["auto", "generate", "copy"] = Field(
        "auto",
        description="How answers are made: generate (the trained model reads the passages), copy (the answer of the "
        "training record ranked first; the model where a document ranks first), or auto: the one that scores "
        "higher on the validation questions.",
    )
    passage_words: int = Field(150, ge=20, le=2000, description="Most words a document passage holds.")
    tune_encoder: bool = Field(
        True,
        description="Fine-tune the encoder on the training questions against their passages before indexing "
        "(valid and test questions never used).",
    )
    encoder_epochs: int | None = Field(None, ge=1, le=20, description="Epochs of that tuning; the plan picks 3.")
    reranker: str | None = Field(
        None,
        description="A sentence-transformers CrossEncoder (hub name or folder, e.g. "
        "cross-encoder/ms-marco-MiniLM-L6-v2) that re-orders each question's top rerank_depth passages of the "
        "ranking, in training, scoring and serving; none: the ranking as it is.",
    )
    rerank_depth: int | None = Field(
        None, ge=2, le=200, description="reranker: candidates it re-orders per question; default 20."
    )
    store: Literal["faiss", "qdrant"] = Field(
        "faiss",
        description="Where the dense vectors are kept: faiss (in the run folder) or qdrant (a Qdrant collection, "
        "for knowledge bases that outgrow one machine; needs the qdrant extra).",
    )
    qdrant_url: str | None = Field(
        None,
        description="store qdrant: the Qdrant server's URL, e.g. http://localhost:6333; none: Qdrant's local mode "
        "in the run folder.",
    )
    qdrant_api_key_env: str | None = Field(
        None, description="store qdrant: the environment variable holding the server's API key (never the key)."
    )
    qdrant_collection: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="store qdrant: the collection's name (a new one; an existing one is never overwritten); "
        "default tunesmith-<run name>-<8 random hex digits>.",
    )

    @model_validator(mode="after")
    def _settings_of_the_store(self) -> RetrievalConfig:
        # set to a value, not merely written: a saved config.yaml writes every default (None) out
        given = [name for name in ("qdrant_url", "qdrant_api_key_env", "qdrant_collection") if getattr(self, name)]
        if self.store != "qdrant" and given:
            raise ValueError(f"{', '.join(given)}: only for store: qdrant (this one is {self.store})")
        if self.qdrant_api_key_env and not self.qdrant_url:
            raise ValueError("qdrant_api_key_env needs qdrant_url (Qdrant's local mode takes no key)")
        if self.rerank_depth is not None and not self.reranker:
            raise ValueError("rerank_depth applies only with a reranker (none is set)")
        return self


class RewriteConfig(Section):
    """Closed-book facts: ``k`` new phrasings of every fact's questions added to the training split (never to valid
    or test), from rules, a local causal model or an OpenAI-compatible endpoint, each filtered before use."""

    k: int = Field(0, ge=0, le=32, description="Rewrites per fact (distinct answer); 0 adds none.")
    generator: Literal["rules", "model", "endpoint"] = Field(
        "rules",
        description="rules: built-in rules, no model; model: a local causal model folder or hub id; endpoint: an "
        "OpenAI-compatible server (Ollama's /v1, llama.cpp, tunesmith serve).",
    )
    model: str | None = Field(
        None,
        description="generator model: the model folder or hub id (default: the run's base model); endpoint: "
        "the model name to ask for.",
    )
    base_url: str | None = Field(None, description="generator endpoint: the server's base URL, e.g. .../v1.")
    api_key_env: str | None = Field(
        None, description="generator endpoint: the environment variable holding the API key (none for local servers)."
    )
    encoder: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2", description="Sentence-transformers model that checks meaning."
    )
    min_similarity: float = Field(
        0.7, ge=-1.0, le=1.0, description="Least cosine similarity of a rewrite to its question to be kept."
    )

    @model_validator(mode="after")
    def _settings_of_the_generator(self) -> RewriteConfig:
        # set to a value, not merely written: a saved config.yaml writes every default (None) out
        given = {name for name in ("model", "base_url", "api_key_env") if getattr(self, name) is not None}
        if self.generator != "endpoint":
            extra = [name for name in ("base_url", "api_key_env") if name in given]
            if extra:
                raise ValueError(
                    f"{', '.join(extra)} only apply to generator: endpoint (this one is {self.generator})"
                )
        if self.generator == "rules" and "model" in given:
            raise ValueError("model does not apply to generator: rules (it needs no model)")
        if self.generator == "endpoint" and not (self.base_url and self.model):
            raise ValueError("generator endpoint needs base_url and model (the model name the server serves)")
        return self


class DocumentsConfig(Section):
    """Knowledge also trained as plain text beside the Q&A (Jiang et al. 2024, "Instruction-tuned language models
    are better knowledge learners"): each distinct training answer, and any files given, as documents with the
    loss on every token, mixed into the training split."""

    answers: bool = Field(False, description="Train each distinct training answer also as a plain document.")
    files: list[Path] = Field(
        default_factory=list,
        description="Text/Markdown files (split by heading and paragraph) or JSONL passages also trained as "
        "documents; relative to the config's folder.",
    )
    share: float | None = Field(
        None,
        gt=0.0,
        le=4.0,
        description="Document rows per Q&A training row; the plan: every document once an epoch.",
    )
    passage_words: int = Field(150, ge=20, le=2000, description="Most words a document from the files holds.")

    @property
    def enabled(self) -> bool:
        return self.answers or bool(self.files)

    @model_validator(mode="after")
    def _something_to_train(self) -> DocumentsConfig:
        if self.share is not None and not self.enabled:
            raise ValueError("share needs documents: set answers: true or give files")
        return self


class ContinualConfig(Section):
    """Continual learning: a run that continues from an earlier one (``continue_from``) without forgetting it."""

    replay_ratio: float | None = Field(
        None,
        ge=0,
        le=10,
        description="Earlier training examples mixed in per new one; the plan picks 1.0 when continuing.",
    )
    evaluate_earlier: bool = Field(True, description="Re-score every earlier stage's test split at the end.")
    parent_kl_weight: float = Field(
        0.0, ge=0, description="Weight of KL(parent || model) on answer tokens: a pull toward the previous round."
    )


class OutputConfig(Section):
    """Where runs are written."""

    runs_dir: Path = Field(
        Path("runs"), description="Each run gets a new folder <name>-<timestamp> here (relative: to the working dir)."
    )
    logging_steps: int = Field(5, ge=1)
    save_checkpoints: bool = Field(True, description="Save a checkpoint at the end of every epoch.")
    keep_checkpoints: int | None = Field(3, ge=1, description="Keep only the newest N checkpoints; None keeps all.")
    tensorboard: bool = Field(True, description="TensorBoard event files in the run's logs/tensorboard/.")
    wandb: bool = Field(False, description="Also log to Weights & Biases (needs the wandb package).")
    mlflow: bool = Field(
        False, description="Also log to MLflow: parameters, metrics per step, the trained adapter as an artifact."
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        description="MLflow tracking URI (a server, a database, a folder); default: file store runs_dir/mlruns, "
        "or MLFLOW_TRACKING_URI when set.",
    )

    @model_validator(mode="after")
    def _tracking_uri_needs_mlflow(self) -> OutputConfig:
        if self.mlflow_tracking_uri is not None and not self.mlflow:
            raise ValueError("output.mlflow_tracking_uri is set but output.mlflow is false: set mlflow: true")
        return self


class RunConfig(Section):
    """A whole run: everything ``tunesmith train`` needs."""

    name: str = Field("run", pattern=r"^[A-Za-z0-9._-]+$", description="Prefix of the run folder's name.")
    task: Literal["causal_lm", "summarization", "embedding"] = Field(
        "causal_lm", description="What kind of model is trained: causal_lm (Q&A, chat), summarization, embedding."
    )
    continue_from: str | None = Field(
        None,
        description="An earlier run to continue from: a run folder, a folder's name in output.runs_dir, or a "
        "configured run name (its newest finished run).",
    )
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig
    lora: LoraConfig = Field(default_factory=LoraConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    continual: ContinualConfig = Field(default_factory=ContinualConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    rewrites: RewriteConfig = Field(default_factory=RewriteConfig)
    documents: DocumentsConfig = Field(default_factory=DocumentsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)

    @model_validator(mode="before")
    @classmethod
    def _only_settings_of_the_task(cls, data: Any) -> Any:
        """Reject the settings NOT_FOR_TASK lists for the config's task, when present in the input."""
        if not isinstance(data, Mapping):
            return data
        task = data.get("task", "causal_lm")
        if not isinstance(task, str) or task not in NOT_FOR_TASK:
            return data  # an unknown task is reported by the field's own check
        found = keys_not_for_task(data, task)
        if found:
            raise NotForTaskError([(key, not_for_task_message(key, task)) for key in found])
        return data

    @model_validator(mode="after")
    def _the_tasks_default_model(self) -> RunConfig:
        if "name" not in self.model.model_fields_set:
            self.model.name = DEFAULT_MODEL_BY_TASK[self.task]
        return self

    @model_validator(mode="after")
    def _parent_pull_reads_the_adapter_off(self) -> RunConfig:
        """continual.parent_kl_weight pulls toward the model with its adapter off: it needs a plain adapter."""
        if not (self.continue_from and self.continual.parent_kl_weight > 0):
            return self
        pull = "the pull toward the parent reads the model with its adapter off"
        if self.training.method == "full":
            raise ValueError(
                f"training.method 'full' cannot be combined with continual.parent_kl_weight: {pull}, and a full "
                "fine-tune has none; set one of them off"
            )
        if self.lora.use_pissa:
            raise ValueError(
                f"lora.use_pissa cannot be combined with continual.parent_kl_weight: {pull}, and PiSSA moves the "
                "adapter's part out of the base; set one of them off"
            )
        return self

    @model_validator(mode="after")
    def _full_training_has_no_adapter(self) -> RunConfig:
        lora = sorted(self.lora.model_fields_set)
        if self.training.method == "full" and lora:
            raise ValueError(
                f"training.method is 'full' (every weight trained, no adapter): lora.{', lora.'.join(lora)} "
                "does not apply; remove it or set training.method to 'lora'"
            )
        if self.training.freeze_embeddings is not None and (self.training.method == "lora" or lora):
            adapter = "training.method is 'lora'" if self.training.method == "lora" else "the lora section is set"
            raise ValueError(
                f"training.freeze_embeddings applies to a full fine-tune, and {adapter} (an adapter leaves the "
                "embeddings as they are); remove it or set training.method to 'full'"
            )
        return self

    @model_validator(mode="after")
    def _documents_have_no_difficulty(self) -> RunConfig:
        if self.documents.enabled and self.training.curriculum == "difficulty":
            raise ValueError(
                "documents cannot follow training.curriculum 'difficulty': a document has no difficulty label "
                "(use curriculum 'length' or 'base_loss')"
            )
        return self

    @field_validator("name")
    @classmethod
    def _not_dots_only(cls, value: str) -> str:
        if set(value) <= {"."}:
            raise ValueError("name must contain a letter or digit")
        return value

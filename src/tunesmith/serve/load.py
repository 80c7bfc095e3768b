"""What ``tunesmith serve`` serves: a finished run (merged in memory), a merged model folder, or an embedding model.

A run's ``task`` decides: ``causal_lm`` serves chat and text completions; ``embedding`` serves embeddings from
the sentence-transformers folder the run saved. A plain folder is an embedding model when it has
``modules.json`` (sentence-transformers; an embedding run's ``model-int8/`` runs its ONNX INT8 file in
onnxruntime), else a causal LM (``config.json``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunesmith.errors import ExportError, ModelError

DEFAULT_MAX_TOKENS = 256


@dataclass
class ChatModel:
    name: str
    model: Any
    tokenizer: Any
    system_prompt: str | None
    default_max_tokens: int
    decoding: dict = field(default_factory=dict)  # model.generate options for greedy requests (beams, guard)
    retriever: Retriever | None = None  # a retrieval run's index: every chat question gets its passages

    @property
    def context_length(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))


@dataclass
class Retriever:
    """The index a retrieval run trained with, and how many passages its prompts held."""

    index: Any  # tunesmith.retrieval.HybridIndex
    top_k: int
    answers: dict[str, str] | None = None  # a run that answers by copy: passage id -> its training record's answer

    def passages(self, question: str) -> list:
        return [hit.passage for hit in self.index.search([question], self.top_k)[0]]

    def copied(self, passages: list) -> str | None:
        """The answer to send without generating: the first passage's record answer, for a run that copies."""
        return self.answers.get(passages[0].id) if self.answers and passages else None


@dataclass
class EmbeddingModel:
    name: str
    model: Any  # a SentenceTransformer

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)


def load_served(path: Path, name: str | None = None, trust_remote_code: bool = False) -> ChatModel | EmbeddingModel:
    """Load what ``path`` holds, ready to serve. A run runs its model folder's own code as its config says
    (``model.trust_remote_code``); a plain folder only with ``trust_remote_code`` (``serve --trust-remote-code``).

    Raises:
        ModelError / RunError / ExportError: the path is neither a finished run nor a model folder.
    """
    path = Path(path)
    if (path / "run.json").is_file():
        return _load_run(path, name)
    if (path / "modules.json").is_file():
        return _load_embedding(path, name or path.name, trust_remote_code)
    if (path / "config.json").is_file():
        from tunesmith.models.load import load_base_model, load_tokenizer

        model, tokenizer = load_base_model(path, trust_remote_code), load_tokenizer(path, trust_remote_code)
        return _chat_model(name or path.name, model, tokenizer, None, None)
    raise ModelError(f"{path}: not a run folder (run.json), an embedding model (modules.json) or a model folder")


def _load_run(path: Path, name: str | None) -> ChatModel | EmbeddingModel:
    from tunesmith.models.merge import merged_model
    from tunesmith.plan import generation_settings
    from tunesmith.runs.finished import open_finished_run

    run = open_finished_run(path)
    if run.sentence_model is not None:
        return _load_embedding(run.sentence_model, name or run.name, run.trust_remote_code)
    model, tokenizer = merged_model(run.base_dir, run.trained_dir, run.trust_remote_code)
    served = _chat_model(name or run.name, model, tokenizer, run.system_prompt, run.max_new_tokens)
    served.decoding = generation_settings(run.plan)  # greedy requests get the run's decoding, as eval scored it
    served.retriever = _retriever(run)
    return served


def _retriever(run) -> Retriever | None:
    """A retrieval run's index (``retrieval/`` in its folder) with the encoder that built it (``retrieval-encoder/``
    when it was tuned) and the reranker it was scored with (``retrieval-reranker/``); None for other runs."""
    from tunesmith.tasks.rag import ANSWERS_FILE, ENCODER_FOLDER, INDEX_FOLDER, RERANKER_FOLDER, attach_reranker

    folder = run.path / INDEX_FOLDER
    if not (folder / "index.json").is_file():
        return None
    from tunesmith.config.schema import RetrievalConfig
    from tunesmith.models.embedding import resolve_embedding_model
    from tunesmith.retrieval import HybridIndex
    from tunesmith.tasks.embedding import load_sentence_model

    tuned = run.path / ENCODER_FOLDER  # the encoder tuned on the run's questions, when it was
    name = (run.config.get("retrieval") or {}).get("encoder") or RetrievalConfig().encoder
    encoder = load_sentence_model(tuned if tuned.is_dir() else resolve_embedding_model(name))
    index = HybridIndex.load(folder, encoder)
    reranker = index.record.get("reranker") or {}  # ranked at serving as it was when scored
    attach_reranker(index, reranker.get("name"), reranker.get("depth"), run.path / RERANKER_FOLDER)
    choices = run.plan.get("choices", {})
    top_k = (choices.get("retrieval_top_k") or {}).get("value", 3)
    copies = (choices.get("retrieval_answer") or {}).get("value") == "copy" and (run.path / ANSWERS_FILE).is_file()
    answers = json.loads((run.path / ANSWERS_FILE).read_text(encoding="utf-8")) if copies else None
    return Retriever(index, int(top_k), answers)


def _load_embedding(folder: Path, name: str, trust_remote_code: bool = False) -> EmbeddingModel:
    """A sentence-transformers folder; an embedding run's ``model-int8/`` (ONNX INT8, no torch weights) through
    onnxruntime."""
    from tunesmith.models.int8 import INFO_FILE, load_int8

    if (Path(folder) / INFO_FILE).is_file():
        return EmbeddingModel(name, load_int8(folder))
    from sentence_transformers import SentenceTransformer

    return EmbeddingModel(name, SentenceTransformer(str(folder), device="cpu", trust_remote_code=trust_remote_code))


def _chat_model(name, model, tokenizer, system_prompt, max_new_tokens) -> ChatModel:
    if model.config.is_encoder_decoder:
        raise ExportError(f"'{name}' is an encoder-decoder model; tunesmith serve answers with decoder-only models")
    model.eval()
    tokenizer.padding_side = "left"
    return ChatModel(name, model, tokenizer, system_prompt, max_new_tokens or DEFAULT_MAX_TOKENS)

"""A finished run's adapter merged into its base model, and the two folder formats built on it.

``merged``: a plain Hugging Face folder (``AutoModelForCausalLM.from_pretrained`` loads it, no peft needed); for a
sentence-embedding run, its sentence-transformers folder (``SentenceTransformer(folder)`` loads it).
``adapter``: the PEFT adapter alone (``PeftModel.from_pretrained(base, folder)`` loads it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tunesmith.atomic import save_folder
from tunesmith.errors import ExportError
from tunesmith.runs.finished import FinishedRun


def merged_model(run: FinishedRun):
    """(model, tokenizer): the base model with the run's LoRA weights folded in, in eval mode."""
    from tunesmith.models.merge import merged_model as merge

    _require_generative(run)
    return merge(run.base_dir, run.trained_dir, run.trust_remote_code)


def export_merged(run: FinishedRun, out: Path) -> Path:
    from tunesmith.models.merge import merge_adapter

    if run.sentence_model is not None:  # trained in full, or its adapter merged at the end of the run
        save_folder(out, lambda folder: shutil.copytree(run.sentence_model, folder, dirs_exist_ok=True))
        return out
    return merge_adapter(run.base_dir, run.trained_dir, out, run.trust_remote_code)


def export_adapter(run: FinishedRun, out: Path) -> Path:
    if not (run.trained_dir / "adapter_config.json").is_file():
        raise ExportError(f"{run.path}: the run trained the whole model, not an adapter; export it as merged")
    save_folder(out, lambda folder: _copy_adapter(run, folder))
    return out


def _copy_adapter(run: FinishedRun, folder: Path) -> None:
    shutil.copytree(run.trained_dir, folder, dirs_exist_ok=True)
    if run.base_dir is not None:  # the chat template travels with the adapter: prompts as formatted in training
        from tunesmith.models.load import load_tokenizer

        load_tokenizer(run.base_dir, run.trust_remote_code).save_pretrained(folder)


def _require_generative(run: FinishedRun) -> None:
    if run.sentence_model is not None:
        raise ExportError(
            f"{run.path}: a sentence-embedding model is not a text generation model; GGUF and Ollama are for "
            "those. Export it as merged (a sentence-transformers folder), or use its model-int8/ copy"
        )


def export_gguf(run: FinishedRun, out: Path, weights: str) -> Path:
    from tunesmith.export.gguf import write_gguf

    model, tokenizer = merged_model(run)
    return write_gguf(model, tokenizer, out, weights, run.name, run.base_dir)


def export_ollama(run: FinishedRun, out: Path, weights: str) -> Path:
    from tunesmith.export import ollama
    from tunesmith.export.gguf import write_gguf
    from tunesmith.plan import generation_settings

    model, tokenizer = merged_model(run)
    text = ollama.modelfile(
        ollama.chat_format(tokenizer),
        ollama.stop_strings(tokenizer, model),
        run.system_prompt,
        run.max_new_tokens,
        model.config.max_position_embeddings,
        decoding=generation_settings(run.plan),
        chosen=(run.record.get("decoding_search") or {}).get("summary"),
    )

    from tunesmith.tasks.rag import ENCODER_FOLDER, INDEX_FOLDER, RERANKER_FOLDER

    retrieval = run.path / INDEX_FOLDER
    if retrieval.is_dir():  # Ollama has no retrieval step: the model alone answers closed-book
        text = (
            "# This run answers from retrieved passages, which a Modelfile cannot do: Ollama answers without them.\n"
            "# The index is in retrieval/ beside this file; `tunesmith serve RUN` retrieves for every question.\n"
        ) + text

    def save(folder: Path) -> None:
        write_gguf(model, tokenizer, folder / "model.gguf", weights, run.name, run.base_dir)
        (folder / "Modelfile").write_text(text, encoding="utf-8")
        if retrieval.is_dir():
            shutil.copytree(retrieval, folder / INDEX_FOLDER)
            for part in (ENCODER_FOLDER, RERANKER_FOLDER):
                if (run.path / part).is_dir():
                    shutil.copytree(run.path / part, folder / part)

    save_folder(out, save)
    if retrieval.is_dir():
        from rich.console import Console

        Console(stderr=True).print(
            f"note: {run.name} answers from retrieved passages; a Modelfile cannot retrieve, so Ollama answers "
            f"without them. The index is copied to {out / INDEX_FOLDER}; `tunesmith serve` retrieves."
        )
    return out

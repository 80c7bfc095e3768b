"""A finished run's adapter merged into its base model, and the two folder formats built on it.

``merged``: a plain Hugging Face folder (``AutoModelForCausalLM.from_pretrained`` loads it, no peft needed).
``adapter``: the PEFT adapter alone (``PeftModel.from_pretrained(base, folder)`` loads it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tunesmith.errors import ExportError
from tunesmith.export.source import GENERATIVE_TASKS, FinishedRun
from tunesmith.runs import save_folder


def merged_model(run: FinishedRun):
    """(model, tokenizer): the base model with the run's LoRA weights folded in, in eval mode."""
    from tunesmith.models.merge import merged_model as merge

    _require_generative(run)
    return merge(run.base_dir, run.adapter_dir)


def export_merged(run: FinishedRun, out: Path) -> Path:
    from tunesmith.models.merge import merge_adapter

    _require_generative(run)
    return merge_adapter(run.base_dir, run.adapter_dir, out)


def export_adapter(run: FinishedRun, out: Path) -> Path:
    _require_generative(run)
    save_folder(out, lambda folder: _copy_adapter(run, folder))
    return out


def _copy_adapter(run: FinishedRun, folder: Path) -> None:
    shutil.copytree(run.adapter_dir, folder, dirs_exist_ok=True)
    # The chat template travels with the adapter so that prompts are formatted as in training.
    from tunesmith.tasks.causal import load_tokenizer

    load_tokenizer(run.base_dir).save_pretrained(folder)


def _require_generative(run: FinishedRun) -> None:
    if run.task not in GENERATIVE_TASKS:
        raise ExportError(
            f"{run.path}: a '{run.task}' run is not a text generation model; these formats are for "
            f"{' and '.join(GENERATIVE_TASKS)} runs"
        )


def export_gguf(run: FinishedRun, out: Path, weights: str) -> Path:
    from tunesmith.export.gguf import write_gguf

    model, tokenizer = merged_model(run)
    return write_gguf(model, tokenizer, run.base_dir, out, weights, run.name)


def export_ollama(run: FinishedRun, out: Path, weights: str) -> Path:
    from tunesmith.export import ollama
    from tunesmith.export.gguf import write_gguf

    model, tokenizer = merged_model(run)
    text = ollama.modelfile(
        ollama.chat_format(tokenizer),
        ollama.stop_strings(tokenizer, model),
        run.system_prompt,
        run.max_new_tokens,
        model.config.max_position_embeddings,
    )

    def save(folder: Path) -> None:
        write_gguf(model, tokenizer, run.base_dir, folder / "model.gguf", weights, run.name)
        (folder / "Modelfile").write_text(text, encoding="utf-8")

    save_folder(out, save)
    return out

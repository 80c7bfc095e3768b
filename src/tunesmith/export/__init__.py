"""Export a finished run: merged Hugging Face folder, PEFT adapter, GGUF file, or an Ollama folder."""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import ExportError
from tunesmith.runs.finished import FinishedRun, open_finished_run

FORMATS = ("merged", "adapter", "gguf", "ollama")


def export_run(run_path: Path, format: str, out: Path, weights: str = "f16") -> Path:
    """Write a new ``out`` (a folder, or a .gguf file for ``gguf``) from the run; the run folder is only read."""
    from tunesmith.export import merge
    from tunesmith.export.gguf import gguf_type

    if format not in FORMATS:
        raise ExportError(f"unknown export format '{format}'; choose one of {', '.join(FORMATS)}")
    weights = gguf_type(weights)
    if Path(out).exists():
        raise ExportError(f"{out} already exists; exports never overwrite")
    run = open_finished_run(run_path)
    if format == "merged":
        return merge.export_merged(run, Path(out))
    if format == "adapter":
        return merge.export_adapter(run, Path(out))
    if format == "gguf":
        return merge.export_gguf(run, Path(out), weights)
    return merge.export_ollama(run, Path(out), weights)


__all__ = ["FORMATS", "FinishedRun", "export_run", "open_finished_run"]

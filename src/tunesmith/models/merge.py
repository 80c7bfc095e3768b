"""Fold a LoRA adapter into its base model's weights: a plain transformers folder, written atomically."""

from __future__ import annotations

from pathlib import Path

from tunesmith.runs.atomic import save_folder


def merge_adapter(base_dir: Path, adapter_dir: Path, target: Path) -> Path:
    """Write ``base + adapter`` (merged) with its tokenizer to ``target``, which must not exist yet."""
    from peft import PeftModel

    from tunesmith.tasks.causal import load_base_model, load_tokenizer

    tokenizer = load_tokenizer(base_dir)
    merged = PeftModel.from_pretrained(load_base_model(base_dir), adapter_dir).merge_and_unload()

    def save(folder: Path) -> None:
        merged.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)

    save_folder(Path(target), save)
    return Path(target)

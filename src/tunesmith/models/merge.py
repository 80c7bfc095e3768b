"""Fold a LoRA adapter into its base model's weights: a plain transformers model in memory (what serve and the
GGUF export use), and a folder written atomically (continued runs start from it; the merged export)."""

from __future__ import annotations

from pathlib import Path

from tunesmith.atomic import save_folder
from tunesmith.models.load import load_trained_model


def merged_model(base_dir: Path, adapter_dir: Path, trust_remote_code: bool = False):
    """(model, tokenizer): the base model (either family) with the adapter's weights folded in, in eval mode (a
    full fine-tune's ``adapter_dir`` is the whole model: loaded as it is); ``trust_remote_code``: the run's
    ``model.trust_remote_code``."""
    bundle = load_trained_model(base_dir, adapter_dir, None, trust_remote_code)
    model = bundle.model if bundle.full else bundle.model.merge_and_unload()
    model.eval()
    return model, bundle.tokenizer


def save_merged(model, tokenizer, folder: Path) -> None:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def merge_adapter(base_dir: Path, adapter_dir: Path, target: Path, trust_remote_code: bool = False) -> Path:
    """Write ``base + adapter`` (merged) with its tokenizer to ``target``, which must not exist yet."""
    model, tokenizer = merged_model(base_dir, adapter_dir, trust_remote_code)
    save_folder(Path(target), lambda folder: save_merged(model, tokenizer, folder))
    return Path(target)

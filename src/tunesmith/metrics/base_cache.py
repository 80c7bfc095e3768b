"""The base model's answers to a test split, generated once and reused by every later run on the same split.

Scoring the base model takes as long as scoring the tuned one (its rambling answers often fill the whole generation
budget) and gives the same answers every time: same weights, same prompts, same decoding. The cache keeps its
answers and reference log-likelihoods, not its scores, so metrics added or fixed later are computed afresh from
them. The key covers everything the answers depend on: the base weights (hashed from the loaded model, whatever
folder or lineage they came from), the formatted prompts and references, and the decoding (length budget, batch
size, precision, beams and guard). Entries live under ``TUNESMITH_HOME/base_scores`` and are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from tunesmith.atomic import write_json

CACHE_VERSION = 2  # bump when what an entry holds changes meaning (2: bf16 decoding with bf16 weights on a CPU)


def cache_dir() -> Path:
    from tunesmith.models.gguf import home_dir

    return home_dir() / "base_scores"


def weights_fingerprint(model) -> str:
    """A digest of the base model's weights: LoRA tensors left out, PEFT's wrapper names mapped back to the
    plain model's, so one base gives one digest whatever adapter (rank, targets) sits on it."""
    import torch

    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(_base_tensors(model), key=lambda item: item[0]):
        data = tensor.detach().contiguous().cpu()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}".encode())
        digest.update(data.view(-1).view(torch.uint8).numpy())  # the raw bytes, without a copy
    return digest.hexdigest()


def _base_tensors(model):
    for name, tensor in model.state_dict().items():
        if "lora_" in name:
            continue
        plain = name.replace("base_model.model.", "", 1).replace(".base_layer.", ".")
        yield plain, tensor


def cache_key(model, prompts: list[str], references: list[str], decoding: dict) -> str:
    content = json.dumps(
        {
            "version": CACHE_VERSION,
            "weights": weights_fingerprint(model),
            "prompts": prompts,
            "references": references,
            "decoding": decoding,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def load(key: str) -> dict | None:
    """The cached entry (``answers``: [{text, cut}], ``nll``: [[nll, tokens]], ``created``), or None."""
    path = cache_dir() / f"{key}.json"
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # absent, or unreadable: scored again and written anew
    return entry if entry.get("version") == CACHE_VERSION else None


def save(key: str, answers: list[dict], nll: list) -> None:
    entry = {"version": CACHE_VERSION, "created": time.strftime("%Y-%m-%d %H:%M:%S"), "answers": answers, "nll": nll}
    write_json(cache_dir() / f"{key}.json", entry)

"""An INT8 copy of a fine-tuned sentence-embedding model for CPUs: the Linear layers dynamically quantised
(int8 weights, activations quantised on the fly), everything else as it was.

A dynamically quantised model has no safetensors form, so ``model-int8/`` holds its state dict and the name of
the fp32 folder it was made from; :func:`load_int8` rebuilds it from both.
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from pathlib import Path

from tunesmith.atomic import save_folder, write_json

STATE_FILE = "int8_state.pt"
INFO_FILE = "int8.json"


def quantize_int8(model):
    """A dynamically quantised (qint8 Linear) copy of a SentenceTransformer; the original is left as it was."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch marks its eager quantisation as deprecated, not yet as removed
        warnings.simplefilter("ignore")
        return quantize_dynamic(copy.deepcopy(model).to("cpu").eval(), {torch.nn.Linear}, dtype=torch.qint8)


def save_int8(quantized, source_folder: Path, target: Path) -> None:
    """Write ``target`` atomically: the quantised state and where its fp32 model lies (relative when possible)."""
    import torch

    source = Path(source_folder).resolve()
    try:
        shown = str(source.relative_to(Path(target).resolve().parent))
    except ValueError:
        shown = str(source)

    def save(folder: Path) -> None:
        torch.save(quantized.state_dict(), folder / STATE_FILE)
        write_json(folder / INFO_FILE, {"source": shown, "scheme": "torch dynamic quantisation, qint8 Linear layers"})

    save_folder(Path(target), save)


def load_int8(folder: Path):
    """Rebuild the INT8 model saved by :func:`save_int8`."""
    import torch
    from sentence_transformers import SentenceTransformer

    folder = Path(folder)
    info = json.loads((folder / INFO_FILE).read_text())
    source = Path(info["source"])
    source = source if source.is_absolute() else folder.parent / source
    quantized = quantize_int8(SentenceTransformer(str(source), device="cpu", local_files_only=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized.load_state_dict(torch.load(folder / STATE_FILE, weights_only=False))
    return quantized


def texts_per_second(model, texts: list[str], batch_size: int = 64, rounds: int = 2) -> float:
    """Encoding throughput, best of ``rounds`` passes after one warm-up batch."""
    model.encode(texts[:batch_size], batch_size=batch_size)
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        model.encode(texts, batch_size=batch_size)
        best = max(best, len(texts) / (time.perf_counter() - started))
    return best

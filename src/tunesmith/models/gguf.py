"""Dequantise a GGUF file once into a cached safetensors folder under ``$TUNESMITH_HOME``.

transformers loads a GGUF (``from_pretrained(folder, gguf_file=...)``) but the model it returns refuses
``save_pretrained``; we rebuild the architecture without the quantization config, copy the weights over,
and save. The folder appears only when complete (written to a temp folder, then renamed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from tunesmith.errors import ModelError


def home_dir() -> Path:
    return Path(os.environ.get("TUNESMITH_HOME", Path.home() / ".cache" / "tunesmith")).expanduser()


def convert_gguf(gguf_path: Path) -> Path:
    """Return the cached safetensors folder for ``gguf_path``, converting it on first use."""
    gguf_path = Path(gguf_path).resolve()
    target = home_dir() / "models" / f"{gguf_path.stem}-{_fingerprint(gguf_path)}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _dequantise_into(gguf_path, staging)
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").is_file():  # a concurrent conversion did not win the race either
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _fingerprint(path: Path) -> str:
    """Cheap identity of a large file: its size, mtime and first MiB."""
    stat = path.stat()
    digest = hashlib.sha256(f"{stat.st_size}:{int(stat.st_mtime)}".encode())
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
    return digest.hexdigest()[:12]


def _dequantise_into(gguf_path: Path, folder: Path) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    print(f"Converting {gguf_path.name} to safetensors (once; cached in {folder.parent}) ...", flush=True)
    source = dict(pretrained_model_name_or_path=gguf_path.parent, gguf_file=gguf_path.name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(**source)
        loaded = AutoModelForCausalLM.from_pretrained(**source)
    except Exception as err:  # noqa: BLE001 - surface any loader failure as one clear message
        raise ModelError(f"{gguf_path}: cannot load this GGUF file with transformers: {err}") from err
    settings = loaded.config.to_dict()
    settings.pop("quantization_config", None)
    config = AutoConfig.for_model(**settings)
    model = type(loaded)(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)

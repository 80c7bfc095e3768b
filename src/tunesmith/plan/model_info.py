"""ModelInfo: the size facts of a local model folder, read from its config and safetensors headers (no weights)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelInfo:
    n_params: int
    hidden_size: int
    n_layers: int
    vocab_size: int
    max_positions: int
    has_chat_template: bool = True  # False: a base decoder gets tunesmith's default template (the plan says so)
    encoder_decoder: bool = False
    model_type: str = ""  # config.json's model_type: llama, qwen2, gpt2, ...

    def to_dict(self) -> dict:
        return asdict(self)


def read_model_info(folder: Path) -> ModelInfo:
    config = json.loads((Path(folder) / "config.json").read_text())
    return ModelInfo(
        n_params=_count_parameters(Path(folder)) or _guess_parameters(config),
        hidden_size=config.get("hidden_size", 0),
        n_layers=config.get("num_hidden_layers", 0),
        vocab_size=config.get("vocab_size", 0),
        max_positions=config.get("max_position_embeddings", 2048),
        has_chat_template=has_chat_template(Path(folder)),
        encoder_decoder=bool(config.get("is_encoder_decoder")),
        model_type=str(config.get("model_type", "")),
    )


def has_chat_template(folder: Path) -> bool:
    """Whether the model folder's tokenizer ships a chat template, where transformers reads one from:
    tokenizer_config.json's ``chat_template``, chat_template.jinja / chat_template.json, additional_chat_templates/.
    (Read from the files: the plan is made without loading the tokenizer twice.)"""
    settings = folder / "tokenizer_config.json"
    if settings.is_file() and json.loads(settings.read_text(encoding="utf-8")).get("chat_template"):
        return True
    extra = folder / "additional_chat_templates"
    files = ("chat_template.jinja", "chat_template.json")
    return any((folder / name).is_file() for name in files) or (extra.is_dir() and any(extra.iterdir()))


def _count_parameters(folder: Path) -> int:
    from safetensors import safe_open

    total = 0
    for file in sorted(folder.glob("*.safetensors")):
        with safe_open(file, framework="pt") as handle:
            for key in handle.keys():
                size = 1
                for dim in handle.get_slice(key).get_shape():
                    size *= dim
                total += size
    return total


def _guess_parameters(config: dict) -> int:
    hidden, layers = config.get("hidden_size", 0), config.get("num_hidden_layers", 0)
    intermediate = config.get("intermediate_size", 4 * hidden)
    embeddings = config.get("vocab_size", 0) * hidden
    return embeddings + layers * (4 * hidden * hidden + 3 * hidden * intermediate)

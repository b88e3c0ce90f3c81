"""Typed errors a user can cause, with a message a user can act on."""
from __future__ import annotations


class WorkbenchError(Exception):
    """Base class for every error the UI and CLI show as a message, not a traceback."""


class DataError(WorkbenchError, ValueError):
    """A data file or record is malformed.

    Carries where (source name, 1-based line, byte offset) and what was expected vs found.
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 expected: str | None = None, found: str | None = None,
                 offset: int | None = None):
        self.message = message
        self.source = source
        self.line = line
        self.expected = expected
        self.found = found
        self.offset = offset
        super().__init__(self.describe())

    def describe(self) -> str:
        where = self.source or "<data>"
        if self.line is not None:
            where += f", line {self.line}"
        if self.offset is not None:
            where += f", byte {self.offset}"
        text = f"{where}: {self.message}"
        if self.expected is not None:
            text += f" (expected {self.expected}"
            text += f", found {self.found})" if self.found is not None else ")"
        elif self.found is not None:
            text += f" (found {self.found})"
        return text


class ConfigError(WorkbenchError, ValueError):
    """A run configuration, registry name or parameter is invalid; the message names the key."""

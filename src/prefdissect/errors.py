"""Errors that prefdissect raises for the user to read.

Library code raises these; only the CLI turns them into one-line messages.
"""

from __future__ import annotations

from pathlib import Path


class PrefDissectError(Exception):
    """Base class of every error meant for a user, not a traceback."""


class InputError(PrefDissectError):
    """Bad input data: says which file, line and field, what is wrong and the fix.

    Parameters
    ----------
    source
        The file (or other origin) of the bad data.
    problem
        What is wrong, e.g. ``"is missing"``.
    fix
        What the user should do about it.
    line
        1-based line number (JSONL, CSV) or record number (JSON list), if known.
    field
        The offending field, if one.
    """

    def __init__(
        self,
        source: str | Path,
        problem: str,
        fix: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ):
        self.source = str(source)
        self.problem = problem
        self.fix = fix
        self.line = line
        self.field = field
        where = self.source
        if line is not None:
            where += f" line {line}"
        what = f"field '{field}' {problem}" if field else problem
        super().__init__(f"{where}: {what}; {fix}")


class UsageError(PrefDissectError):
    """A wrong option or argument (unknown format, missing study file, ...)."""


class FitError(PrefDissectError):
    """A model could not be fitted (no usable pairs, no usable properties, ...)."""


class PartialFailure(PrefDissectError):
    """A command finished, but some of its work failed and was recorded as failed.

    The finished work is saved (the failures with their reasons); running the same
    command again retries only what failed. The CLI exits with :data:`EXIT_PARTIAL`.
    """


class CredentialsRefused(PartialFailure):
    """The LLM server refused the credentials several times in a row; the run stopped.

    Answers received before are kept; nothing more was sent. The CLI exits with
    :data:`EXIT_PARTIAL`.
    """


EXIT_USAGE = 2
"""Exit status of a command stopped by bad input or options (nothing was done)."""
EXIT_PARTIAL = 3
"""Exit status of a command that finished with failures (see :class:`PartialFailure`)."""
EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C."""

"""Exceptions with one-line, user-facing messages.

The CLI turns every :class:`ReenactorError` into a single line on stderr and a
non-zero exit code; anything else is a bug and keeps its traceback.
"""


class ReenactorError(Exception):
    """Base class: a problem the user can fix (bad input, bad path, bad option)."""

    exit_code = 2


class InputError(ReenactorError):
    """An input file is missing, unreadable, not media, or out of limits."""


class NoFaceError(InputError):
    """No usable face was found where one is required."""


class OutputError(ReenactorError):
    """The output cannot be written where asked."""


class DependencyError(ReenactorError):
    """An optional dependency needed for this command is not installed."""

    exit_code = 3

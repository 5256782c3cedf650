"""Errors a user can meet. Each carries a message a manager understands.

They are raised once, where the problem is found, and shown once: by the CLI as
one line on stderr (exit code 1), by the app as an error box.
"""


class OutreachError(Exception):
    """Base class: the message is meant for people, not for developers."""


class ConfigError(OutreachError):
    """A setting is missing or has a value we cannot use."""


class DatabaseUnavailable(OutreachError):
    """The database cannot be reached or opened."""


class SourceError(OutreachError):
    """The sheet or workbook cannot be read as a whole (missing tab, missing column, no access).

    A single bad row is not a SourceError: it is reported as a RowProblem and skipped.
    """

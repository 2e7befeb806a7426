"""The errors pytest-xares reports to its user: one base class, whose message says what went wrong,
where (file, task, shard, key) and what to do about it.

An item that fails with one of these shows the message alone, without a traceback; the
concerns add their own subclasses beside their code (``RecordError`` in ``data.records``,
``CheckFailure`` in ``encoder.checks``, …).
"""

from __future__ import annotations


class XaresError(Exception):
    """A problem the user can act on; the message says what to do."""


class UsageError(XaresError, ValueError):
    """An option or argument that cannot be used (a bad value, a missing companion option)."""


class StorageError(XaresError):
    """A file cannot be written (full disk, permissions); the message names it and the option to change."""


class EncoderError(XaresError, RuntimeError):
    """The encoder cannot be found, built or called; the message says what to fix."""


class DataError(XaresError, RuntimeError):
    """The task's data is missing, unreadable or malformed; the message names the file and key."""


class MissingData(DataError):
    """A task's data is absent and cannot be had here: its items are skipped with the message."""


class Unavailable(XaresError, RuntimeError):
    """Something a task needs besides its data (a language model, a tokenizer, an optional
    package) cannot be had here; its items are skipped with this message, which says what to do."""


class LabelError(XaresError, ValueError):
    """A sample's label cannot be turned into a target (missing field, value outside the vocabulary)."""


class NotRun(XaresError):
    """An item cannot run here (a gating encoder check failed, data or a model is unavailable):
    the item is skipped, and the message is the reason shown."""

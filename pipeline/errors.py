"""The one error hierarchy of cc-backlinks.

Every error the library raises on purpose is a :class:`BacklinksError`. The CLI catches it
and prints its message; the library never exits the process and never prints.

    BacklinksError
    ├── ConfigError          a setting has a bad value (names the setting and the fix)
    ├── InputError           one input file or URL cannot be used (names the input)
    │   ├── InputNotFound    the path does not exist, or a glob matches nothing
    │   ├── InputUnavailable a transient IO failure; retrying may help
    │   ├── HostUnreachable  its host does not resolve or refuses connections: no retrying
    │   └── CorruptInput     the bytes are not a readable WARC (names the offset)
    ├── StorageError         the data location cannot be read or written (S3, a full disk)
    ├── LockError            the data location's lock cannot be taken
    │   └── DataFolderBusy   another run holds it
    ├── PartError            a part is missing, unreadable, damaged or of an older format
    ├── GraphError           an aggregation has nothing to reduce, or its pieces are missing
    ├── RunRecordError       a run record in ``runs/`` is unreadable
    ├── DatabaseError        the DuckDB database is missing or lacks the graph tables
    └── ExportError          an export cannot be written where it was asked to go

Messages quote the bad value with ``{value!r}`` and say what to do about it; the cause is
chained with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import Any


class BacklinksError(Exception):
    """Base class of every error cc-backlinks raises on purpose."""


class ConfigError(BacklinksError):
    """A setting has a value that cannot be used."""


class InputError(BacklinksError):
    """One input cannot be processed. ``input`` names it (a path or a URL)."""

    def __init__(self, input: str, message: str) -> None:
        super().__init__(f"{input}: {message}")
        self.input = input
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (worker pools): rebuild them from their fields.
        return (type(self), (self.input, self.message))


class InputNotFound(InputError):
    """The input does not exist."""


class InputUnavailable(InputError):
    """A transient IO failure (a network error, a busy disk): retrying may succeed."""


class HostUnreachable(InputError):
    """The input's host name does not resolve, or its server refuses connections, before any
    byte arrived: no network, a wrong URL or endpoint. Not retried (it fails at once)."""


class CorruptInput(InputError):
    """The input is not a readable WARC file, or is damaged at ``offset``."""

    def __init__(self, input: str, message: str, offset: int | None = None) -> None:
        where = f" at byte offset {offset}" if offset is not None else ""
        super().__init__(input, f"{message}{where}")
        self.message, self.offset = message, offset

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.input, self.message, self.offset))


class StorageError(BacklinksError):
    """The data location cannot be read or written: an S3 request failed, a disk is full.
    The message names the object or file and what to check."""


class LockError(BacklinksError):
    """The data location's lock (a flock, or an S3 lease) cannot be taken."""


class DataFolderBusy(LockError):
    """Another `backlinks run` is using the same data location."""


class PartError(BacklinksError):
    """A part is missing, unreadable, damaged or written by an older format."""


class GraphError(BacklinksError):
    """An aggregation cannot go on: no parts, a missing bucket, a bad graph pointer."""


class RunRecordError(BacklinksError):
    """A run record (``runs/<id>.json``) is unreadable."""


class DatabaseError(BacklinksError):
    """The graph database is missing, or is not a cc-backlinks database."""


class ExportError(BacklinksError):
    """An export's output exists (and may not be replaced) or cannot be written."""


def refused_by_the_disk(exc: Exception) -> bool:
    """Whether ``exc``, raised while writing a local file, is the disk refusing it (full, gone,
    a size limit): an OSError, or Polars' ComputeError for one (Polars reports its IO
    errors so). Any other error is a bug to let through, not a disk to blame."""
    return isinstance(exc, OSError) or "IO error" in str(exc)

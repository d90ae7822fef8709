"""The one way cc-backlinks writes a local file so that readers see all of it or none of it.

``atomic_path(path)`` hands out a temporary name beside ``path``; when the block ends
without an exception the temporary file is flushed to disk (fsync), renamed over ``path``
(atomic on POSIX), and the folder is fsynced so that the rename itself survives a power
cut. On an exception the temporary file is removed and ``path`` is left as it was.
Parts, graphs, run records, the published database, exports and reports all go through it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

TEMPORARY_MARK = ".tmp-"  # in every temporary name: ".<name>.tmp-<id>"


def temporary_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for it to be built under."""
    return path.with_name(f".{path.name}{TEMPORARY_MARK}{uuid.uuid4().hex[:8]}")


def fsync_path(path: Path) -> None:
    """Flush a file's (or a folder's) data and metadata to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def replace(temporary: Path, path: Path) -> None:
    """Flush ``temporary``, rename it over ``path`` and flush the folder (the rename)."""
    if temporary.is_file():
        fsync_path(temporary)
    os.replace(temporary, path)
    with suppress(OSError):  # some file systems cannot fsync a folder; the rename stands
        fsync_path(path.parent)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Write to the yielded temporary path; it becomes ``path`` when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        yield temporary
        replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
        temporary.with_name(temporary.name + ".wal").unlink(missing_ok=True)  # DuckDB's


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def sweep_temporaries(folder: Path, name: str) -> int:
    """Remove what a killed writer of ``folder/name`` left behind; how many."""
    found = list(folder.glob(f".{name}{TEMPORARY_MARK}*")) if folder.is_dir() else []
    for leftover in found:
        leftover.unlink(missing_ok=True)
    return len(found)

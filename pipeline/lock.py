"""One `backlinks run` at a time per data folder.

A run holds an exclusive ``flock`` on ``<data_dir>/.lock`` from start to publish. A second
run on the same folder fails at once with a clear message instead of sweeping the first
run's temporary files or interleaving its parts. The kernel drops the lock when the process
dies, ``kill -9`` included, so a killed run never leaves the folder locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.errors import DataFolderBusy

LOCK_NAME = ".lock"


@contextmanager
def data_folder_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data folder's lock, or raise DataFolderBusy if another run holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DataFolderBusy(
                f"another `backlinks run` is using the data folder {str(data_dir)!r}; wait "
                "for it to finish, or give this run another --data"
            ) from exc
        yield
    finally:
        os.close(descriptor)  # closing releases the lock

"""Scratch folders on this machine's disk (``TMPDIR``) for one process's temporary files:
an S3 part being written, a partition copied from S3, its sub-buckets, the ranks' work.

Each is named ``backlinks-<kind>-<machine>-<pid>-<random>`` (``<machine>``: 8 hex digits
of the host name's MD5). A process removes its own when it is done; one killed first (kill
-9, the out-of-memory killer) cannot, so every new scratch folder first deletes the folders
of this machine's processes that no longer run, and a killed run's gigabytes of
sub-buckets do not stay on the worker's disk. A folder of another machine (a TMPDIR shared
between containers, whose process ids mean nothing here) is left alone.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_NAME = re.compile(r"backlinks-[a-z]+-([0-9a-f]{8})-(\d+)-[^/]+")


def _machine() -> str:
    return hashlib.md5(socket.gethostname().encode("utf-8")).hexdigest()[:8]


def new_scratch(kind: str) -> Path:
    """A new scratch folder of ``kind`` (a word), the caller's to remove."""
    sweep_orphans()
    return Path(tempfile.mkdtemp(prefix=f"backlinks-{kind}-{_machine()}-{os.getpid()}-"))


@contextmanager
def scratch_folder(kind: str) -> Iterator[Path]:
    """A new scratch folder of ``kind``, removed with what it holds when the block ends."""
    folder = new_scratch(kind)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep_orphans(root: Path | None = None) -> list[Path]:
    """Delete the scratch folders under ``root`` (TMPDIR) of this machine's processes that
    no longer run; return them."""
    removed, machine = [], _machine()
    for folder in Path(root or tempfile.gettempdir()).glob("backlinks-*-*-*-*"):
        named = _NAME.fullmatch(folder.name)
        if (named and named[1] == machine and folder.is_dir()
                and not _running(int(named[2]))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True

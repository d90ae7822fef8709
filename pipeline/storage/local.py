"""A data location on a local (or shared network) file system.

A folder becomes visible by rename: it is built under a hidden scratch name beside its
final place and renamed into place in one step, so a folder with the final name is always
complete. A killed writer leaves at most a hidden ``.tmp-*`` folder, never read and swept
by the next run. The lock is an exclusive ``flock`` on ``<data_dir>/.lock``: the kernel
drops it when the process dies, ``kill -9`` included.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import stat
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.errors import ConfigError, DataFolderBusy, StorageError
from pipeline.storage import atomic
from pipeline.storage.base import (
    LEASE_SECONDS,
    LOCK_NAME,
    DataStore,
    Manifest,
    NamedFiles,
    sha256_of,
)

# What a local path written into a view may contain (DuckDB cannot bind a parameter inside
# CREATE VIEW, so the path is SQL text: no quote, space or other character may get there).
_PLAIN_PATH = re.compile(r"(/[A-Za-z0-9._=+-]+)+")

SCRATCH = ".tmp-"  # a folder being written: parts/.tmp-<key>-<id>
STALE = ".stale-"  # a folder being replaced: parts/.stale-<key>-<id>


class LocalData(DataStore):
    """A folder on a local (or shared network) file system."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.location = str(self.root)

    def __repr__(self) -> str:
        return f"LocalData({self.location!r})"

    def path(self, name: str) -> Path:
        return self.root / name if name else self.root

    def local_path(self, name: str) -> Path:
        return self.path(name)

    def url(self, name: str) -> str:
        return str(self.path(name))

    def prepare(self, folder: str) -> None:
        self.path(folder).mkdir(parents=True, exist_ok=True)

    def read_text(self, name: str) -> str | None:
        try:
            return self.path(name).read_text("utf-8")
        except FileNotFoundError:
            return None

    def write_text(self, name: str, text: str) -> None:
        try:
            atomic.write_text(self.path(name), text)
        except OSError as exc:
            raise StorageError(f"cannot write {self.url(name)!r} ({exc}); free space or fix "
                               "the folder's permissions and run again") from exc

    def listing(self, folder: str) -> dict[str, tuple[int, str]]:
        base = self.path(folder)
        found: dict[str, tuple[int, str]] = {}
        for root, _folders, names in os.walk(base):  # (nothing for a missing folder)
            relative = Path(root).relative_to(base).as_posix()
            for name in names:
                try:
                    if not stat.S_ISREG((status := os.stat(os.path.join(root, name))).st_mode):
                        continue
                except FileNotFoundError:  # a dangling link, or deleted meanwhile
                    continue
                found[name if relative == "." else f"{relative}/{name}"] = (
                    status.st_size, f"mtime_ns:{status.st_mtime_ns}")
        return dict(sorted(found.items(), key=lambda item: item[0].split("/")))  # path order

    def put_file(self, local: Path, name: str, sha256: str) -> None:
        target = self.path(name)
        try:
            with atomic.atomic_path(target) as temporary:
                shutil.copyfile(local, temporary)
                if sha256_of(temporary) != sha256:
                    raise StorageError(f"{str(local)!r} changed while it was copied to "
                                       f"{self.url(name)!r}; run again")
        except OSError as exc:
            raise StorageError(f"cannot copy {str(local)!r} to {self.url(name)!r} ({exc}); "
                               "free space and run again") from exc

    def has_file(self, name: str, size: int, sha256: str, mtime_ns: int | None = None) -> bool:
        """Size and modification time as recorded: no read (a file rewritten in place has a
        new mtime); otherwise (copied, touched) the SHA-256 decides."""
        path = self.path(name)
        try:
            status = path.stat()
            if status.st_size != size:
                return False
            return status.st_mtime_ns == mtime_ns or sha256_of(path) == sha256
        except OSError:
            return False

    def delete(self, names: Iterable[str]) -> None:
        for name in names:
            self.path(name).unlink(missing_ok=True)

    def delete_tree(self, folder: str) -> None:
        shutil.rmtree(self.path(folder), ignore_errors=True)

    def write_bytes(self, name: str, data: bytes) -> None:
        path = self.path(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            raise StorageError(f"cannot write {self.url(name)!r} ({exc}); free space or fix "
                               "the folder's permissions and run again") from exc

    def _read_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> list[bytes]:
        # one file open at a time (a call may ask for thousands), kept open for the next
        # range when it is of the same file
        found = []
        opened: tuple[str, int] | None = None
        try:
            for name, start, stop in ranges:
                if opened is None or opened[0] != name:
                    if opened is not None:
                        os.close(opened[1])
                        opened = None  # (closed: not again if the next open fails)
                    opened = name, self._open(name)
                found.append(self._read_range(opened[1], name, start, stop))
        finally:
            if opened is not None:
                os.close(opened[1])
        return found

    def _open(self, name: str) -> int:
        try:
            return os.open(self.path(name), os.O_RDONLY)
        except OSError as exc:
            raise self._unreadable(name, exc) from exc

    def _read_range(self, descriptor: int, name: str, start: int, stop: int) -> bytes:
        try:
            data = os.pread(descriptor, stop - start, start) if stop > start else b""
        except OSError as exc:
            raise self._unreadable(name, exc) from exc
        return data

    def _unreadable(self, name: str, exc: OSError) -> StorageError:
        return StorageError(f"cannot read {self.url(name)!r} ({exc.strerror}); check the data "
                            "folder and run again")

    def write_parquet(self, frame: pl.DataFrame, name: str, **options: Any) -> None:
        self.path(name).parent.mkdir(parents=True, exist_ok=True)
        super().write_parquet(frame, name, **options)

    def sink_parquet(self, frame: pl.LazyFrame, name: str, **options: Any) -> None:
        self.path(name).parent.mkdir(parents=True, exist_ok=True)
        super().sink_parquet(frame, name, **options)

    def view_literal(self, name: str) -> str:
        path = self.url(name)
        if not _PLAIN_PATH.fullmatch(path):
            raise ConfigError(
                f"{path!r} cannot be written into a view: only paths of letters, digits and "
                ". _ = + - between slashes can; move the data folder to a plainer path or use "
                "database = 'tables'"
            )
        return f"'{path}'"

    # -- atomic folders ---------------------------------------------------------------
    def begin_folder(self, folder: str) -> Path:
        final = self.path(folder)
        final.parent.mkdir(parents=True, exist_ok=True)
        scratch = final.parent / f"{SCRATCH}{final.name}-{uuid.uuid4().hex[:8]}"
        scratch.mkdir()
        return scratch

    def commit_folder(self, scratch: Path, folder: str, files: Mapping[str, str],
                      manifest_name: str, manifest: Manifest) -> None:
        atomic.write_text(scratch / manifest_name, manifest(""))
        final = self.path(folder)
        if final.exists():  # an earlier commit (an older version of the input)
            stale = final.parent / f"{STALE}{final.name}-{uuid.uuid4().hex[:8]}"
            final.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        scratch.rename(final)
        atomic.fsync_path(final.parent)

    def abandon_folder(self, scratch: Path) -> None:
        shutil.rmtree(scratch, ignore_errors=True)

    def sweep_folders(self, parent: str, manifest_name: str, named: NamedFiles) -> int:
        root = self.path(parent)
        leftovers = [p for p in root.iterdir()
                     if p.name.startswith((SCRATCH, STALE))] if root.is_dir() else []
        for leftover in leftovers:
            shutil.rmtree(leftover, ignore_errors=True)
        return len(leftovers)

    # -- graphs -----------------------------------------------------------------------
    def new_graph_folder(self) -> str:
        return f".graph-tmp-{uuid.uuid4().hex[:8]}"

    def install_graph(self, folder: str) -> str:
        target = self.path("graph")
        if target.exists():
            old = self.path(f".graph-old-{uuid.uuid4().hex[:8]}")
            target.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        self.path(folder).rename(target)
        atomic.fsync_path(self.root)
        return "graph"

    def current_graph(self) -> str | None:
        return "graph" if self.path("graph").is_dir() else None

    def sweep_graphs(self) -> int:
        leftovers = [p for p in self.root.glob(".graph-*")
                     if p.name.startswith((".graph-tmp-", ".graph-old-"))]
        for leftover in leftovers:
            shutil.rmtree(leftover, ignore_errors=True)
        return len(leftovers)

    # -- the lock ---------------------------------------------------------------------
    def lock(self, lease_seconds: float = LEASE_SECONDS) -> AbstractContextManager[None]:
        return self._flock()

    @contextmanager
    def _flock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise DataFolderBusy(
                    f"another `backlinks run` is using the data folder {self.location!r}; "
                    "wait for it to finish, or give this run another --data"
                ) from exc
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

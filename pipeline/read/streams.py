"""Open a byte stream per input: a local path, an http(s):// URL or an s3:// URL.

Readers downstream take a binary file object and never open paths or URLs themselves.
Remote inputs are streamed (see remote.py): never downloaded to disk, resumed after a
dropped connection, retried when throttled. ``fingerprint`` names the version of an input
(size plus mtime, or size plus ETag) so that a part made from another version is redone.

Progress: when ``BACKLINKS_PROGRESS_DIR`` names a folder (the CLI sets it for its worker
processes), every open input writes ``<folder>/<key>.json`` with its bytes read, its size and
its retries, at most every PROGRESS_SECONDS (an atomic rename of a few hundred bytes: the
reader never sees half a file, and the cost is nothing next to parsing). The CLI polls the
folder for its live display; any runner on this machine (a process pool, a local Dask
cluster) reports the same way. Retries are announced there too, or to the listener given
to :func:`announcing_retries` in the CLI's own process.
"""

from __future__ import annotations

import errno
import io
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from pipeline.config import Settings
from pipeline.errors import InputError, InputNotFound, InputUnavailable
from pipeline.read.remote import (
    HttpStore,
    ObjectInfo,
    ResumableStream,
    Retrier,
    RetryPolicy,
    S3Store,
)
from pipeline.read.sources import InputFile

_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EINTR, errno.EIO, errno.ETIMEDOUT, errno.EBUSY}
REMOTE_SCHEMES = ("http", "https", "s3")
READ_BUFFER_BYTES = 1 << 20
PROGRESS_DIR_ENV = "BACKLINKS_PROGRESS_DIR"
PROGRESS_SECONDS = 0.5
MAX_RETRY_NOTES = 20
AWS_S3_ENDPOINT = "https://s3.amazonaws.com"

_announcers: list[Callable[[str], None]] = []


@contextmanager
def announcing_retries(listener: Callable[[str], None]) -> Iterator[None]:
    """Tell ``listener`` of each retry of a remote read in this process, during the block
    ("data.commoncrawl.org/...paths.gz: retry 2 in 2 s: throttled: HTTP 503")."""
    _announcers.append(listener)
    try:
        yield
    finally:
        _announcers.remove(listener)


class ProgressFile:
    """The progress of one input, as the CLI reads it: ``<folder>/<key>.json``. Retries noted
    before (the lookup of a remote input's size) are kept."""

    def __init__(self, folder: str, source: InputFile, size: int) -> None:
        self.path = Path(folder) / f"{source.key}.json"
        self._temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        before: dict[str, Any] = {}
        try:
            before = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            pass
        self.state: dict[str, Any] = {
            "input": source.uri, "size": size, "read": 0, "started": time.time(),
            "retries": int(before.get("retries", 0)), "notes": list(before.get("notes", [])),
            "done": False,
        }
        self._written = 0.0
        self.write()

    def advance(self, count: int) -> None:
        self.state["read"] += count
        if time.monotonic() - self._written >= PROGRESS_SECONDS:
            self.write()

    def retry(self, message: str) -> None:
        self.state["retries"] += 1
        self.state["notes"] = [*self.state["notes"], message][-MAX_RETRY_NOTES:]
        self.write()

    def finish(self) -> None:
        self.state["done"] = True
        self.write()

    def write(self) -> None:
        self._written = time.monotonic()
        self.state["updated"] = time.time()
        try:
            self._temporary.write_text(json.dumps(self.state), "utf-8")
            os.replace(self._temporary, self.path)
        except OSError:  # the CLI removed its folder (it stopped): progress is not the work
            pass


def read_progress_file(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """One input's progress, or None if it cannot be read just now."""
    try:
        state = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def read_progress(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every input's progress in ``folder``, by file name."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    found = (read_progress_file(Path(folder, name)) for name in names
             if not name.startswith(".") and name.endswith(".json"))
    return [state for state in found if state is not None]


class _Counted(io.RawIOBase):
    """A raw stream that tells a ProgressFile how many bytes were read from it."""

    def __init__(self, raw: io.RawIOBase, progress: ProgressFile) -> None:
        super().__init__()
        self.raw, self.progress = raw, progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.raw.readinto(buffer) or 0
        self.progress.advance(count)
        return count

    def close(self) -> None:
        if not self.closed:
            self.progress.finish()
            self.raw.close()
        super().close()


def _progress_file(source: InputFile, size: int) -> ProgressFile | None:
    folder = os.environ.get(PROGRESS_DIR_ENV)
    return ProgressFile(folder, source, size) if folder and os.path.isdir(folder) else None


def _announce(uri: str, message: str) -> None:
    """To the listeners of this process; else, in a worker, to the input's progress file."""
    if _announcers:
        for listener in list(_announcers):
            listener(message)
        return
    folder = os.environ.get(PROGRESS_DIR_ENV)
    if folder and os.path.isdir(folder):
        ProgressFile(folder, InputFile(uri), 0).retry(message)


@dataclass(frozen=True)
class Fingerprint:
    """What identifies one version of an input: a part made from another version is stale."""

    size: int
    version: str


@dataclass
class OpenedInput:
    """An open input and the counters of what reading it took (retries by kind)."""

    stream: BinaryIO
    counters: Counter[str] = field(default_factory=Counter)

    def __enter__(self) -> OpenedInput:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stream.close()


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        timeout_seconds=settings.timeout_seconds,
        initial_seconds=settings.retry_initial_seconds,
        budget_seconds=settings.retry_seconds,
    )


def retrier_for(
    uri: str, settings: Settings, counters: Counter[str] | None = None,
    announce: Callable[[str], None] | None = None,
) -> Retrier:
    """A Retrier for ``uri``: its hint names the settings that point at that server, and its
    retries are announced (to ``announce``, else to the listeners of announcing_retries)."""
    if uri.startswith("s3://"):
        hint, host = "see --s3-endpoint-url / --source", settings.s3_endpoint_url or AWS_S3_ENDPOINT
    elif uri.startswith(settings.index_url.rstrip("/")):
        hint, host = "see --index-url", ""
    else:
        hint, host = "see --https-base-url / --source", ""
    name = uri.rstrip("/").rsplit("/", 1)[-1]

    def tell(message: str) -> None:
        if announce is not None:
            announce(f"{name}: {message}")
        else:
            _announce(uri, f"{name}: {message}")

    found = Retrier(uri, retry_policy(settings), hint=hint, host=host, announce=tell)
    if counters is not None:
        found.counters = counters
    return found


@lru_cache(maxsize=8)
def _http_store(policy: RetryPolicy) -> HttpStore:
    return HttpStore(policy)


@lru_cache(maxsize=8)
def _s3_store(policy: RetryPolicy, endpoint_url: str) -> S3Store:
    return S3Store(policy, endpoint_url)


def store_for(uri: str, settings: Settings) -> HttpStore | S3Store:
    """The store that serves a remote URI (one per process and settings, reused)."""
    policy = retry_policy(settings)
    if uri.startswith("s3://"):
        return _s3_store(policy, settings.s3_endpoint_url)
    return _http_store(policy)


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0].lower() if "://" in uri else ""


def _check_scheme(source: InputFile) -> str:
    scheme = _scheme(source.uri)
    if scheme and scheme not in REMOTE_SCHEMES:
        raise InputError(
            source.uri, f"{scheme}:// inputs are not supported; use a path, https:// or s3://"
        )
    return scheme


def remote_info(source: InputFile, settings: Settings, retrier: Retrier | None = None) -> ObjectInfo:
    store = store_for(source.uri, settings)
    retrier = retrier or retrier_for(source.uri, settings)
    return retrier.call(lambda: store.info(source.uri))


def fingerprint(
    source: InputFile, settings: Settings, counters: Counter[str] | None = None
) -> Fingerprint:
    """Size and version of the input; retries of a remote lookup are added to ``counters``."""
    if _check_scheme(source):
        info = remote_info(source, settings, retrier_for(source.uri, settings, counters))
        return Fingerprint(size=info.size, version=info.version)
    try:
        status = os.stat(source.uri)
    except FileNotFoundError as exc:
        raise InputNotFound(source.uri, "no such file; check the path or glob") from exc
    except OSError as exc:
        raise InputUnavailable(source.uri, f"cannot read it: {exc.strerror}") from exc
    return Fingerprint(size=status.st_size, version=f"mtime_ns:{status.st_mtime_ns}")


def open_stream(
    source: InputFile, settings: Settings, known: Fingerprint | None = None
) -> OpenedInput:
    """Open the input for reading; use as a context manager (it closes the stream).

    ``known``: the fingerprint just taken, which saves a remote input a second request.
    """
    if _check_scheme(source):
        progress: ProgressFile | None = None
        reads = retrier_for(source.uri, settings, announce=lambda message: (
            progress.retry(message) if progress is not None else _announce(source.uri, message)))
        if known is not None:
            info = ObjectInfo(size=known.size, version=known.version)
        else:
            info = remote_info(source, settings, reads)
        progress = _progress_file(source, info.size)
        raw: io.RawIOBase = ResumableStream(store_for(source.uri, settings), source.uri, reads,
                                            info)
        if progress is not None:
            raw = _Counted(raw, progress)
        return OpenedInput(io.BufferedReader(raw, READ_BUFFER_BYTES), reads.counters)
    try:
        if os.environ.get(PROGRESS_DIR_ENV):
            local = open(source.uri, "rb", buffering=0)
            progress = _progress_file(source, os.fstat(local.fileno()).st_size)
            if progress is not None:
                return OpenedInput(io.BufferedReader(_Counted(local, progress), READ_BUFFER_BYTES))
            local.close()
        return OpenedInput(open(source.uri, "rb"))
    except FileNotFoundError as exc:
        raise InputNotFound(source.uri, "no such file; check the path or glob") from exc
    except IsADirectoryError as exc:
        raise InputError(source.uri, "is a folder, not a WARC file") from exc
    except PermissionError as exc:
        raise InputError(source.uri, "permission denied; make the file readable") from exc
    except OSError as exc:
        if exc.errno in _TRANSIENT_ERRNOS:
            raise InputUnavailable(source.uri, f"cannot read it: {exc.strerror}") from exc
        raise InputError(source.uri, f"cannot open it: {exc.strerror}") from exc


def read_small(uri: str, settings: Settings, counters: Counter[str] | None = None) -> bytes:
    """A whole small remote object (a paths file, collinfo.json), with retries."""
    store = store_for(uri, settings)
    return retrier_for(uri, settings, counters).call(lambda: store.get_bytes(uri))

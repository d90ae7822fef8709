"""Open a byte stream per input: a local path, an http(s):// URL or an s3:// URL.

Readers downstream take a binary file object and never open paths or URLs themselves.
Remote inputs are streamed (see remote.py): never downloaded to disk, resumed after a
dropped connection, retried when throttled. ``fingerprint`` names the version of an input
(size plus mtime, or size plus ETag) so that a part made from another version is redone.
"""

from __future__ import annotations

import errno
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import BinaryIO

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
    retrier = retrier or Retrier(source.uri, retry_policy(settings))
    return retrier.call(lambda: store.info(source.uri))


def fingerprint(
    source: InputFile, settings: Settings, counters: Counter[str] | None = None
) -> Fingerprint:
    """Size and version of the input; retries of a remote lookup are added to ``counters``."""
    if _check_scheme(source):
        retrier = Retrier(source.uri, retry_policy(settings))
        if counters is not None:
            retrier.counters = counters
        info = remote_info(source, settings, retrier)
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
        retrier = Retrier(source.uri, retry_policy(settings))
        if known is not None:
            info = ObjectInfo(size=known.size, version=known.version)
        else:
            info = remote_info(source, settings, retrier)
        raw = ResumableStream(store_for(source.uri, settings), source.uri, retrier, info)
        return OpenedInput(io.BufferedReader(raw, READ_BUFFER_BYTES), retrier.counters)
    try:
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
    retrier = Retrier(uri, retry_policy(settings))
    if counters is not None:
        retrier.counters = counters
    return retrier.call(lambda: store.get_bytes(uri))

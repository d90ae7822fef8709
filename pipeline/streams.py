"""Open a byte stream per input. Local files today; HTTPS and S3 slot in here later.

Readers downstream take a binary file object and never open paths themselves.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import BinaryIO

from pipeline.errors import InputError, InputNotFound, InputUnavailable
from pipeline.sources import InputFile

_TRANSIENT_ERRNOS = {errno.EAGAIN, errno.EINTR, errno.EIO, errno.ETIMEDOUT, errno.EBUSY}


@dataclass(frozen=True)
class Fingerprint:
    """What identifies one version of an input: a part made from another version is stale."""

    size: int
    mtime_ns: int


def _local_path(source: InputFile) -> str:
    if "://" in source.uri:
        scheme = source.uri.split("://", 1)[0]
        raise InputError(
            source.uri,
            f"{scheme}:// inputs are not supported yet; download the file and pass its path",
        )
    return source.uri


def fingerprint(source: InputFile) -> Fingerprint:
    path = _local_path(source)
    try:
        status = os.stat(path)
    except FileNotFoundError as exc:
        raise InputNotFound(source.uri, "no such file; check the path or glob") from exc
    except OSError as exc:
        raise InputUnavailable(source.uri, f"cannot read it: {exc.strerror}") from exc
    return Fingerprint(size=status.st_size, mtime_ns=status.st_mtime_ns)


def open_stream(source: InputFile) -> BinaryIO:
    """Open the input for reading; the caller closes it."""
    path = _local_path(source)
    try:
        return open(path, "rb")
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

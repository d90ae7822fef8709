"""One `backlinks run` at a time per data location.

Local folder: the run holds an exclusive ``flock`` on ``<data_dir>/.lock`` from start to
publish. The kernel drops the lock when the process dies, ``kill -9`` included, so a killed
run never leaves the folder locked.

S3 prefix: there is no flock, so the run holds a lease, the object ``<prefix>/.lock``
(owner, host, pid, expiry), created only if absent (``If-None-Match: *``) and renewed every
third of ``LEASE_SECONDS`` by a background thread (``If-Match`` its own ETag, so two runs
can never both believe they hold it). A killed run stops renewing: its lease expires and the
next run takes it over, at most ``LEASE_SECONDS`` later (at once on the same machine, where
a dead holder's pid can be checked).

A second run fails at once with DataFolderBusy instead of sweeping the first run's temporary
files or interleaving its parts.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.errors import DataFolderBusy, PartError
from pipeline.storage import DataStore, LocalData, S3Data, as_store

LOCK_NAME = ".lock"
LEASE_SECONDS = 60.0
logger = logging.getLogger(__name__)


@contextmanager
def data_folder_lock(
    data_dir: DataStore | Path, lease_seconds: float = LEASE_SECONDS
) -> Iterator[None]:
    """Hold the data location's lock, or raise DataFolderBusy if another run holds it."""
    store = as_store(data_dir)
    if isinstance(store, S3Data):
        with _s3_lease(store, lease_seconds):
            yield
        return
    assert isinstance(store, LocalData)
    store.root.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(store.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DataFolderBusy(
                f"another `backlinks run` is using the data folder {store.location!r}; wait "
                "for it to finish, or give this run another --data"
            ) from exc
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


@contextmanager
def _s3_lease(store: S3Data, lease_seconds: float) -> Iterator[None]:
    from botocore.exceptions import ClientError

    client, key = store.client, store.key(LOCK_NAME)
    owner = {"owner": uuid.uuid4().hex, "host": socket.gethostname(), "pid": os.getpid()}

    def body() -> bytes:
        return json.dumps({**owner, "expires": time.time() + lease_seconds}).encode()

    try:
        etag = client.put_object(Bucket=store.bucket, Key=key, Body=body(),
                                 IfNoneMatch="*")["ETag"]
    except ClientError as exc:
        if _code(exc) not in {"PreconditionFailed", "ConditionalRequestConflict"}:
            raise PartError(f"cannot take the lock {store.url(LOCK_NAME)!r} ({exc}); check "
                            "--data, credentials and data_endpoint_url") from exc
        etag = _take_over_expired(store, key, body)
    stop = threading.Event()
    state = {"etag": etag}

    def renew() -> None:
        while not stop.wait(lease_seconds / 3):
            try:
                state["etag"] = client.put_object(
                    Bucket=store.bucket, Key=key, Body=body(), IfMatch=state["etag"])["ETag"]
            except ClientError as exc:  # lost (taken over after a long stall) or unreachable
                logger.warning("could not renew the lock %s: %s", store.url(LOCK_NAME), exc)

    renewer = threading.Thread(target=renew, name="data-lock-lease", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        try:
            client.delete_object(Bucket=store.bucket, Key=key, IfMatch=state["etag"])
        except ClientError as exc:  # someone else's by now: leave it
            logger.warning("did not release the lock %s: %s", store.url(LOCK_NAME), exc)


def _dead_here(holder: dict[str, Any]) -> bool:
    """Whether the holder was a process of this machine that no longer exists (a run killed
    here need not wait for its lease to expire)."""
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists, someone else's
    return False


def _take_over_expired(store: S3Data, key: str, body: Any) -> str:
    """The lock exists: take it if its lease expired or its holder died on this machine (a
    killed run), else DataFolderBusy."""
    from botocore.exceptions import ClientError

    client = store.client
    try:
        current = client.get_object(Bucket=store.bucket, Key=key)
        holder = json.loads(current["Body"].read())
        expires = float(holder.get("expires", 0))
    except (ClientError, ValueError, TypeError, AttributeError):
        holder, expires, current = {}, 0.0, None
    if current is not None and expires > time.time() and not _dead_here(holder):
        until = datetime.fromtimestamp(expires, UTC).strftime("%H:%M:%S UTC")
        raise DataFolderBusy(
            f"another `backlinks run` (on {holder.get('host', '?')}, pid "
            f"{holder.get('pid', '?')}) holds the data location {store.location!r}; its lease "
            f"runs to {until} and is renewed while it runs. Wait for it to finish, or give "
            "this run another --data (a killed run's lease simply expires)"
        )
    try:
        condition = {"IfMatch": current["ETag"]} if current is not None else {"IfNoneMatch": "*"}
        return str(client.put_object(Bucket=store.bucket, Key=key, Body=body(),
                                     **condition)["ETag"])
    except ClientError as exc:  # another run took it over first
        raise DataFolderBusy(
            f"another `backlinks run` just took the data location {store.location!r}; wait "
            "for it to finish, or give this run another --data"
        ) from exc

"""A data location in S3 (or any S3-compatible store): objects under ``s3://BUCKET/PREFIX/``.

Object stores have no rename, so a thing becomes visible by one PUT:

- a folder (a part): its files are uploaded under a fresh ``<folder>/<write id>/`` and the
  manifest (``part.json``), written last, names them; files no manifest names are leftovers
  of killed writers, swept by the next run;
- a graph: each graph is written under its own ``graphs/<id>/`` and ``graph.json`` points at
  the current one. The previous graph is kept, so that a reader still holding the previous
  database keeps working.

The lock is a lease object ``<prefix>/.lock`` (owner, host, pid, expiry), created only if
absent (``If-None-Match: *``) and renewed every third of the lease by a background thread
(``If-Match`` its own ETag, so two runs can never both believe they hold it). A killed run
stops renewing: its lease expires and the next run takes it over, at most a lease later (at
once on the same machine, where a dead holder's pid can be checked).

Credentials come from the usual AWS places (environment, ``~/.aws``, instance role), read by
boto3 on the machine that uses the store (a pickled store carries its location only) and
handed to Polars and DuckDB here; the endpoint (MinIO, Ceph...) and the region are settings
(``data_endpoint_url``, ``data_region``). This module is the only one that knows boto3:
``public_client`` and ``request_failure`` serve the readers of Common Crawl's bucket too.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import ConfigError, DataFolderBusy, GraphError, LockError, StorageError
from pipeline.scratch import new_scratch, scratch_folder
from pipeline.storage.base import LEASE_SECONDS, LOCK_NAME, DataStore, Manifest, NamedFiles
from pipeline.storage.local import LocalData

GRAPH_POINTER = "graph.json"  # names the current graph folder
# What an S3 prefix may contain: the views of a `database = "views"` file hold these URLs as
# SQL text (DuckDB cannot bind a parameter inside CREATE VIEW), so no quote may get there.
_SAFE_PREFIX = re.compile(r"[A-Za-z0-9._=+-]+(/[A-Za-z0-9._=+-]+)*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
logger = logging.getLogger(__name__)
RANGE_READERS = 10  # ranged GETs at a time: botocore's connection pool holds 10


class S3Data(DataStore):
    """A prefix in an S3 bucket (AWS, or any S3-compatible store at ``endpoint_url``)."""

    def __init__(self, location: str, endpoint_url: str = "", region: str = "us-east-1") -> None:
        self.location = location.rstrip("/")
        self.bucket, self.prefix = split_data_url(self.location)
        self.endpoint_url, self.region = endpoint_url, region or "us-east-1"
        self._connect()

    def _connect(self) -> None:
        """Read this machine's AWS credentials and derive Polars' options from them."""
        self._client: Any = None
        self.credentials = _aws_credentials()  # (key id, secret, token) or None: anonymous
        options = {"aws_region": self.region}
        if self.endpoint_url:
            options["aws_endpoint_url"] = self.endpoint_url
            if self.endpoint_url.startswith("http://"):
                options["aws_allow_http"] = "true"
        if self.credentials:
            options["aws_access_key_id"] = self.credentials[0]
            options["aws_secret_access_key"] = self.credentials[1]
            if self.credentials[2]:
                options["aws_session_token"] = self.credentials[2]
        else:
            options["aws_skip_signature"] = "true"
        self._options = options

    def _polars_options(self) -> dict[str, str]:
        return self._options

    def __repr__(self) -> str:
        return f"S3Data({self.location!r})"

    # Sent to worker processes (task arguments, the aggregation plan) as its location only:
    # no live client and no secrets; each worker reads its own machine's credentials.
    def __getstate__(self) -> dict[str, str]:
        return {"location": self.location, "endpoint_url": self.endpoint_url,
                "region": self.region}

    def __setstate__(self, state: dict[str, str]) -> None:
        self.__init__(state["location"], state["endpoint_url"], state["region"])  # type: ignore[misc]

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()
            self._client = session.client(
                "s3", endpoint_url=self.endpoint_url or None, region_name=self.region,
                config=Config(retries={"mode": "standard", "max_attempts": 5}),
            )
        return self._client

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def url(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"

    def _fail(self, action: str, name: str, exc: Exception) -> StorageError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        hint = (
            "configure AWS credentials with write access (environment or ~/.aws)"
            if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
            or type(exc).__name__ == "NoCredentialsError"
            else f"create the bucket {self.bucket!r}" if code == "NoSuchBucket"
            else "check --data, data_endpoint_url and the network"
        )
        return StorageError(f"cannot {action} {self.url(name)!r} ({code or exc}); {hint}")

    def _errors(self) -> tuple[type[Exception], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    def write_bytes(self, name: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)
        except self._errors() as exc:
            raise self._fail("write", name, exc) from exc

    def _read_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> list[bytes]:
        """A GET with a Range each, RANGE_READERS of them at a time (S3's time is the
        round trip: the pieces of a partition are many small ranges)."""
        client = self.client  # made once, before the threads share it

        def get(name: str, start: int, stop: int) -> bytes:
            if stop <= start:
                return b""
            try:
                return bytes(client.get_object(Bucket=self.bucket, Key=self.key(name),
                                               Range=f"bytes={start}-{stop - 1}")["Body"].read())
            except self._errors() as exc:
                if _code(exc) == "InvalidRange":  # it starts past the end: the file is short
                    return b""
                raise self._fail("read", name, exc) from exc

        if len(ranges) <= 1:
            return [get(*span) for span in ranges]
        with ThreadPoolExecutor(max_workers=min(RANGE_READERS, len(ranges))) as pool:
            return list(pool.map(lambda span: get(*span), ranges))

    def read_text(self, name: str) -> str | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(name))
            return str(response["Body"].read().decode("utf-8"))
        except self._errors() as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise self._fail("read", name, exc) from exc

    def write_text(self, name: str, text: str) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.key(name),
                                   Body=text.encode("utf-8"))
        except self._errors() as exc:
            raise self._fail("write", name, exc) from exc

    def listing(self, folder: str) -> dict[str, tuple[int, str]]:
        prefix = self.key(folder).rstrip("/") + "/" if folder else self.key("")
        found: dict[str, tuple[int, str]] = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    found[item["Key"][len(prefix):]] = (int(item["Size"]),
                                                        f"etag:{item['ETag']}")
        except self._errors() as exc:
            raise self._fail("list", folder, exc) from exc
        return dict(sorted(found.items()))

    def put_file(self, local: Path, name: str, sha256: str) -> None:
        try:
            with open(local, "rb") as body:
                self.client.put_object(  # S3 checks the upload against its SHA-256
                    Bucket=self.bucket, Key=self.key(name), Body=body,
                    ChecksumAlgorithm="SHA256", Metadata={"sha256": sha256},
                )
        except self._errors() as exc:
            raise self._fail("upload", name, exc) from exc

    @contextmanager
    def read_locally(self, names: list[str]) -> Iterator[DataStore]:
        from boto3.exceptions import Boto3Error

        with scratch_folder("partition") as scratch:
            local = LocalData(scratch)
            for name in names:
                local.path(name).parent.mkdir(parents=True, exist_ok=True)
                try:
                    self.client.download_file(self.bucket, self.key(name), str(local.path(name)))
                except (*self._errors(), Boto3Error) as exc:  # the transfer's own failures too
                    raise self._fail("download", name, exc) from exc
            yield local

    def has_file(self, name: str, size: int, sha256: str, mtime_ns: int | None = None) -> bool:
        """Checked with S3's own SHA-256 of the object (computed at upload): no download.
        A store that keeps no checksums is trusted on the size and the digest recorded in
        the object's metadata at upload."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(name),
                                           ChecksumMode="ENABLED")
        except self._errors():
            return False
        if int(head["ContentLength"]) != size:
            return False
        stored = head.get("ChecksumSHA256")
        if stored and "-" not in stored:  # a whole-object checksum (not of multipart parts)
            return bool(stored == base64.b64encode(bytes.fromhex(sha256)).decode())
        return bool(head.get("Metadata", {}).get("sha256") == sha256)

    def delete(self, names: Iterable[str]) -> None:
        keys = [{"Key": self.key(name)} for name in names]
        try:
            for start in range(0, len(keys), 1000):
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys[start:start + 1000]})
        except self._errors() as exc:
            raise self._fail("delete", keys[0]["Key"], exc) from exc

    def delete_tree(self, folder: str) -> None:
        self.delete(f"{folder}/{name}" for name in self.files(folder))

    def local_path(self, name: str) -> Path:
        raise StorageError(f"{self.url(name)!r} is in S3, not a local file; use a local "
                           "--data folder to look inside parts")

    def configure_duckdb(self, con: Any) -> None:
        configure_duckdb(con, self)

    def describe(self) -> tuple[str, str, str]:
        return self.location, self.endpoint_url, self.region

    def view_literal(self, name: str) -> str:
        return quoted_url(self.url(name))

    # -- atomic folders: files under <folder>/<write id>/, the manifest last ------------
    def begin_folder(self, folder: str) -> Path:
        return new_scratch("upload")

    def commit_folder(self, scratch: Path, folder: str, files: Mapping[str, str],
                      manifest_name: str, manifest: Manifest) -> None:
        write_id = uuid.uuid4().hex[:12]
        try:
            for name, sha256 in files.items():
                self.put_file(scratch / name, f"{folder}/{write_id}/{name}", sha256)
            self.write_text(f"{folder}/{manifest_name}", manifest(f"{write_id}/"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        stale = [f"{folder}/{name}" for name in self.files(folder)
                 if name != manifest_name and not name.startswith(f"{write_id}/")]
        self.delete(stale)  # the files of an earlier commit

    def abandon_folder(self, scratch: Path) -> None:
        shutil.rmtree(scratch, ignore_errors=True)

    def sweep_folders(self, parent: str, manifest_name: str, named: NamedFiles) -> int:
        by_key: dict[str, list[str]] = {}
        for name in self.files(parent):
            key, _, rest = name.partition("/")
            by_key.setdefault(key, []).append(rest)
        unnamed: list[str] = []
        for key, names in sorted(by_key.items()):
            if manifest_name not in names:  # a first upload that never finished
                unnamed += [f"{parent}/{key}/{name}" for name in names]
                continue
            kept = named(key)
            if kept is None:
                continue  # unreadable: the reader reports it; nothing is deleted
            keep = set(kept) | {manifest_name}
            unnamed += [f"{parent}/{key}/{name}" for name in names if name not in keep]
        self.delete(unnamed)
        return len(unnamed)

    def lock(self, lease_seconds: float = LEASE_SECONDS) -> AbstractContextManager[None]:
        return _s3_lease(self, lease_seconds)

    def new_graph_folder(self) -> str:
        return f"graphs/{uuid.uuid4().hex[:12]}"

    def _pointer(self) -> dict[str, Any]:
        text = self.read_text(GRAPH_POINTER)
        try:
            return dict(json.loads(text)) if text else {}
        except ValueError as exc:
            raise GraphError(f"{self.url(GRAPH_POINTER)!r} is not valid JSON ({exc}); delete "
                            "it and run again (the graph is rebuilt)") from exc

    def install_graph(self, folder: str) -> str:
        pointer = self._pointer()
        self.write_text(GRAPH_POINTER, json.dumps(
            {"graph": folder, "previous": pointer.get("graph")}, indent=1))
        retired = pointer.get("previous")  # two graphs back: no published database uses it
        if retired and retired != folder:
            self.delete_tree(str(retired))
        return folder

    def current_graph(self) -> str | None:
        graph = self._pointer().get("graph")
        return str(graph) if graph else None

    def sweep_graphs(self) -> int:
        pointer = self._pointer()
        keep = {pointer.get("graph"), pointer.get("previous")}
        folders = {f"graphs/{name.split('/')[0]}" for name in self.files("graphs")}
        stale = sorted(folders - keep)
        for folder in stale:
            self.delete_tree(folder)
        return len(stale)


def _aws_credentials() -> tuple[str, str, str | None] | None:
    """(key id, secret, session token) from boto3's usual chain, or None (anonymous)."""
    import boto3

    credentials = boto3.session.Session().get_credentials()
    if credentials is None:
        return None
    frozen = credentials.get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token


def split_data_url(location: str) -> tuple[str, str]:
    """'s3://bucket/some/prefix' -> ('bucket', 'some/prefix'), checked."""
    parts = urlsplit(location)
    prefix = parts.path.strip("/")
    if parts.scheme != "s3" or not _BUCKET.fullmatch(parts.netloc or ""):
        raise ConfigError(
            f"data_dir {location!r} is not an S3 location; write it as s3://BUCKET/PREFIX "
            "(a bucket name of lower-case letters, digits, dots and dashes) or give a local path"
        )
    if prefix and not _SAFE_PREFIX.fullmatch(prefix) or parts.query or parts.fragment:
        raise ConfigError(
            f"data_dir {location!r}: the prefix may hold only letters, digits and . _ = + - "
            "between slashes; choose a plainer prefix"
        )
    return parts.netloc, prefix


def is_object_location(location: str) -> bool:
    return location.startswith("s3://")


def configure_duckdb(con: Any, store: S3Data) -> None:
    """Let a DuckDB connection read ``store``'s URLs: load httpfs (from the
    ``duckdb-extension-httpfs`` package: nothing is downloaded) and set the endpoint, region
    and credentials, all as bound values."""
    load_httpfs(con)
    settings: dict[str, Any] = {"s3_region": store.region}
    if store.endpoint_url:
        endpoint = urlsplit(store.endpoint_url)
        settings.update(s3_endpoint=endpoint.netloc, s3_use_ssl=endpoint.scheme == "https",
                        s3_url_style="path")
    if store.credentials:
        settings.update(s3_access_key_id=store.credentials[0],
                        s3_secret_access_key=store.credentials[1])
        if store.credentials[2]:
            settings["s3_session_token"] = store.credentials[2]
    for name, value in settings.items():
        con.execute(f"set {name} = ?", [value])


def load_httpfs(con: Any) -> None:
    try:
        import duckdb_extension_httpfs
    except ImportError as exc:
        raise ConfigError(
            "reading s3:// data from DuckDB needs the httpfs extension: install the package "
            "duckdb-extension-httpfs (it is in cc-backlinks' dependencies; reinstall)"
        ) from exc
    folder = Path(duckdb_extension_httpfs.__file__).parent / "extensions"
    found = sorted(folder.glob("*/httpfs.duckdb_extension"))
    if not found:
        raise ConfigError(f"no httpfs.duckdb_extension under {str(folder)!r}; reinstall "
                          "duckdb-extension-httpfs")
    con.load_extension(str(found[-1]))


_PLAIN_URL = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._=+-]+)+")


def quoted_url(url: str) -> str:
    """An s3:// URL as a SQL string literal, for the one place DuckDB cannot bind a value
    (inside CREATE VIEW). Only URLs of plain characters pass (split_data_url allows nothing
    else in a data location); anything else is refused, never escaped."""
    if not _PLAIN_URL.fullmatch(url):
        raise ConfigError(
            f"{url!r} cannot be written into a view: only s3:// URLs of letters, digits and "
            ". _ = + - between slashes can; choose a plainer data location"
        )
    return f"'{url}'"


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
            raise LockError(f"cannot take the lock {store.url(LOCK_NAME)!r} ({exc}); check "
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


# -- reading public buckets (Common Crawl's): the input readers' side of boto3 -------------

def public_client(endpoint_url: str, timeout_seconds: float) -> Any:
    """An S3 client for reading a public bucket: signed when this machine has AWS
    credentials, anonymous otherwise; no retries of its own (the reader's are counted)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    session = boto3.session.Session()
    signed = session.get_credentials() is not None
    config = Config(
        connect_timeout=timeout_seconds,
        read_timeout=timeout_seconds,
        retries={"total_max_attempts": 1},
        **({} if signed else {"signature_version": UNSIGNED}),
    )
    return session.client(
        "s3", endpoint_url=endpoint_url or None, region_name="us-east-1", config=config
    )


def request_errors() -> tuple[type[Exception], ...]:
    """What an S3 request can raise: the exceptions a reader catches and classifies."""
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import HTTPError

    return (BotoCoreError, ClientError, HTTPError, OSError)


def classify_failure(exc: Exception) -> tuple[str, str, int, str]:
    """(kind, error code, HTTP status, message) of a failed S3 request; kind is
    ``response`` (S3 answered with an error), ``timeout``, ``connect`` or ``dropped``."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        return "response", str(error.get("Code", "")), status, str(error.get("Message", ""))
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError) or "Timeout" in type(exc).__name__:
        return "timeout", "", 0, f"{type(exc).__name__}: {exc}"
    if isinstance(exc, EndpointConnectionError):
        return "connect", "", 0, f"{type(exc).__name__}: {exc}"
    return "dropped", "", 0, f"{type(exc).__name__}: {exc}"

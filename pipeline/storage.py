"""Where a run keeps its data: a local folder, or a prefix in S3 (or any S3-compatible store).

Everything under the data location is addressed by a relative name (``parts/KEY/part.json``,
``graph/links.parquet``). ``LocalData`` maps names to files under a folder; ``S3Data`` maps
them to objects under ``s3://BUCKET/PREFIX/``. Polars and DuckDB read and write the Parquet
files themselves through ``url(name)`` (with ``polars_options`` and ``configure_duckdb`` for
S3); this module does the rest: small JSON documents, listings, checksums, deletions.

Object stores have no rename, so the two differ in how a thing becomes visible at once:

- a part: locally its folder is renamed into place; in S3 its files are uploaded under a
  fresh ``parts/KEY/<write id>/`` and ``parts/KEY/part.json`` is written last (one PUT is
  atomic), naming them;
- a graph: locally ``graph/`` is replaced by rename; in S3 each graph is written under its
  own ``graphs/<id>/`` and ``graph.json`` (one PUT) points at the current one. The previous
  graph is kept, so that a reader still holding the previous database keeps working.

Credentials for S3 come from the usual AWS places (environment, ``~/.aws``, instance role),
read by boto3 once and passed on to Polars and DuckDB; the endpoint (MinIO, Ceph...) and the
region are settings (``data_endpoint_url``, ``data_region``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from pipeline.errors import ConfigError, PartError

GRAPH_POINTER = "graph.json"  # S3: names the current graph folder
# What an S3 prefix may contain: the views of a `database = "views"` file hold these URLs as
# SQL text (DuckDB cannot bind a parameter inside CREATE VIEW), so no quote may get there.
_SAFE_PREFIX = re.compile(r"[A-Za-z0-9._=+-]+(/[A-Za-z0-9._=+-]+)*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DataStore:
    """The data location of a run (abstract: ``LocalData`` or ``S3Data``)."""

    location: str  # as the user wrote it: for messages
    polars_options: dict[str, str] | None = None

    def url(self, name: str) -> str:
        """What Polars and DuckDB open for ``name``."""
        raise NotImplementedError

    def prepare(self, folder: str) -> None:
        """Make ``folder`` ready to receive files (a local mkdir; nothing in S3)."""

    def read_text(self, name: str) -> str | None:
        """The text of ``name``, or None when it does not exist."""
        raise NotImplementedError

    def write_text(self, name: str, text: str) -> None:
        """Write ``name`` whole or not at all."""
        raise NotImplementedError

    def files(self, folder: str) -> dict[str, int]:
        """Every file under ``folder`` (recursively): name relative to it -> size."""
        raise NotImplementedError

    def put_file(self, local: Path, name: str, sha256: str) -> None:
        """Copy a local file to ``name`` with its SHA-256 (S3; a local part is renamed into
        place instead, see parts.PartWriter)."""
        raise NotImplementedError

    def has_file(self, name: str, size: int, sha256: str) -> bool:
        """Whether ``name`` exists with this size and SHA-256."""
        raise NotImplementedError

    def delete(self, names: Iterable[str]) -> None:
        raise NotImplementedError

    def delete_tree(self, folder: str) -> None:
        raise NotImplementedError

    def new_graph_folder(self) -> str:
        """A fresh folder for a graph being built (not visible as the graph until
        ``install_graph``)."""
        raise NotImplementedError

    def install_graph(self, folder: str) -> str:
        """Make ``folder`` the current graph in one step; return its final name."""
        raise NotImplementedError

    def sweep_graphs(self) -> int:
        """Remove graphs of killed runs and replaced graphs no reader can need; how many."""
        raise NotImplementedError


class LocalData(DataStore):
    """A folder on a local (or shared network) file system."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.location = str(self.root)

    def __repr__(self) -> str:
        return f"LocalData({self.location!r})"

    def path(self, name: str) -> Path:
        return self.root / name if name else self.root

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
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def files(self, folder: str) -> dict[str, int]:
        base = self.path(folder)
        if not base.is_dir():
            return {}
        return {
            path.relative_to(base).as_posix(): path.stat().st_size
            for path in sorted(base.rglob("*")) if path.is_file()
        }

    def has_file(self, name: str, size: int, sha256: str) -> bool:
        path = self.path(name)
        try:
            return path.stat().st_size == size and sha256_of(path) == sha256
        except OSError:
            return False

    def delete(self, names: Iterable[str]) -> None:
        for name in names:
            self.path(name).unlink(missing_ok=True)

    def delete_tree(self, folder: str) -> None:
        shutil.rmtree(self.path(folder), ignore_errors=True)

    def new_graph_folder(self) -> str:
        return f".graph-tmp-{uuid.uuid4().hex[:8]}"

    def install_graph(self, folder: str) -> str:
        target = self.path("graph")
        if target.exists():
            old = self.path(f".graph-old-{uuid.uuid4().hex[:8]}")
            target.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        self.path(folder).rename(target)
        return "graph"

    def sweep_graphs(self) -> int:
        leftovers = [p for p in self.root.glob(".graph-*")
                     if p.name.startswith((".graph-tmp-", ".graph-old-"))]
        for leftover in leftovers:
            shutil.rmtree(leftover, ignore_errors=True)
        return len(leftovers)


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
        self.polars_options = options

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

    def _fail(self, action: str, name: str, exc: Exception) -> PartError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        hint = (
            "configure AWS credentials with write access (environment or ~/.aws)"
            if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
            or type(exc).__name__ == "NoCredentialsError"
            else f"create the bucket {self.bucket!r}" if code == "NoSuchBucket"
            else "check --data, data_endpoint_url and the network"
        )
        return PartError(f"cannot {action} {self.url(name)!r} ({code or exc}); {hint}")

    def _errors(self) -> tuple[type[Exception], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

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

    def files(self, folder: str) -> dict[str, int]:
        prefix = self.key(folder).rstrip("/") + "/" if folder else self.key("")
        found: dict[str, int] = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    found[item["Key"][len(prefix):]] = int(item["Size"])
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

    def has_file(self, name: str, size: int, sha256: str) -> bool:
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

    def new_graph_folder(self) -> str:
        return f"graphs/{uuid.uuid4().hex[:12]}"

    def _pointer(self) -> dict[str, Any]:
        text = self.read_text(GRAPH_POINTER)
        try:
            return dict(json.loads(text)) if text else {}
        except ValueError as exc:
            raise PartError(f"{self.url(GRAPH_POINTER)!r} is not valid JSON ({exc}); delete "
                            "it and run again (the graph is rebuilt)") from exc

    def install_graph(self, folder: str) -> str:
        pointer = self._pointer()
        self.write_text(GRAPH_POINTER, json.dumps(
            {"graph": folder, "previous": pointer.get("graph")}, indent=1))
        retired = pointer.get("previous")  # two graphs back: no published database uses it
        if retired and retired != folder:
            self.delete_tree(str(retired))
        return folder

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


def as_store(data: DataStore | Path | str) -> DataStore:
    """A data store from a store, a local path, or an s3:// URL (default endpoint)."""
    if isinstance(data, DataStore):
        return data
    if isinstance(data, str) and is_object_location(data):
        return S3Data(data)
    return LocalData(Path(data))


def configure_duckdb(con: Any, store: DataStore) -> None:
    """Let a DuckDB connection read ``store``'s URLs: for S3, load httpfs (from the
    ``duckdb-extension-httpfs`` package: nothing is downloaded) and set the endpoint, region
    and credentials, all as bound values."""
    if not isinstance(store, S3Data):
        return
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


@dataclass(frozen=True)
class Folder:
    """A folder of Parquet files in a data store, as Polars reads and writes them."""

    store: DataStore
    name: str

    def name_of(self, file: str) -> str:
        return f"{self.name}/{file}" if self.name else file

    def sub(self, name: str) -> Folder:
        folder = Folder(self.store, self.name_of(name))
        self.store.prepare(folder.name)
        return folder

    def url(self, file: str) -> str:
        return self.store.url(self.name_of(file))

    def scan(self, files: str | list[str]) -> pl.LazyFrame:
        urls = [self.url(files)] if isinstance(files, str) else [self.url(f) for f in files]
        return pl.scan_parquet(urls, storage_options=self.store.polars_options)

    def sink(self, frame: pl.LazyFrame, file: str, **options: Any) -> None:
        frame.sink_parquet(self.url(file), storage_options=self.store.polars_options,
                           **options)

    def write(self, frame: pl.DataFrame, file: str, **options: Any) -> None:
        frame.write_parquet(self.url(file), storage_options=self.store.polars_options,
                            **options)

    def files(self, prefix: str) -> list[str]:
        """Names of the files directly in this folder that start with ``prefix``."""
        return [name for name in self.store.files(self.name)
                if "/" not in name and name.startswith(prefix)]

    def delete(self, *files: str) -> None:
        self.store.delete(self.name_of(file) for file in files)

    def delete_all(self) -> None:
        self.store.delete_tree(self.name)


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

"""The storage interface: everything a run keeps, addressed by relative names.

Everything under the data location is addressed by a relative name (``parts/KEY/part.json``,
``graph/links.parquet``). A backend maps names to where they live: ``LocalData`` (local.py)
to files under a folder, ``S3Data`` (s3.py) to objects under ``s3://BUCKET/PREFIX/``. The
rest of cc-backlinks sees only this interface: no code outside ``pipeline/storage/`` asks
which backend it has, opens a client, or handles credentials.

What the interface offers:

- small documents: ``read_text``, ``write_text`` (whole or not at all), ``files``,
  ``delete``, ``delete_tree``; files: ``put_file``, ``has_file`` (size and SHA-256);
  bytes: ``write_bytes``, ``read_ranges`` (parts of files, as the aggregation's pieces
  are read);
- Parquet through Polars where the data is: ``scan_parquet``, ``sink_parquet``,
  ``write_parquet`` (the backend adds its own options: endpoint, credentials);
- DuckDB: ``configure_duckdb`` lets a connection read ``url(name)``;
- atomic folders: ``begin_folder`` hands out a local scratch folder; ``commit_folder`` makes
  its files the folder in one step, manifest last; ``sweep_folders`` removes what killed
  writers left;
- graphs: ``new_graph_folder``, ``install_graph`` (one step), ``sweep_graphs``;
- the lock: ``lock()``, one run at a time per data location.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.errors import StorageError

LOCK_NAME = ".lock"
LEASE_SECONDS = 60.0


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# The manifest of a folder being committed, given the prefix its files are stored under
# ("" for a local folder, "<write id>/" in S3).
Manifest = Callable[[str], str]
# For a committed folder's key: the file names its manifest names, or None if unreadable.
NamedFiles = Callable[[str], Iterable[str] | None]


class DataStore:
    """The data location of a run (abstract: ``LocalData`` or ``S3Data``)."""

    location: str  # as the user wrote it: for messages

    # -- names and documents --------------------------------------------------------
    def url(self, name: str) -> str:
        """What Polars and DuckDB open for ``name``."""
        raise NotImplementedError

    def local_path(self, name: str) -> Path:
        """The local file of ``name``; StorageError for a location that is not local (tools
        and tests that look inside a part use it)."""
        raise NotImplementedError

    def read_text(self, name: str) -> str | None:
        """The text of ``name``, or None when it does not exist."""
        raise NotImplementedError

    def write_text(self, name: str, text: str) -> None:
        """Write ``name`` whole or not at all."""
        raise NotImplementedError

    def files(self, folder: str) -> dict[str, int]:
        """Every file under ``folder`` (recursively): name relative to it -> size."""
        return {name: size for name, (size, _) in self.listing(folder).items()}

    def listing(self, folder: str) -> dict[str, tuple[int, str]]:
        """``files`` with each file's version as the listing gives it, for free: a local
        file's modification time (a file written again, as a part.json is, has a new one),
        an S3 object's ETag (its content's MD5 for an object of one PUT)."""
        raise NotImplementedError

    def put_file(self, local: Path, name: str, sha256: str) -> None:
        """Copy a local file to ``name``, checked against its SHA-256."""
        raise NotImplementedError

    @contextmanager
    def read_locally(self, names: list[str]) -> Iterator[DataStore]:
        """A store that holds ``names`` on this machine's disk under the same names, for a
        reader that reads them more than once: this store when it is local; a remote one
        copies them to a temporary folder first (deleted at the end), so that each leaves
        the location once."""
        yield self

    def has_file(self, name: str, size: int, sha256: str, mtime_ns: int | None = None) -> bool:
        """Whether ``name`` exists with this size and SHA-256. A backend may trust a
        cheaper proof (a local file's size and modification time as recorded at write,
        S3's own checksum) instead of reading the bytes again."""
        raise NotImplementedError

    def delete(self, names: Iterable[str]) -> None:
        raise NotImplementedError

    def delete_tree(self, folder: str) -> None:
        raise NotImplementedError

    def prepare(self, folder: str) -> None:
        """Make ``folder`` ready to receive files (a local mkdir; nothing in S3)."""

    # -- Parquet and DuckDB -----------------------------------------------------------
    def scan_parquet(self, names: list[str], schema: pl.Schema | None = None) -> pl.LazyFrame:
        """A lazy scan of the Parquet files ``names`` where they are."""
        return pl.scan_parquet([self.url(name) for name in names], schema=schema,
                               storage_options=self._polars_options(), glob=False)

    def read_parquet(self, names: list[str], schema: pl.Schema, keep: pl.Expr | None = None,
                     file_column: str | None = None) -> pl.DataFrame:
        """The Parquet files ``names`` read whole, in one scan (each byte once; Polars
        decodes the files side by side: a query per file cost three times as long, about
        25 ms a file). With ``keep``, only the rows it selects: the filter goes into the
        reader, which decodes the ``keep`` column, then the other columns of the kept rows
        only, so memory holds what is kept and the files being decoded. Filtering a frame
        already read would keep every string of it alive: Polars' filtered string columns
        point into the buffers they came from (a sub-bucket of a 3 M-row partition held the
        whole partition's strings, 590 against 260 MiB). With ``file_column``, a UInt32
        column of that name holds each row's file's position in ``names``."""
        if not names:
            return self._stacked([], self._with_file_column(schema, file_column))
        urls = [self.url(name) for name in names]
        options = self._polars_options()
        rows = pl.scan_parquet(urls, storage_options=options, include_file_paths=file_column,
                               glob=False)  # names, not patterns: a '[' in a path is a '['
        if keep is not None:
            rows = rows.filter(keep)
        if file_column is not None:  # each path back to its position (a strict cast)
            rows = rows.with_columns(
                pl.col(file_column).cast(pl.Enum(urls)).to_physical().cast(pl.UInt32))
        try:
            return rows.collect().cast(schema)
        except pl.exceptions.SchemaError:  # files whose types differ: each cast on its own
            return self._read_each((pl.scan_parquet(url, storage_options=options, glob=False)
                                    for url in urls), schema, keep, file_column)

    def _read_each(self, files: Iterable[pl.LazyFrame], schema: pl.Schema,
                   keep: pl.Expr | None, file_column: str | None) -> pl.DataFrame:
        """``read_parquet`` a file at a time, a query each: each file's rows that ``keep``
        selects, cast to ``schema``, before the next file is opened."""
        frames = []
        for position, file in enumerate(files):
            rows = (file if keep is None else file.filter(keep)).collect().cast(schema)
            if file_column is not None:
                rows = rows.with_columns(pl.lit(position, pl.UInt32).alias(file_column))
            frames.append(rows)
        return self._stacked(frames, self._with_file_column(schema, file_column))

    @staticmethod
    def _with_file_column(schema: pl.Schema, file_column: str | None) -> pl.Schema:
        return schema if file_column is None else pl.Schema({**schema,
                                                             file_column: pl.UInt32()})

    @staticmethod
    def _stacked(frames: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
        return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=schema)

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write ``data`` as the file ``name``, as ``write_parquet`` writes one: a file of a
        folder that becomes visible whole another way (a graph's by ``install_graph``)."""
        raise NotImplementedError

    def read_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> list[bytes]:
        """The bytes ``[start, stop)`` of each ``(name, start, stop)``, in order;
        StorageError when a file is missing or ends before ``stop``."""
        found = self._read_ranges(ranges)
        for (name, start, stop), data in zip(ranges, found, strict=True):
            if len(data) != max(0, stop - start):
                raise StorageError(f"{self.url(name)!r} ends before byte {stop}; it is "
                                   "damaged or was cut short")
        return found

    def _read_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> list[bytes]:
        """``read_ranges`` where the files are: what each range holds, however short (an
        empty range read as no bytes); StorageError when a file cannot be read."""
        raise NotImplementedError

    def sink_parquet(self, frame: pl.LazyFrame, name: str, **options: Any) -> None:
        frame.sink_parquet(self.url(name), storage_options=self._polars_options(), **options)

    def write_parquet(self, frame: pl.DataFrame, name: str, **options: Any) -> None:
        frame.write_parquet(self.url(name), storage_options=self._polars_options(), **options)

    def _polars_options(self) -> dict[str, str] | None:
        return None

    def configure_duckdb(self, con: Any) -> None:
        """Let a DuckDB connection read this location's ``url(name)`` (nothing locally)."""

    def describe(self) -> tuple[str, str, str]:
        """(location, endpoint URL, region): enough to open the location again elsewhere
        (the published database's ``storage`` row)."""
        return self.location, "", ""

    def view_literal(self, name: str) -> str:
        """``url(name)`` as a SQL string literal, for the one place DuckDB cannot bind a
        value (inside CREATE VIEW); ConfigError when the URL is not plain enough."""
        raise NotImplementedError

    # -- atomic folders ---------------------------------------------------------------
    def begin_folder(self, folder: str) -> Path:
        """A new local scratch folder in which ``folder`` is built; nothing of it is
        visible under ``folder`` until ``commit_folder``."""
        raise NotImplementedError

    def commit_folder(self, scratch: Path, folder: str, files: Mapping[str, str],
                      manifest_name: str, manifest: Manifest) -> None:
        """Make ``files`` (name -> SHA-256, in ``scratch``) the content of ``folder`` in one
        step, with ``manifest_name`` (the text ``manifest(prefix)`` gives) written last; the
        files of an earlier commit of ``folder`` go. ``scratch`` is gone afterwards."""
        raise NotImplementedError

    def abandon_folder(self, scratch: Path) -> None:
        """Forget a scratch folder that will not be committed."""
        raise NotImplementedError

    def sweep_folders(self, parent: str, manifest_name: str, named: NamedFiles) -> int:
        """Remove what killed writers of folders under ``parent`` left behind (scratch
        folders, files no manifest names); how many. Safe under the lock only."""
        raise NotImplementedError

    # -- graphs -----------------------------------------------------------------------
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

    def current_graph(self) -> str | None:
        """The folder of the current graph, or None before the first aggregation."""
        raise NotImplementedError

    # -- the lock ---------------------------------------------------------------------
    def lock(self, lease_seconds: float = LEASE_SECONDS) -> AbstractContextManager[None]:
        """Hold the location's lock for one run, or raise DataFolderBusy."""
        raise NotImplementedError


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

    def scan(self, files: str | list[str], schema: pl.Schema | None = None) -> pl.LazyFrame:
        names = [files] if isinstance(files, str) else files
        return self.store.scan_parquet([self.name_of(f) for f in names], schema)

    def sink(self, frame: pl.LazyFrame, file: str, **options: Any) -> None:
        self.store.sink_parquet(frame, self.name_of(file), **options)

    def write(self, frame: pl.DataFrame, file: str, **options: Any) -> None:
        self.store.write_parquet(frame, self.name_of(file), **options)

    def write_text(self, file: str, text: str) -> None:
        self.store.write_text(self.name_of(file), text)

    def read_text(self, file: str) -> str | None:
        return self.store.read_text(self.name_of(file))

    def write_bytes(self, file: str, data: bytes) -> None:
        self.store.write_bytes(self.name_of(file), data)

    def read_ranges(self, ranges: Sequence[tuple[str, int, int]]) -> list[bytes]:
        return self.store.read_ranges([(self.name_of(file), start, stop)
                                       for file, start, stop in ranges])

    def files_in(self, folder: str) -> list[str]:
        """The Parquet files directly in the sub-folder ``folder``, relative to this one."""
        return list(self.sizes_in(folder))

    def sizes_in(self, folder: str) -> dict[str, int]:
        """``files_in`` with each file's bytes."""
        return {f"{folder}/{name}": size
                for name, size in self.store.files(self.name_of(folder)).items()
                if "/" not in name and name.endswith(".parquet")}

    def files(self, prefix: str) -> list[str]:
        """Names of the files directly in this folder that start with ``prefix``."""
        return [name for name in self.store.files(self.name)
                if "/" not in name and name.startswith(prefix)]

    def delete(self, *files: str) -> None:
        self.store.delete(self.name_of(file) for file in files)

    def delete_all(self) -> None:
        self.store.delete_tree(self.name)


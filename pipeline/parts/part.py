"""Parts: the output of one input file, written atomically, with its counters.

A part is a folder ``parts/<input key>/`` of the data location holding its rows already
split into the location's partitions (pipeline/partitions.py): ``links-pNNNN.parquet`` by
the target's registered domain, ``pages-pNNNN.parquet`` by the page's host (only non-empty
partitions have a file), and ``part.json`` (input, fingerprint, counters, row counts, the
files with their sizes and SHA-256). It is built in a scratch folder and made
visible in one step by the store (``commit_folder``: a rename locally; in S3 the files go
under ``parts/<key>/<write id>/`` and ``part.json``, written last, names them), so a part
with a ``part.json`` is always complete; what a killed run leaves is swept by the next.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.errors import PartError
from pipeline.extract.rows import LINKS_SCHEMA, PAGES_SCHEMA, LinkRow, PageRow, frame
from pipeline.partitions import PARTITION_COLUMN, partition_column, partition_name
from pipeline.storage import DataStore, sha256_of
from pipeline.storage.atomic import fsync_path

# 2: inputs versioned by a string (mtime or ETag); 3: file checksums; 4: link context;
# 5: rows split into the data location's partitions
PART_FORMAT = 5
# The column each table is partitioned by (a link by its target's domain, a page by host).
PARTITION_KEYS = {"links": "dst_domain", "pages": "host"}
DEFAULT_BATCH_ROWS = 100_000  # link rows held in memory before a flush (about 80 MB)
# A part file whose batches (uncompressed Arrow) hold at most this many bytes is encoded from
# memory, a larger one streamed: no more memory than a batch.
IN_MEMORY_JOIN_BYTES = 64 << 20
@dataclass(frozen=True)
class PartInfo:
    """What ``part.json`` records about one part."""

    input: str
    key: str
    size: int
    version: str
    crawl: str
    pages: int
    links: int
    records: int
    counters: dict[str, int]
    seconds: float
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> bytes, sha256
    damage: list[str] = field(default_factory=list)  # the first damaged stretches of the input
    partitions: int = 1  # the data location's partition count the rows were split into
    format: int = PART_FORMAT


def part_folder(key: str) -> str:
    """The part's folder, relative to the data location."""
    return f"parts/{key}"


def part_path(store: DataStore, key: str) -> Path:
    """The part's folder on a local data location (tests and tools look inside it)."""
    return store.local_path(part_folder(key))


def read_part_info(store: DataStore, key: str) -> PartInfo:
    text = store.read_text(f"{part_folder(key)}/part.json")
    if text is None:
        raise PartError(f"part {store.url(part_folder(key))!r} has no part.json; delete the "
                        "folder and run again")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PartError(f"part {store.url(part_folder(key))!r} is unreadable ({exc}); delete "
                        "the folder and run again") from exc
    if data.get("format", 1) != PART_FORMAT:
        raise PartError(
            f"part {store.url(part_folder(key))!r} was written by an older cc-backlinks (part "
            f"format {data.get('format', 1)}, this version reads {PART_FORMAT}); delete the "
            "folder and run again"
        )
    try:
        return PartInfo(**data)
    except TypeError as exc:
        raise PartError(
            f"part {store.url(part_folder(key))!r} is unreadable ({exc}); delete the folder "
            "and run again"
        ) from exc


def complete_part(store: DataStore, key: str, size: int, version: str,
                  partitions: int = 1) -> PartInfo | None:
    """The part of this input if it is complete, made from this version of the input and
    split into ``partitions``."""
    try:
        info = read_part_info(store, key)
    except PartError:
        return None  # missing, unreadable or from an older version: it is written again
    if (info.size, info.version, info.format, info.partitions) != (
        size, version, PART_FORMAT, partitions
    ):
        return None
    if damaged_files(store, info):
        return None  # a file changed or vanished since it was written: write the part again
    return info


def damaged_files(store: DataStore, info: PartInfo) -> list[str]:
    """The part's files that are missing or differ from the size and SHA-256 recorded."""
    return [
        name for name, expected in sorted(info.files.items())
        if not store.has_file(f"{part_folder(info.key)}/{name}", expected["bytes"],
                              expected["sha256"], expected.get("mtime_ns"))
    ]


def part_file_names(info: PartInfo, table: str) -> list[str]:
    """The names of the part's ``pages`` or ``links`` files in its data location, in order."""
    return [
        f"{part_folder(info.key)}/{name}" for name in sorted(info.files)
        if name.rsplit("/", 1)[-1].startswith(f"{table}-")
    ]


def file_partition(name: str) -> int:
    """The partition of a part file from its name (``.../links-p0007.parquet`` -> 7)."""
    return int(name.rsplit("/", 1)[-1].rsplit(".", 1)[0].rsplit("-p", 1)[1])


def partition_files(info: PartInfo, table: str, partition: int) -> list[str]:
    """The names of the part's ``table`` files of one partition."""
    return [name for name in part_file_names(info, table) if file_partition(name) == partition]


def partition_bytes(info: PartInfo, table: str) -> dict[int, int]:
    """Compressed bytes of the part's ``table`` rows per partition (from part.json)."""
    return _per_partition(info, table, "bytes")


def partition_rows(info: PartInfo, table: str) -> dict[int, int]:
    """Rows of the part's ``table`` per partition (from part.json)."""
    return _per_partition(info, table, "rows")


def _per_partition(info: PartInfo, table: str, field: str) -> dict[int, int]:
    sums: dict[int, int] = {}
    for name, described in info.files.items():
        if name.rsplit("/", 1)[-1].startswith(f"{table}-"):
            partition = file_partition(name)
            sums[partition] = sums.get(partition, 0) + int(described[field])
    return sums


def _part_keys(store: DataStore) -> list[str]:
    """Keys of the parts with a part.json (folders being written have none)."""
    return sorted(
        name.split("/")[0] for name in store.files("parts")
        if name.endswith("/part.json") and name.count("/") == 1 and not name.startswith(".")
    )


def complete_parts(store: DataStore) -> list[tuple[str, PartInfo]]:
    """Every complete part under the data location, sorted by key: (folder, info)."""
    found = []
    for key in _part_keys(store):
        info = read_part_info(store, key)
        bad = damaged_files(store, info)
        if bad:
            raise PartError(
                f"part {store.url(part_folder(key))!r} is damaged: {', '.join(bad)} missing or "
                "not as written (size or SHA-256 differ); delete the folder and run again to "
                "rebuild it"
            )
        found.append((part_folder(key), info))
    return found


class PartWriter:
    """Collect the rows of one input in batches in a scratch folder; ``commit`` publishes.

    Rows are flushed every ``batch_rows`` link rows, each batch split into the location's
    ``partitions`` (one scratch file per non-empty partition and batch, uncompressed Arrow
    IPC: cheap to write and to read back, about 270 bytes a link row on disk until the
    commit), so memory stays bounded whatever the size of the input; ``commit`` encodes each
    partition's batches into its one Parquet file, streamed when they are large.
    Every row is encoded as Parquet once (before, each batch was Parquet already and the
    batches of a partition were decoded and encoded again to join them). Use as a context
    manager: leaving the block without ``commit`` (an exception, a kill) leaves no part
    behind.
    """

    def __init__(self, store: DataStore, key: str, batch_rows: int = DEFAULT_BATCH_ROWS,
                 partitions: int = 1) -> None:
        self.store, self.key, self.batch_rows = store, key, batch_rows
        self.partitions = partitions
        self.temporary = store.begin_folder(part_folder(key))
        self.pages: list[PageRow] = []
        self.links: list[LinkRow] = []
        self.frames: list[tuple[pl.DataFrame, pl.DataFrame]] = []
        self.frame_pages = self.frame_links = 0
        self.page_count = self.link_count = self.batches = 0
        self.batch_files: dict[str, list[Path]] = {}  # final name -> its batches, in order
        self.batch_rows_of: dict[str, int] = {}  # final name -> rows in its batches
        self.files: dict[str, dict[str, Any]] = {}
        self.committed = False

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.committed:
            self.store.abandon_folder(self.temporary)

    @contextmanager
    def _writing(self, path: Path) -> Iterator[None]:
        """Turn a failed write (a full disk, a file size limit) into a clear PartError."""
        try:
            yield
        except (OSError, pl.exceptions.ComputeError) as exc:
            if not isinstance(exc, OSError) and "IO error" not in str(exc):
                raise  # polars reports IO errors as ComputeError; others are not ours
            raise PartError(
                f"could not write {path.name} of the part {self.key!r} under "
                f"{self.store.location!r} ({exc}); nothing of it is kept: free space and run "
                "again"
            ) from exc

    def add(self, page: PageRow, links: Sequence[LinkRow]) -> None:
        self.pages.append(page)
        self.links.extend(links)
        if len(self.links) + self.frame_links >= self.batch_rows:
            self.flush()

    def add_frames(self, pages: pl.DataFrame, links: pl.DataFrame) -> None:
        """Rows already in frames (the Rust core's), in PAGES_SCHEMA and LINKS_SCHEMA."""
        if pages.height:
            self.frames.append((pages, links))
            self.frame_pages += pages.height
            self.frame_links += links.height
        if len(self.links) + self.frame_links >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self.pages and not self.frames:
            return
        for kind, rows, schema in (
            ("pages", self.pages, PAGES_SCHEMA), ("links", self.links, LINKS_SCHEMA)
        ):
            pieces = [frame(rows, schema)] if rows else []
            pieces += [pair[0 if kind == "pages" else 1] for pair in self.frames]
            rows_frame = pl.concat(pieces) if pieces else frame([], schema)
            split = {(0,): rows_frame} if self.partitions == 1 else rows_frame.with_columns(
                partition_column(rows_frame, PARTITION_KEYS[kind], self.partitions)
            ).partition_by(PARTITION_COLUMN, as_dict=True, include_key=False)
            for (partition,), piece in sorted(split.items()):
                if not piece.height:
                    continue  # only non-empty partitions have a file
                final = f"{kind}-{partition_name(int(partition))}.parquet"
                path = self.temporary / f".batch-{self.batches:05d}-{final}.arrow"
                with self._writing(path):
                    piece.write_ipc(path, compression="uncompressed")
                self.batch_files.setdefault(final, []).append(path)
                self.batch_rows_of[final] = self.batch_rows_of.get(final, 0) + piece.height
        self.page_count += len(self.pages) + self.frame_pages
        self.link_count += len(self.links) + self.frame_links
        self.batches += 1
        self.pages, self.links = [], []
        self.frames, self.frame_pages, self.frame_links = [], 0, 0

    def _join_batches(self) -> None:
        """One Parquet file per table and partition, encoded once from its batches (each
        read once, streamed), then synced, and its size and SHA-256 recorded."""
        for final, batches in sorted(self.batch_files.items()):
            path = self.temporary / final
            schema = PAGES_SCHEMA if final.startswith("pages-") else LINKS_SCHEMA
            with self._writing(path):
                scan = pl.scan_ipc(batches, glob=False).cast(schema)
                if sum(batch.stat().st_size for batch in batches) <= IN_MEMORY_JOIN_BYTES:
                    # a small file: the streaming engine's start costs more than its rows
                    scan.collect().write_parquet(path, compression="zstd", statistics=True)
                else:
                    scan.sink_parquet(path, compression="zstd", statistics=True)
                for batch in batches:
                    batch.unlink()
                fsync_path(path)
                status = path.stat()  # a rename into place keeps the modification time
                self.files[final] = {"bytes": status.st_size, "sha256": sha256_of(path),
                                     "rows": self.batch_rows_of[final],
                                     "mtime_ns": status.st_mtime_ns}

    def commit(self, info: Mapping[str, Any]) -> PartInfo:
        """Flush, then make the part visible in one step with ``part.json`` written last
        (the store's ``commit_folder``: a rename locally, a last PUT in S3)."""
        self.flush()
        self._join_batches()
        committed: list[PartInfo] = []

        def manifest(prefix: str) -> str:
            part = PartInfo(
                key=self.key, pages=self.page_count, links=self.link_count,
                files={f"{prefix}{name}": described for name, described in self.files.items()},
                partitions=self.partitions, **info,
            )
            committed.append(part)
            return json.dumps(asdict(part), indent=1)

        with self._writing(self.temporary / "part.json"):
            self.store.commit_folder(
                self.temporary, part_folder(self.key),
                {name: described["sha256"] for name, described in self.files.items()},
                "part.json", manifest,
            )
        self.committed = True
        return committed[-1]


def sweep_temporary(store: DataStore) -> int:
    """Remove what killed runs left behind; return how many: parts being written and graphs
    being aggregated. Safe because one run at a time holds the data location (its lock)."""

    def named(key: str) -> list[str] | None:
        try:
            return list(read_part_info(store, key).files)
        except PartError:
            return None

    return store.sweep_graphs() + store.sweep_folders("parts", "part.json", named)

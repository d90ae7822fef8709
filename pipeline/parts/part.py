"""Parts: the output of one input file, written atomically, with its counters.

A part is a folder ``parts/<input key>/`` of the data location holding its rows already
split into the location's partitions (pipeline/partitions.py), links by the target's
registered domain and pages by the page's host, in two files whatever the number of
partitions: ``links.partitions`` and ``pages.partitions``, each partition's rows a whole
Parquet file at a byte range of it (only non-empty partitions have one, in partition
order), and ``part.json`` (input, fingerprint, counters, row counts, the files with their
sizes and SHA-256, and each file's ``partitions``: ``[partition, start, stop, rows]``). A
reduce task reads its partition's range of each part (``partition_ranges``), not a file a
partition: with a thousand partitions a part is three files, not two thousand
(docs/scale.md). It is built in a scratch folder and made visible in one step by the
store (``commit_folder``: a rename locally; in S3 the files go
under ``parts/<key>/<write id>/`` and ``part.json``, written last, names them), so a part
with a ``part.json`` is always complete; what a killed run leaves is swept by the next.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from pipeline.errors import PartError, refused_by_the_disk
from pipeline.extract.rows import LINKS_SCHEMA, PAGES_SCHEMA, LinkRow, PageRow, frame
from pipeline.partitions import PARTITION_COLUMN, partition_column, partition_name
from pipeline.storage import DataStore, sha256_of
from pipeline.storage.atomic import fsync_path
from pipeline.storage.side_by_side import in_order

# 2: inputs versioned by a string (mtime or ETag); 3: file checksums; 4: link context;
# 5: rows split into the data location's partitions; 6: a file a table, each partition's
# rows a Parquet file at a byte range of it
PART_FORMAT = 6
# The column each table is partitioned by (a link by its target's domain, a page by host).
PARTITION_KEYS = {"links": "dst_domain", "pages": "host"}
DEFAULT_BATCH_ROWS = 100_000  # link rows held in memory before a flush (about 80 MB)
# A part file whose batches (uncompressed Arrow) hold at most this many bytes is encoded from
# memory, a larger one streamed: no more memory than a batch.
IN_MEMORY_JOIN_BYTES = 64 << 20
# A partition's ranges are copied to a task's disk this many bytes at a time (memory).
COPY_CHUNK_BYTES = 16 << 20
COPY_BATCH_BYTES = 64 << 20
# part.json files read and checked side by side by ``each_complete_part``, and inputs
# looked up with their parts by ``already_processed`` (pipeline/parts/process.py)
PART_READERS = 16
# A part's file of one table's partitions.
TABLES_FILES = {"links": "links.partitions", "pages": "pages.partitions"}


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
        info = PartInfo(**data)
        for name, described in info.files.items():
            _check_ranges(name, described, info.partitions)
    except (TypeError, ValueError) as exc:
        raise PartError(
            f"part {store.url(part_folder(key))!r} is unreadable ({exc}); delete the folder "
            "and run again"
        ) from exc
    return info


def _check_ranges(name: str, described: dict[str, Any], partitions: int) -> None:
    """ValueError unless the file's ``partitions`` are ``[partition, start, stop, rows]``
    entries of partitions in 0..partitions - 1, in order, side by side from byte 0 to the
    file's end, their rows adding up to the file's: a reader trusts them to find rows."""
    ranges = described.get("partitions")
    if not isinstance(ranges, list) or not ranges:
        raise ValueError(f"{name} lists no partitions")
    end, last = 0, -1
    for entry in ranges:  # (checked without a generator: 1,500 entries a part, 90,000 parts)
        partition, start, stop, rows = (entry if isinstance(entry, list) and len(entry) == 4
                                        else (None, None, None, None))
        if not (type(partition) is int and type(start) is int and type(stop) is int
                and type(rows) is int):
            raise ValueError(f"{name} has a partition entry {entry!r}, not [partition, start, "
                             "stop, rows]")
        if not last < partition < partitions or start != end or stop <= start or rows <= 0:
            raise ValueError(f"{name} has the partition entry {entry!r} out of order or out "
                             f"of range (after byte {end}, of {partitions} partitions)")
        end, last = stop, partition
    if end != described.get("bytes") or sum(entry[3] for entry in ranges) != described.get(
            "rows"):
        raise ValueError(f"{name}'s partitions do not add up to its bytes and rows")


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


def partition_ranges(info: PartInfo, table: str) -> dict[int, tuple[str, int, int, int]]:
    """Each non-empty partition of the part's ``pages`` or ``links``: (the name of its
    file in the data location, start, stop, rows); its rows are the Parquet file at bytes
    ``[start, stop)`` of that file."""
    name, described = _table_file(info, table)
    return {int(partition): (name, int(start), int(stop), int(rows))
            for partition, start, stop, rows in described.get("partitions", ())}


def _table_file(info: PartInfo, table: str) -> tuple[str, dict[str, Any]]:
    """The name (in the data location) and the part.json entry of a part's file of
    ``table``; an empty entry when the part has no rows of it."""
    for name, described in info.files.items():
        if name.rsplit("/", 1)[-1] == TABLES_FILES[table]:
            return f"{part_folder(info.key)}/{name}", described
    return "", {}


def copy_ranges(store: DataStore, ranges: Sequence[tuple[str, int, int]],
                paths: Sequence[Path]) -> None:
    """Copy each range ``(name, start, stop)`` of ``store`` into the local file of
    ``paths`` at its position (made or replaced): read COPY_CHUNK_BYTES at a time, up to
    COPY_BATCH_BYTES in one ``read_ranges`` call (S3: ranged GETs side by side), so memory
    holds no more than that whatever the ranges' sizes."""
    chunks = [(position, name, offset, min(offset + COPY_CHUNK_BYTES, stop))
              for position, (name, start, stop) in enumerate(ranges)
              for offset in range(start, max(start + 1, stop), COPY_CHUNK_BYTES)]
    for folder in {path.parent for path in paths}:
        folder.mkdir(parents=True, exist_ok=True)
    writing: tuple[int, BinaryIO] | None = None  # one file open at a time, chunks in order
    try:
        for batch in _batches(chunks):
            data = store.read_ranges([(name, start, stop) for _, name, start, stop in batch])
            for (position, *_), piece in zip(batch, data, strict=True):
                if writing is None or writing[0] != position:
                    if writing is not None:
                        writing[1].close()
                    writing = (position, paths[position].open("wb"))
                writing[1].write(piece)
    finally:
        if writing is not None:
            writing[1].close()


def _batches(chunks: list[tuple[int, str, int, int]]) -> Iterator[list[tuple[int, str, int, int]]]:
    """The chunks in order, in batches of at most COPY_BATCH_BYTES (or one chunk)."""
    batch: list[tuple[int, str, int, int]] = []
    held = 0
    for chunk in chunks:
        size = chunk[3] - chunk[2]
        if batch and held + size > COPY_BATCH_BYTES:
            yield batch
            batch, held = [], 0
        batch.append(chunk)
        held += size
    if batch:
        yield batch


def read_part_table(store: DataStore, info: PartInfo, table: str) -> pl.DataFrame:
    """Every row of one part's ``pages`` or ``links`` (all its partitions, in partition
    order), read whole: for tools and tests; the aggregation reads a partition at a time."""
    ranges = [(name, start, stop) for name, start, stop, _ in
              (spans for _, spans in sorted(partition_ranges(info, table).items()))]
    schema = PAGES_SCHEMA if table == "pages" else LINKS_SCHEMA
    frames = [pl.read_parquet(io.BytesIO(data)).cast(schema)
              for data in store.read_ranges(ranges)]
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


class PartitionsFile:
    """A part's file of one table being written: each partition's rows appended as a whole
    Parquet file, in partition order; ``finish`` syncs it and describes it for part.json
    (bytes, SHA-256, rows, modification time and ``partitions``)."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.out = target.open("wb")
        self.ranges: list[list[int]] = []

    def add(self, partition: int, parquet: bytes | Path, rows: int) -> None:
        """Append one partition's Parquet file (its bytes, or a file, then deleted)."""
        if self.ranges and partition <= self.ranges[-1][0]:
            raise ValueError(f"partition {partition} after {self.ranges[-1][0]}")
        start = self.out.tell()
        if isinstance(parquet, Path):
            with parquet.open("rb") as piece:
                shutil.copyfileobj(piece, self.out, 1 << 20)
            parquet.unlink()
        else:
            self.out.write(parquet)
        self.ranges.append([partition, start, self.out.tell(), rows])

    def __enter__(self) -> PartitionsFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.out.close()  # (after ``finish``, or a failure: the file is the caller's to drop)

    def finish(self) -> dict[str, Any]:
        self.out.close()
        fsync_path(self.target)
        status = self.target.stat()  # a rename into place keeps the modification time
        return {"bytes": status.st_size, "sha256": sha256_of(self.target),
                "rows": sum(rows for *_, rows in self.ranges), "mtime_ns": status.st_mtime_ns,
                "partitions": self.ranges}


def join_partition_files(target: Path, files: Sequence[tuple[int, Path, int]]) -> dict[str, Any]:
    """Append the Parquet files ``(partition, path, rows)`` (non-empty partitions) into
    ``target`` in partition order and delete them; its part.json entry."""
    with PartitionsFile(target) as joined:
        for partition, path, rows in sorted(files):
            joined.add(partition, path, rows)
        return joined.finish()


# A part's files as a listing gives them: name in its folder -> (bytes, version)
ListedFiles = dict[str, tuple[int, str]]


def listed_parts(store: DataStore) -> dict[str, ListedFiles]:
    """The parts with a part.json (folders being written have none), by key in order: each
    its files (``part.json`` and the rest of its folder) with their bytes and version as one
    listing gives them (``listing``: a modification time, an ETag), which change when a
    file is written again."""
    found: dict[str, ListedFiles] = {}
    for name, entry in store.listing("parts").items():
        key, _, rest = name.partition("/")
        if rest and not key.startswith("."):
            found.setdefault(key, {})[rest] = entry
    return {key: files for key, files in sorted(found.items()) if "part.json" in files}


def parts_digest(listed: Mapping[str, ListedFiles]) -> str:
    """The SHA-256 of the parts' ``part.json`` entries in ``listed_parts``: a graph's
    manifest records it for the parts it was built from, and a run that lists the same
    parts has nothing new to aggregate, found from one listing (a crawl's 90,000 part.json
    files are not read: 1.4-1.6 ms each)."""
    digest = hashlib.sha256()
    for key, files in listed.items():
        size, version = files["part.json"]
        digest.update(f"{key}\t{size}\t{version}\n".encode())
    return digest.hexdigest()


def part_record(info: PartInfo, files: ListedFiles) -> dict[str, Any]:
    """What a graph's manifest records of a part: its input (and the input's size and
    version), format, split, counts and damage, each file's bytes, rows and SHA-256 (not its
    partitions' ranges: 40 KB a part at 1,500), and ``listed``: part.json and its files as
    ``files`` (the plan's listing) gave them, so that a later run finds the part unchanged
    from a listing (``recorded_info``); none when the listing missed one."""
    names = ["part.json", *info.files]
    return {
        "input": info.input, "key": info.key, "size": info.size, "version": info.version,
        "format": info.format, "partitions": info.partitions, "crawl": info.crawl,
        "records": info.records, "pages": info.pages, "links": info.links,
        "counters": info.counters, "damage": info.damage,
        "files": {name: {key: value for key, value in described.items()
                         if key != "partitions"}
                  for name, described in info.files.items()},
        "listed": ({name: list(files[name]) for name in names}
                   if all(name in files for name in names) else {}),
    }


def recorded_info(record: Mapping[str, Any], files: ListedFiles | None, size: int,
                  version: str, partitions: int) -> PartInfo | None:
    """The part a manifest's ``record`` describes (without its ranges) when it is the
    complete part of this version of its input: every file it lists still listed as it was
    (``files``, from ``listed_parts``; a file written again has a new version), the input's
    size and version and the split the same. None when anything differs or is not
    recorded: then read its part.json (``complete_part``)."""
    listed = record.get("listed")
    if not listed or files is None or any(
            files.get(name) != tuple(entry) for name, entry in listed.items()):
        return None
    if (record.get("size"), record.get("version"), record.get("format"),
            record.get("partitions")) != (size, version, PART_FORMAT, partitions):
        return None
    try:
        return PartInfo(**{name: value for name, value in record.items() if name != "listed"},
                        seconds=0.0)
    except TypeError:
        return None


def complete_parts(store: DataStore) -> list[tuple[str, PartInfo]]:
    """Every complete part under the data location, sorted by key: (folder, info)."""
    return list(each_complete_part(store))


def each_complete_part(store: DataStore, keys: Sequence[str] | None = None,
                       ) -> Iterator[tuple[str, PartInfo]]:
    """``complete_parts`` (or the parts ``keys``, from ``listed_parts``) one at a time, in
    order, each part.json read when it is near:
    a whole crawl's (90,000 of them, with their ranges of 1,500 partitions) would take tens
    of GB held at once. PART_READERS of them are read and checked side by side
    (``in_order``): from S3 each is a GET of its part.json and a HEAD of each of its files,
    which one after another at 10-30 ms a request took 45 minutes to over two hours for a
    crawl's parts."""
    if keys is None:
        keys = list(listed_parts(store))
    return in_order(lambda key: _checked_part(store, key), keys, PART_READERS)


def _checked_part(store: DataStore, key: str) -> tuple[str, PartInfo]:
    """The folder and part.json of the part ``key``, its files checked against it."""
    info = read_part_info(store, key)
    bad = damaged_files(store, info)
    if bad:
        raise PartError(
            f"part {store.url(part_folder(key))!r} is damaged: {', '.join(bad)} missing or "
            "not as written (size or SHA-256 differ); delete the folder and run again to "
            "rebuild it"
        )
    return part_folder(key), info


class PartWriter:
    """Collect the rows of one input in batches in a scratch folder; ``commit`` publishes.

    Rows are flushed every ``batch_rows`` link rows, each batch's rows sorted by the
    location's ``partitions`` into one scratch file a table (uncompressed Arrow IPC: cheap to
    write and to read back, about 270 bytes a link row on disk until the commit), so memory
    stays bounded whatever the size of the input; ``commit`` encodes each partition's rows,
    a slice of every batch, into its Parquet file and appends it to the table's file
    (``PartitionsFile``), several partitions read at once while they are small, a large one
    streamed.
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
        # table -> its batches, in order: each a file of rows sorted by partition, with
        # each partition's (first row, rows) in it
        self.batch_files: dict[str, list[tuple[Path, dict[int, tuple[int, int]]]]] = {}
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
            if not refused_by_the_disk(exc):
                raise
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
            if not rows_frame.height:
                continue
            # one file a batch, its rows sorted by partition (a stable sort: a partition's
            # rows stay in the order they came), not a file a batch and partition: at
            # 1,500 partitions that was 3,000 files a batch, more than the batch's parsing
            if self.partitions == 1:
                rows_frame = rows_frame.with_columns(pl.lit(0, pl.UInt32).alias(PARTITION_COLUMN))
            else:
                rows_frame = rows_frame.with_columns(
                    partition_column(rows_frame, PARTITION_KEYS[kind], self.partitions)
                    .cast(pl.UInt32)).sort(PARTITION_COLUMN, maintain_order=True)
            counts = rows_frame.group_by(PARTITION_COLUMN, maintain_order=True).len()
            spans, first = {}, 0
            for partition, count in counts.iter_rows():
                spans[int(partition)] = (first, int(count))
                first += int(count)
            path = self.temporary / f".batch-{self.batches:05d}-{kind}.arrow"
            with self._writing(path):
                rows_frame.write_ipc(path, compression="uncompressed")
            self.batch_files.setdefault(kind, []).append((path, spans))
        self.page_count += len(self.pages) + self.frame_pages
        self.link_count += len(self.links) + self.frame_links
        self.batches += 1
        self.pages, self.links = [], []
        self.frames, self.frame_pages, self.frame_links = [], 0, 0

    def _join_batches(self) -> None:
        """Each table's file: its partitions in order, each encoded once as a Parquet file
        from its rows in every batch and appended. Partitions are read together, a slice of
        each batch, while their batches' rows stay within IN_MEMORY_JOIN_BYTES; a larger one
        is streamed through a temporary file, so memory holds no more than that. Then the
        file is synced, and its size, SHA-256 and ranges recorded."""
        for table, schema in (("pages", PAGES_SCHEMA), ("links", LINKS_SCHEMA)):
            batches = self.batch_files.get(table, [])
            if not batches:
                continue
            target = self.temporary / TABLES_FILES[table]
            sizes = self._partition_sizes(batches)
            with self._writing(target), PartitionsFile(target) as joined:
                for group in self._partition_groups(sizes):
                    streamed = len(group) == 1 and sizes[group[0]] > IN_MEMORY_JOIN_BYTES
                    self._join_group(joined, batches, group, schema, streamed)
                for path, _ in batches:
                    path.unlink()
                self.files[TABLES_FILES[table]] = joined.finish()

    @staticmethod
    def _partition_sizes(batches: list[tuple[Path, dict[int, tuple[int, int]]]],
                         ) -> dict[int, float]:
        """Each partition's bytes in the batches' files (by each file's bytes a row)."""
        sizes: dict[int, float] = {}
        for path, spans in batches:
            per_row = path.stat().st_size / max(1, sum(count for _, count in spans.values()))
            for partition, (_, count) in spans.items():
                sizes[partition] = sizes.get(partition, 0.0) + count * per_row
        return sizes

    @staticmethod
    def _partition_groups(sizes: dict[int, float]) -> list[list[int]]:
        """The partitions with rows, in order, in runs whose bytes in the batches hold at
        most IN_MEMORY_JOIN_BYTES, or a partition alone."""
        groups: list[list[int]] = []
        held = 0.0
        for partition in sorted(sizes):
            if not groups or held + sizes[partition] > IN_MEMORY_JOIN_BYTES:
                groups.append([])
                held = 0.0
            groups[-1].append(partition)
            held += sizes[partition]
        return groups

    def _join_group(self, joined: PartitionsFile,
                    batches: list[tuple[Path, dict[int, tuple[int, int]]]],
                    group: list[int], schema: pl.Schema, streamed: bool) -> None:
        """Append the partitions of ``group`` (consecutive partitions with rows) to
        ``joined``: from each batch the slice that holds them (a batch's rows are sorted by
        partition), read together; ``streamed``, one partition through a temporary file."""
        slices = []
        for path, spans in batches:
            held = [spans[partition] for partition in group if partition in spans]
            if held:
                first = held[0][0]
                slices.append(pl.scan_ipc(path, glob=False)
                              .slice(first, sum(count for _, count in held)))
        rows = pl.concat(slices)
        if streamed:  # (the streaming engine's start costs more than a small partition's rows)
            path = self.temporary / f".{partition_name(group[0])}.parquet"
            rows.drop(PARTITION_COLUMN).cast(schema).sink_parquet(
                path, compression="zstd", statistics=True)
            joined.add(group[0], path, sum(spans[group[0]][1] for _, spans in batches
                                           if group[0] in spans))
            return
        split = rows.collect().partition_by(PARTITION_COLUMN, as_dict=True, include_key=False)
        for partition in group:
            encoded = io.BytesIO()
            piece = split[(partition,)].cast(schema)
            piece.write_parquet(encoded, compression="zstd", statistics=True)
            joined.add(partition, encoded.getvalue(), piece.height)

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

"""A partition's rows sorted into its sub-buckets on this machine's disk, in one read.

A partition whose rows need more memory than ``aggregate_memory_mb`` is reduced in
sub-buckets, one after the other in its task (aggregate.py). Before, each sub-bucket read the
whole partition again and kept its share: 11 sub-buckets read a 3.3 M-row partition 11 times
(13 s of its 50 s; bench/scale.py at 50 M link rows). Now the partition's files are read
once, in runs of parts that hold no more than a sub-bucket, each run in one scan, and its
rows are written to the local file of their sub-bucket, as Arrow IPC; a sub-bucket then
reads only its own rows. Writing them costs about as much as five reads of the partition
(3.0 s, against 0.55-0.6 s a read in one scan, for that 3.3 M-row partition), so
aggregate.py does this for a partition in SPILL_SUB_BUCKETS sub-buckets or more, and
re-reads a smaller one.

The files are uncompressed when the disk has plenty of room (``spill_compression``), LZ4
otherwise. Uncompressed they take about 3.8x the partition's Parquet bytes, LZ4 1.5x; for a
3.3 M-row links partition (231 MiB of Parquet) writing and reading back took 3.1 s
uncompressed (878 MiB) against 5.0 s with LZ4 (339 MiB), of a task of about 25 s.

The rows keep their order: a sub-bucket's files are read back in the order they were
written, and ``partition_by`` keeps the order within a file, so a sub-bucket holds the same
rows in the same order as the old filtered re-read did.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final, Literal

import polars as pl

from pipeline.errors import GraphError, refused_by_the_disk

_BUCKET = "_sub_bucket"
Compression = Literal["uncompressed", "lz4"]
# Disk the sub-buckets take per byte of the partition's Parquet (bench/scale.py, 50 M rows)
DISK_RATIO: Final[dict[Compression, float]] = {"uncompressed": 3.8, "lz4": 1.5}
# Uncompressed only if the disk's free bytes are this many times what they take: the other
# tasks of the machine share the disk
ROOM_FACTOR: Final = 4


def spill_compression(free_bytes: int, partition_bytes: int) -> Compression:
    """How to write a partition's sub-buckets: ``uncompressed`` (faster) when ``free_bytes``
    of the scratch disk are ROOM_FACTOR times what they would take, else ``lz4``."""
    if free_bytes >= ROOM_FACTOR * DISK_RATIO["uncompressed"] * partition_bytes:
        return "uncompressed"
    return "lz4"


class Spill:
    """The rows of one partition in ``buckets`` sub-buckets, under ``folder`` (a temporary
    folder of the caller's, deleted by it)."""

    def __init__(self, folder: Path, buckets: int, schema: pl.Schema,
                 compression: Compression = "lz4") -> None:
        self.folder = folder
        self.schema = schema
        self.compression = compression
        self._files: list[list[Path]] = [[] for _ in range(buckets)]
        self._written = 0

    def __len__(self) -> int:
        return len(self._files)

    def add(self, rows: pl.DataFrame, bucket: pl.Series) -> None:
        """Rows read in one scan, each to the sub-bucket ``bucket`` gives it (a UInt32
        Series as long as ``rows``)."""
        split = rows.with_columns(bucket.alias(_BUCKET)).partition_by(
            _BUCKET, as_dict=True, include_key=False, maintain_order=True)
        for (index,), share in sorted(split.items()):
            self.add_to(int(index), share)

    def add_to(self, index: int, rows: pl.DataFrame) -> None:
        """Rows that all belong to sub-bucket ``index``."""
        if rows.height == 0:
            return
        path = self.folder / f"{index:04d}-{self._written:06d}.arrow"
        try:
            rows.write_ipc(path, compression=self.compression)
        except (OSError, pl.exceptions.ComputeError) as exc:
            if not refused_by_the_disk(exc):
                raise
            path.unlink(missing_ok=True)
            raise GraphError(
                f"could not write the sub-bucket file {str(path)!r} ({exc}): a partition "
                f"reduced in sub-buckets needs about {DISK_RATIO['lz4']}x its compressed bytes "
                f"on the task's disk under {str(self.folder.parent)!r}; free space there, set "
                "TMPDIR to a larger disk, or raise aggregate_memory_mb (fewer sub-buckets)"
            ) from exc
        self._files[index].append(path)
        self._written += 1

    def scan(self, index: int) -> pl.LazyFrame:
        """Sub-bucket ``index``'s rows, in the order they were added."""
        if not self._files[index]:
            return pl.LazyFrame(schema=self.schema)
        return pl.scan_ipc(self._files[index], glob=False)

    def pieces(self, index: int, keep: pl.Expr | None = None) -> Iterator[pl.DataFrame]:
        """Sub-bucket ``index``'s rows (those ``keep`` selects) a file at a time, in the
        order they were added: each file a run of parts' share, or a window of one part's,
        so no more than a sub-bucket holds."""
        for path in self._files[index]:
            rows = pl.scan_ipc(path, glob=False)
            yield (rows if keep is None else rows.filter(keep)).collect()

    def read(self, index: int, keep: pl.Expr | None = None) -> pl.DataFrame:
        """Sub-bucket ``index``'s rows (those ``keep`` selects)."""
        rows = self.scan(index)
        return (rows if keep is None else rows.filter(keep)).collect()

    def drop(self, index: int) -> None:
        """Delete sub-bucket ``index``'s files (it has been reduced): the disk a task needs
        shrinks as it goes."""
        for path in self._files[index]:
            path.unlink(missing_ok=True)
        self._files[index] = []

"""The parts' ranges of each partition, transposed: what a reduce task needs of part.json.

A part's ``part.json`` records where each partition's rows are in its file of each table
(``[partition, start, stop, rows]`` entries: pipeline/parts/part.py). A reduce task needs
those of its own partitions, from every part. The aggregation plan used to hold every
part's ``PartInfo`` and went to every task: at a whole crawl (90,000 parts of 1,500
partitions) about 2.5 GB pickled for each task, and 30 GB in the process that planned it
(docs/scale.md).

So the plan reads the part.json files (in slices, each in order) and writes their ranges into the
aggregation's work folder, transposed, in pieces files (pieces.py)::

    <table>_ranges/<slice>-<number>.pieces
                                      the ranges of a run of consecutive parts of a slice
                                      of the plan (at most RANGES_PER_FILE of them in all),
                                      each partition's rows at their offset: ordinal, name,
                                      start, stop, rows

A task reads the ranges of its own partitions only (its offsets of each file, then their
bytes): about 20 bytes a part a partition, compressed. The ordinal is the part's place
among the plan's parts, sorted by key: the ``capture_part`` of its rows.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

import polars as pl

from pipeline.graph.pieces import PieceReader, write_pieces
from pipeline.storage import Folder

TABLES = ("pages", "links")
RANGES_SCHEMA = pl.Schema({"ordinal": pl.UInt32(), "name": pl.String(),
                           "start": pl.UInt64(), "stop": pl.UInt64(), "rows": pl.UInt64()})
# Ranges held before they are written as a file: 32 bytes each in the writer's arrays, so
# about 64 MB; a whole crawl's (90,000 parts, 1,500 partitions, two tables) make about 135
# files a table, each read by a task with one ranged read for its offsets and one for its
# partitions' bytes, side by side.
RANGES_PER_FILE = 2_000_000


def ranges_kind(table: str) -> str:
    """The work folder's kind of the ranges of ``table`` (``pages`` or ``links``)."""
    return f"{table}_ranges"


class PartRangesWriter:
    """Write the ranges of parts added in order (``add``) into the work folder, a file per
    RANGES_PER_FILE of them, named from ``prefix`` (a slice of the plan's: each writes its
    own); ``close`` writes the last."""

    def __init__(self, work: Folder, partitions: int, prefix: str = "") -> None:
        self.work, self.partitions, self.prefix = work, partitions, prefix
        self.files = 0
        self._clear()

    def _clear(self) -> None:
        self.held = 0
        # each part's file of the table (its name once), and each range with its place
        # there ("part"): a name is held once a part, not once a range
        self.names: dict[str, list[str]] = {table: [] for table in TABLES}
        self.columns = {table: {"partition": array("I"), "part": array("I"),
                                "ordinal": array("I"), "start": array("Q"),
                                "stop": array("Q"), "rows": array("Q")} for table in TABLES}

    def add(self, ordinal: int, table: str,
            ranges: dict[int, tuple[str, int, int, int]]) -> None:
        """The ranges of ``table`` (``partition_ranges``) of the ``ordinal``-th part of the
        plan; a part's tables are added in turn, before the next part's."""
        if not ranges:
            return
        columns, names = self.columns[table], self.names[table]
        names.append(next(iter(ranges.values()))[0])  # one file a table
        partitions, spans = ranges.keys(), ranges.values()
        columns["partition"].extend(partitions)
        columns["part"].extend([len(names) - 1] * len(ranges))
        columns["ordinal"].extend([ordinal] * len(ranges))
        columns["start"].extend([start for _, start, _, _ in spans])
        columns["stop"].extend([stop for _, _, stop, _ in spans])
        columns["rows"].extend([rows for _, _, _, rows in spans])
        self.held += len(ranges)

    def part_done(self) -> None:
        """A part's tables are added: write a file when it holds RANGES_PER_FILE ranges."""
        if self.held >= RANGES_PER_FILE:
            self._write()

    def _write(self) -> None:
        if not self.held:
            return
        for table in TABLES:
            columns = self.columns[table]
            names = pl.Series("name", self.names[table], pl.String())
            frame = pl.DataFrame({
                "partition": pl.Series(columns["partition"], dtype=pl.UInt32()),
                "ordinal": pl.Series(columns["ordinal"], dtype=pl.UInt32()),
                "name": names.gather(pl.Series(columns["part"], dtype=pl.UInt32())),
                "start": pl.Series(columns["start"], dtype=pl.UInt64()),
                "stop": pl.Series(columns["stop"], dtype=pl.UInt64()),
                "rows": pl.Series(columns["rows"], dtype=pl.UInt64()),
            })
            split = frame.partition_by("partition", as_dict=True, include_key=False,
                                       maintain_order=True)
            write_pieces(self.work, ranges_kind(table), f"{self.prefix}{self.files:06d}",
                         {int(partition): piece.select(list(RANGES_SCHEMA))
                          for (partition,), piece in split.items()}, self.partitions)
        self.files += 1
        self._clear()

    def close(self) -> None:
        self._write()


class PartRanges:
    """Every part's ranges of some partitions of one table, read from the work folder
    (``read``) or given (``held``)."""

    def __init__(self, table: str, reader: PieceReader | None,
                 held: dict[int, pl.DataFrame] | None = None) -> None:
        self.table, self.reader = table, reader
        self.held = dict(held or {})

    @classmethod
    def read(cls, work: Folder, table: str, partitions: Iterable[int],
             count: int) -> PartRanges:
        """The ranges of ``partitions`` (of ``count``), one read of their bytes a file."""
        wanted = list(partitions)
        first, last = (min(wanted), max(wanted)) if wanted else (0, -1)
        return cls(table, PieceReader(work, ranges_kind(table), first, last, count))

    def covers(self, table: str, partition: int) -> bool:
        return table == self.table and (partition in self.held or (
            self.reader is not None and self.reader.first <= partition <= self.reader.last))

    def of(self, partition: int) -> pl.DataFrame:
        """The partition's ranges, in the parts' order: ordinal, name, start, stop, rows."""
        if partition not in self.held:
            if self.reader is None:
                raise ValueError(f"no ranges of partition {partition} of the {self.table}")
            self.held[partition] = self.reader.read(partition, RANGES_SCHEMA).sort("ordinal")
        return self.held[partition]

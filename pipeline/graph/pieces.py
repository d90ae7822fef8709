"""Pieces: the rows a task hands to every partition of a later step, in one file a kind.

A links sub-bucket makes degree rows for every host and domain partition (``out_hosts``,
``in_hosts``, ``out_domains``, ``in_domains``), and a hosts task ``domain_hosts`` rows for
every domain partition. A file per (writer, partition) made P^2 files a kind: 2.25 million
at P = 1,500, each listed, opened and its Parquet footer read by the task of its partition
(at 64 partitions in S3 the hosts and domains steps took 7-8x their time per row at 16:
docs/scale.md). So each writer writes one file a kind, ``<kind>/<stem>.pieces``::

    offsets   P + 1 little-endian unsigned 64-bit integers: partition q's rows are the
              bytes [offsets[q], offsets[q + 1]) of the file, none when the two are equal
    pieces    each partition's rows as an Arrow IPC stream (zstd), in partition order

A task of the partitions first..last reads the offsets it needs from each file (one ranged
read a file), then those partitions' bytes (one more: they are side by side), the files'
reads side by side in S3: no footer, no listing of P^2 names, the pieces' own bytes and 8
more a partition. The files live in the aggregation's work folder and go with it.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Mapping

import polars as pl

from pipeline.errors import GraphError, StorageError
from pipeline.storage import Folder

SUFFIX = ".pieces"
_OFFSET = struct.Struct("<Q")


def piece_file(kind: str, stem: str) -> str:
    """The name of the ``kind`` pieces a writer (``stem``: its sub-bucket or partition)
    makes, in the work folder: ``out_hosts/p0003-s001.pieces``."""
    return f"{kind}/{stem}{SUFFIX}"


def encode_pieces(pieces: Mapping[int, pl.DataFrame], partitions: int) -> bytes:
    """The file of ``pieces`` (partition -> its rows; a missing or empty one has none)."""
    if any(not 0 <= partition < partitions for partition in pieces):
        raise ValueError(f"pieces addressed outside 0..{partitions - 1}: {sorted(pieces)}")
    streams = []
    for partition in range(partitions):
        rows = pieces.get(partition)
        if rows is None or rows.is_empty():
            streams.append(b"")
            continue
        buffer = io.BytesIO()
        rows.write_ipc_stream(buffer, compression="zstd")
        streams.append(buffer.getvalue())
    offsets = [_OFFSET.size * (partitions + 1)]
    for stream in streams:
        offsets.append(offsets[-1] + len(stream))
    return b"".join([*(_OFFSET.pack(offset) for offset in offsets), *streams])


def write_pieces(work: Folder, kind: str, stem: str, pieces: Mapping[int, pl.DataFrame],
                 partitions: int) -> None:
    work.write_bytes(piece_file(kind, stem), encode_pieces(pieces, partitions))


class PieceReader:
    """The ``kind`` pieces of one task's partitions (``first``..``last``), from every file
    of that kind in the work folder: the offsets of each file read, then its bytes for those
    partitions, one range a file (a task's group of partitions is small, or one partition:
    ``AggregationPlan.groups``), each partition's decoded when it is asked for."""

    def __init__(self, work: Folder, kind: str, first: int, last: int,
                 partitions: int) -> None:
        self.work, self.first, self.last = work, first, last
        files = [] if last < first else work.store.files(work.name_of(kind))  # no partitions
        self.names = sorted(f"{kind}/{name}" for name in files
                            if "/" not in name and name.endswith(SUFFIX))
        headers = self._read([(name, _OFFSET.size * first, _OFFSET.size * (last + 2))
                              for name in self.names])
        start = _OFFSET.size * (partitions + 1)  # where a file's pieces begin
        self.offsets = [self._offsets(name, header, start)
                        for name, header in zip(self.names, headers, strict=True)]
        self.held = self._read([(name, offsets[0], offsets[-1])
                                for name, offsets in zip(self.names, self.offsets, strict=True)])

    def _read(self, spans: list[tuple[str, int, int]]) -> list[bytes]:
        try:
            return self.work.read_ranges(spans)
        except StorageError as exc:
            raise GraphError(f"{exc} (a work file of this aggregation ends early or is "
                             "gone); run again: a new aggregation writes them anew") from exc

    def _offsets(self, name: str, header: bytes, start: int) -> list[int]:
        offsets = [offset for (offset,) in _OFFSET.iter_unpack(header)]
        if offsets[0] < start or any(b < a for a, b in zip(offsets, offsets[1:], strict=False)):
            raise GraphError(self._damaged(name, "its offsets are out of order"))
        return offsets

    def _damaged(self, name: str, why: str) -> str:
        return (f"the work file {self.work.url(name)!r} is damaged ({why}); run again: a new "
                "aggregation writes its work files anew")

    def read(self, partition: int, schema: pl.Schema) -> pl.DataFrame:
        """Every piece addressed to ``partition``, stacked, in ``schema``'s columns."""
        if not self.first <= partition <= self.last:
            raise ValueError(f"partition {partition} is not in {self.first}..{self.last}")
        at = partition - self.first
        frames = [self._decode(name, held[offsets[at] - offsets[0]:offsets[at + 1] - offsets[0]],
                               schema)
                  for name, offsets, held in zip(self.names, self.offsets, self.held, strict=True)
                  if offsets[at + 1] > offsets[at]]
        if not frames:
            return pl.DataFrame(schema=schema)
        # cast once, stacked: a cast a piece cost most of the step (0.3 ms each, 8,192 pieces
        # at 64 partitions)
        return pl.concat(frames, how="vertical_relaxed").select(
            pl.col(column).cast(dtype) for column, dtype in schema.items())

    def _decode(self, name: str, stream: bytes, schema: pl.Schema) -> pl.DataFrame:
        try:
            rows = pl.read_ipc_stream(io.BytesIO(stream))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise GraphError(self._damaged(name, str(exc).splitlines()[0])) from exc
        if rows.columns != list(schema):
            raise GraphError(self._damaged(name, f"its columns are {rows.columns}, not "
                                                 f"{list(schema)}"))
        return rows

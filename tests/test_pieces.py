"""The pieces a task hands to every partition of a later step: one file per writer and kind
(pipeline/graph/pieces.py), read by a task for its partitions only."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipeline.errors import GraphError
from pipeline.graph.pieces import PieceReader, encode_pieces, piece_file, write_pieces
from pipeline.storage import Folder, LocalData

SCHEMA = pl.Schema({"host": pl.String(), "links": pl.Int64()})


def rows(*pairs: tuple[str, int]) -> pl.DataFrame:
    # written as UInt32, as the group-bys make them: the reader casts to the schema asked for
    return pl.DataFrame([list(pair) for pair in pairs], schema={"host": pl.String(),
                                                                "links": pl.UInt32()},
                        orient="row")


@pytest.fixture
def work(tmp_path: Path) -> Folder:
    return Folder(LocalData(tmp_path), "work")


def test_each_partition_reads_the_rows_every_writer_addressed_to_it(work: Folder) -> None:
    write_pieces(work, "out_hosts", "p0000", {0: rows(("a.org", 1)), 3: rows(("d.org", 4),
                                                                              ("e.org", 5))}, 5)
    write_pieces(work, "out_hosts", "p0001-s001", {3: rows(("f.org", 6)), 4: rows(("g.org", 7))},
                 5)
    write_pieces(work, "out_hosts", "p0002", {}, 5)  # a writer with nothing for anyone
    assert sorted(work.store.files("work")) == [  # one file per writer, not per partition
        "out_hosts/p0000.pieces", "out_hosts/p0001-s001.pieces", "out_hosts/p0002.pieces"]

    whole = PieceReader(work, "out_hosts", 0, 4, 5)
    found = {partition: sorted(whole.read(partition, SCHEMA).rows()) for partition in range(5)}
    assert found == {0: [("a.org", 1)], 1: [], 2: [],
                     3: [("d.org", 4), ("e.org", 5), ("f.org", 6)], 4: [("g.org", 7)]}
    assert whole.read(1, SCHEMA).schema == SCHEMA  # an empty partition has the columns too
    assert whole.read(3, SCHEMA).schema == SCHEMA  # UInt32 written, Int64 asked for

    some = PieceReader(work, "out_hosts", 3, 4, 5)  # a task of partitions 3..4 only
    assert sorted(some.read(3, SCHEMA).rows()) == found[3]
    with pytest.raises(ValueError, match="partition 2 is not in 3..4"):
        some.read(2, SCHEMA)
    assert PieceReader(work, "in_hosts", 0, 4, 5).read(0, SCHEMA).is_empty()  # none written


def test_a_file_holds_its_offsets_then_each_partitions_stream() -> None:
    data = encode_pieces({1: rows(("a.org", 1))}, 3)
    offsets = [int.from_bytes(data[8 * i:8 * i + 8], "little") for i in range(4)]
    assert offsets[0] == offsets[1] == 32 and offsets[2] == offsets[3] == len(data)
    assert pl.read_ipc_stream(data[32:]).rows() == [("a.org", 1)]
    with pytest.raises(ValueError, match="outside 0..2"):
        encode_pieces({3: rows(("a.org", 1))}, 3)


def test_a_damaged_piece_file_is_a_clear_error_naming_it(work: Folder) -> None:
    write_pieces(work, "in_hosts", "p0000", {0: rows(("a.org", 1)), 1: rows(("b.org", 2))}, 2)
    path = work.store.local_path("work/" + piece_file("in_hosts", "p0000"))
    whole = path.read_bytes()

    path.write_bytes(whole[:-10])  # cut short: partition 1's stream ends early
    assert PieceReader(work, "in_hosts", 0, 0, 2).read(0, SCHEMA).rows() == [("a.org", 1)]
    with pytest.raises(GraphError, match=r"p0000\.pieces.* ends before byte .*run again"):
        PieceReader(work, "in_hosts", 0, 1, 2)  # a task of both partitions reads both

    path.write_bytes(whole[:16] + bytes(8) + whole[24:])  # the last offset points back
    with pytest.raises(GraphError, match=r"p0000\.pieces' is damaged \(its offsets are out"):
        PieceReader(work, "in_hosts", 0, 1, 2)

    path.write_bytes(whole[:24] + b"x" * (len(whole) - 24))  # the offsets, then no stream
    with pytest.raises(GraphError, match=r"p0000\.pieces' is damaged .*run again"):
        PieceReader(work, "in_hosts", 0, 1, 2).read(0, SCHEMA)


def test_pieces_of_other_columns_are_an_error_naming_the_file(work: Folder) -> None:
    write_pieces(work, "in_hosts", "p0000", {0: rows(("a.org", 1))}, 1)
    write_pieces(work, "in_hosts", "p0001", {0: pl.DataFrame({"domain": ["b.org"]})}, 1)
    with pytest.raises(GraphError, match=r"p0001\.pieces' is damaged \(its columns are "
                                         r"\['domain'\], not \['host', 'links'\]\)"):
        PieceReader(work, "in_hosts", 0, 0, 1).read(0, SCHEMA)


def test_ranges_of_more_files_than_may_be_open_at_once_are_read(tmp_path: Path) -> None:
    """A task reads a range of every writer's file (thousands at a whole crawl): the local
    store opens them one at a time, so the open-file limit is no limit on the writers."""
    import resource

    store = LocalData(tmp_path)
    for number in range(300):
        store.write_bytes(f"w/{number:04d}.pieces", number.to_bytes(2, "little") * 3)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(128, hard), hard))
    try:
        found = store.read_ranges([(f"w/{number:04d}.pieces", 2, 4) for number in range(300)])
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert found == [number.to_bytes(2, "little") for number in range(300)]

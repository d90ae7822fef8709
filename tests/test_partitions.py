"""Partitions: the split any DuckDB client can compute, recorded per data location; parts
written split; a re-run with nothing new does no aggregation and no publish."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import polars as pl
import pytest
from conftest import CliRun, graph_rows, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.cli import _print_summary
from pipeline.compiled import core_module
from pipeline.errors import ConfigError
from pipeline.partitions import (
    compiled_partitions,
    partition_map,
    partition_of,
    partition_series,
    python_partitions,
)
from pipeline.parts.layout import (
    BYTES_PER_PARTITION,
    LAYOUT,
    Layout,
    data_layout,
    first_run_partitions,
    growth_note,
    read_layout,
)
from pipeline.runs import RunSummary
from pipeline.storage import LocalData


@settings(deadline=None)  # a DuckDB connection per example: slow on a busy machine
@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=20),
       st.integers(min_value=1, max_value=4096))
def test_duckdb_computes_the_same_partition(names: list[str], partitions: int) -> None:
    con = duckdb.connect()
    found = [row[0] for row in con.execute(
        "select (('0x' || md5(name)[1:8])::ubigint % ?)::integer from unnest(?) as t(name)",
        [partitions, names]).fetchall()]
    assert found == [partition_of(name, partitions) for name in names]
    assert partition_map(names, partitions) == {n: partition_of(n, partitions) for n in names}
    # the Series form (the ranks' edges, the pieces), names repeated, in the names' order:
    # the compiled core's and the Python path's
    repeated = pl.Series("name", names + names[::-1])
    expected = [partition_of(name, partitions) for name in repeated]
    assert partition_series(repeated, partitions).to_list() == expected
    assert python_partitions(repeated, partitions).to_list() == expected
    assert compiled_partitions(core(), repeated, partitions).to_list() == expected


def core() -> ModuleType:
    found = core_module()
    assert found is not None, "the compiled core is not installed: see the README's commands"
    return found


def test_the_compiled_partitions_take_any_string_column_and_refuse_a_null() -> None:
    names = pl.Series("name", [f"host{number}.example" for number in range(5000)])
    chunked = pl.concat([names[:7], names[7:].str.to_uppercase()], rechunk=False)
    assert chunked.n_chunks() == 2
    assert compiled_partitions(core(), chunked, 13).to_list() == [
        partition_of(name, 13) for name in chunked]
    assert compiled_partitions(core(), chunked.cast(pl.String).slice(100, 50), 5).to_list() == [
        partition_of(name, 5) for name in chunked[100:150]]
    with pytest.raises(ValueError, match="row 1 has no name"):
        compiled_partitions(core(), pl.Series("name", ["a.example", None]), 4)
    with pytest.raises(TypeError, match="needs a string column, got Int64"):
        compiled_partitions(core(), pl.Series("name", [1, 2]), 4)


def test_a_location_records_its_partitions_and_refuses_another(tmp_path: Path) -> None:
    store = LocalData(tmp_path)
    assert read_layout(store) is None
    assert data_layout(store, 0).partitions == 16  # a new location: the default
    assert json.loads((tmp_path / LAYOUT).read_text())["partitions"] == 16
    assert data_layout(store, 0).partitions == 16 and data_layout(store, 16).partitions == 16
    with pytest.raises(ConfigError, match="split into 16 partitions .* asks for 4"):
        data_layout(store, 4)
    other = LocalData(tmp_path / "other")
    assert data_layout(other, 3).partitions == 3


def test_a_first_run_chooses_partitions_for_its_local_bytes(tmp_path: Path) -> None:
    mb = BYTES_PER_PARTITION
    assert [first_run_partitions(size) for size in
            (0, 461_094, mb, mb + 1, 3 * mb, 4 * mb + 1, 15 * mb, 100 * mb)] == \
        [1, 1, 1, 2, 4, 8, 16, 16]
    assert first_run_partitions(None) == 16  # remote inputs: sizes unknown, the default
    small = LocalData(tmp_path / "small")
    assert data_layout(small, 0, 461_094) == Layout(1, chosen_for_bytes=461_094)
    assert read_layout(small) == Layout(1, chosen_for_bytes=461_094)
    assert data_layout(small, 0, None).partitions == 1  # recorded: later runs keep it
    assert data_layout(LocalData(tmp_path / "set"), 4, 461_094) == Layout(4)  # the setting
    remote = LocalData(tmp_path / "remote")
    assert data_layout(remote, 0, None) == Layout(16, chosen_for_bytes=None)
    old = tmp_path / "old"  # a layout.json written before chosen_for_bytes existed
    old.mkdir()
    (old / LAYOUT).write_text('{"partitions": 16, "hash": "md5-prefix32"}')
    assert read_layout(LocalData(old)) == Layout(16)


def test_a_run_that_outgrows_a_small_first_choice_is_told_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    chosen = Layout(1, chosen_for_bytes=461_094)
    assert growth_note(chosen, 500_000) is None  # the same scale
    assert growth_note(chosen, BYTES_PER_PARTITION) is None
    for brought, said in ((None, "this run brings remote files"),
                          (5 * BYTES_PER_PARTITION, "this run brings 335.5 MB")):
        note = growth_note(chosen, brought)
        assert note is not None and said in note
        assert "split into 1 partition, chosen for its first run (0.5 MB of local files)" \
            in note and "a new --data" in note
    assert growth_note(Layout(4), None) is None  # set explicitly: the user chose it
    assert growth_note(Layout(16, chosen_for_bytes=10 * BYTES_PER_PARTITION), None) is None
    summary = RunSummary(run_id="r", inputs=1, processed=1, reused=0, failures=[], records=1,
                         pages=1, links=0, counters={}, seconds=1.0, notes=[note])
    _print_summary(summary)
    assert f"  NOTE      {note}\n" in capsys.readouterr().out


def test_parts_are_written_split_and_a_rerun_with_nothing_new_does_nothing(
    sample_run: CliRun, prefect_api: str, tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_run.data_dir, data)
    parts = sorted(data.glob("parts/*/part.json"))
    names = {name for part in parts for name in json.loads(part.read_text())["files"]}
    assert names == {"links.partitions", "pages.partitions"}  # a file a table
    for described in (file for part in parts
                      for file in json.loads(part.read_text())["files"].values()):
        # [partition, start, stop, rows]: side by side from byte 0, adding up to the file
        ranges = described["partitions"]
        assert ranges and ranges[0][1] == 0 and ranges[-1][2] == described["bytes"]
        assert all(a[2] == b[1] and a[0] < b[0] for a, b in zip(ranges, ranges[1:]))
        assert sum(rows for *_, rows in ranges) == described["rows"]
    db = data / "graph.duckdb"
    before = (db.stat().st_mtime_ns, graph_rows(db))
    runs_before = sorted((data / "runs").iterdir())
    again = run_cli("run", "--data", str(data), "--workers", "1",
                    env={"PREFECT_API_URL": prefect_api})
    assert again.returncode == 0, again.stderr
    assert "nothing new" in again.stderr
    assert (db.stat().st_mtime_ns, graph_rows(db)) == before  # not published again
    assert sorted((data / "runs").iterdir()) == runs_before
    assert not list(data.glob(".graph-*"))

    other = run_cli("run", "--data", str(data), "--partitions", "4", "--workers", "1",
                    env={"PREFECT_API_URL": prefect_api})
    assert other.returncode == 2
    assert "split into 16 partitions" in other.stderr and "asks for 4" in other.stderr
    # refused before any work: no part rewritten, no run recorded, the database untouched
    assert sorted(data.glob("parts/*/part.json")) == parts
    assert all(json.loads(p.read_text())["partitions"] == 16 for p in parts)
    assert sorted((data / "runs").iterdir()) == runs_before
    assert db.stat().st_mtime_ns == before[0]


def _split_part(store: LocalData) -> Any:
    """A part of 40 pages and their links in 7 partitions, written by PartWriter."""
    from test_aggregate import link, page

    from pipeline.parts.part import PartWriter

    with PartWriter(store, "split", batch_rows=5, partitions=7) as writer:
        for n in range(40):
            url, host = f"https://h{n}.example/", f"h{n}.example"
            writer.add(page("c", url, host, host),
                       [link("c", url, host, host, f"t{m}.org", f"t{m}.org") for m in range(n % 4)])
        return writer.commit({"input": "split", "size": 1, "version": "1", "crawl": "c",
                              "records": 40, "counters": {}, "seconds": 0.0})


@pytest.mark.parametrize("damage", [
    lambda ranges: ranges.clear(),
    lambda ranges: ranges.reverse(),
    lambda ranges: ranges[-1].__setitem__(0, 7),  # a partition the location does not have
    lambda ranges: ranges[0].__setitem__(2, ranges[0][2] - 1),  # a gap before the next
    lambda ranges: ranges[-1].__setitem__(3, ranges[-1][3] + 1),  # rows that do not add up
    lambda ranges: ranges[0].__setitem__(1, "0"),
    lambda ranges: ranges[0].pop(),  # an entry of three numbers
    lambda ranges: ranges[0].__setitem__(3, 1.5),
])
def test_a_part_json_whose_ranges_do_not_hold_together_is_refused(
    tmp_path: Path, damage: Any,
) -> None:
    """The ranges in part.json are how a reader finds a partition's rows: ranges out of
    order, with gaps, of a partition the location does not have, or not adding up to the
    file make the part unreadable (a PartError that says to delete it and run again, and
    a run writes it anew), never rows silently missed."""
    from pipeline.errors import PartError
    from pipeline.parts.part import complete_part, read_part_info

    store = LocalData(tmp_path)
    _split_part(store)
    manifest = tmp_path / "parts" / "split" / "part.json"
    data = json.loads(manifest.read_text())
    damage(data["files"]["links.partitions"]["partitions"])
    manifest.write_text(json.dumps(data))
    with pytest.raises(PartError, match=r"split.* is unreadable \(links\.partitions.*delete the "
                                        r"folder and run again"):
        read_part_info(store, "split")
    assert complete_part(store, "split", 1, "1", 7) is None


def test_a_parts_partitions_are_parquet_files_at_their_ranges(tmp_path: Path) -> None:
    """A part is a file a table: each non-empty partition's rows a Parquet file of their own
    at the range part.json gives, in partition order, holding exactly the rows whose key
    hashes to that partition; a partition without rows has none."""
    from pipeline.parts.part import partition_ranges, read_part_table

    store = LocalData(tmp_path)
    info = _split_part(store)
    for table, key in (("pages", "host"), ("links", "dst_domain")):
        ranges = partition_ranges(info, table)
        assert 1 < len(ranges) < 8 and sorted(ranges) == list(ranges)
        raw = (tmp_path / ranges[min(ranges)][0]).read_bytes()
        rows = 0
        for partition in range(-1, 9):
            span = ranges.get(partition)
            if span is None:
                continue
            name, start, stop, count = span
            piece = pl.read_parquet(raw[start:stop])
            assert piece.height == count
            assert {partition_of(value, 7) for value in piece[key]} == {partition}
            rows += count
        whole = read_part_table(store, info, table)
        assert whole.height == rows == (info.pages if table == "pages" else info.links)


@pytest.mark.parametrize("join_bytes", [1, 10_000])
def test_a_part_is_the_same_whether_its_partitions_are_joined_together_or_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, join_bytes: int,
) -> None:
    """At commit each partition's rows, a slice of every batch, become its Parquet file:
    read several partitions at a time while they are small, or one streamed when it is over
    IN_MEMORY_JOIN_BYTES (1 byte: every one; 10,000: runs of two and three, some alone and
    some streamed). The rows of every
    partition, in their order, are those of the default (all partitions read at once)."""
    from pipeline.parts import part

    reference = _split_part(LocalData(tmp_path / "default"))
    monkeypatch.setattr(part, "IN_MEMORY_JOIN_BYTES", join_bytes)
    joined = _split_part(LocalData(tmp_path / "small"))
    for table in ("pages", "links"):
        expected = part.partition_ranges(reference, table)
        found = part.partition_ranges(joined, table)
        assert sorted(found) == sorted(expected) and len(found) > 2
        assert [rows for *_, rows in found.values()] == [rows for *_, rows in expected.values()]
        assert part.read_part_table(LocalData(tmp_path / "small"), joined, table).equals(
            part.read_part_table(LocalData(tmp_path / "default"), reference, table))
    # the batches' scratch files are gone with the part's scratch folder
    assert not list((tmp_path / "small" / "parts").glob(".tmp-*"))
    assert not list((tmp_path / "small" / "parts" / "split").glob(".*"))

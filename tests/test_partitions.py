"""Partitions: the split any DuckDB client can compute, recorded per data location; parts
written split; a re-run with nothing new does no aggregation and no publish."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import CliRun, graph_rows, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import ConfigError
from pipeline.partitions import partition_map, partition_of
from pipeline.parts.layout import LAYOUT, data_layout, read_layout
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


def test_parts_are_written_split_and_a_rerun_with_nothing_new_does_nothing(
    sample_run: CliRun, prefect_api: str, tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_run.data_dir, data)
    parts = sorted(data.glob("parts/*/part.json"))
    names = {name for part in parts for name in json.loads(part.read_text())["files"]}
    assert any(name.startswith("links-p") for name in names)
    assert all(name.split("-p")[0] in ("links", "pages") for name in names)
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

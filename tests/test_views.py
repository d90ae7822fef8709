"""Issue 16, item 4: a database of views over a local data folder, whose lookups read one
partition.

`backlinks run --database views` on the sample publishes a small file of views over the
graph's Parquet files in the data folder (hosts and domains copied in, sorted by name); it must answer every table and every macro as the
database of tables does, and a lookup must read only the link files of the target's
partitions (EXPLAIN ANALYZE's "Total Files Read"), also in a plain DuckDB client.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from conftest import CliRun, graph_rows, run_cli

from pipeline.errors import ConfigError, GraphError
from pipeline.graph.aggregate import TABLES
from pipeline.partitions import DEFAULT_PARTITIONS, partition_of
from pipeline.publish.database import COPIED_INTO_VIEWS
from pipeline.serve.database import MACROS, PAIR_MACROS, connect, run_macro
from pipeline.storage import LocalData


@pytest.fixture(scope="module")
def views_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    data_dir = tmp_path_factory.mktemp("views-run") / "data"
    result = run_cli("run", "--data", str(data_dir), "--database", "views", "--workers", "2",
                     "--partitions", "16")  # the sample alone would be one partition
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def targets(db: Path) -> list[str]:
    """Domains and hosts linked in the graph, the most linked first, and one never linked."""
    with connect(db) as con:
        rows = con.execute(
            "select dst_domain, any_value(dst_host) from external_links "
            "group by dst_domain order by count(*) desc, dst_domain limit 8").fetchall()
    return [name for row in rows for name in row] + ["not-linked.example"]


def files_read(con: duckdb.DuckDBPyConnection, query: str, *parameters: str) -> int:
    """How many Parquet files DuckDB opened to answer ``query``."""
    plan = "".join(row[1] for row in con.execute(f"explain analyze {query}",
                                                 list(parameters)).fetchall())
    counts = [int(n) for n in re.findall(r"Total Files Read: (\d+)", plan)]
    assert counts, plan
    return sum(counts)


def test_a_views_database_is_small_and_holds_views(views_run: CliRun,
                                                   sample_run: CliRun) -> None:
    con = duckdb.connect(str(views_run.db), read_only=True)
    try:
        views = {name for (name,) in con.execute("select view_name from duckdb_views()").fetchall()}
        tables = {name for (name,) in con.execute("select table_name from duckdb_tables()")
                  .fetchall()}
        assert set(TABLES) - set(COPIED_INTO_VIEWS) <= views
        assert set(COPIED_INTO_VIEWS) <= tables
        for table, column in COPIED_INTO_VIEWS.items():  # stored in name order
            names = [name for (name,) in con.execute(f"select {column} from {table}").fetchall()]
            assert names == sorted(names) and len(names) > 100
        assert con.execute("select database from storage").fetchall() == [("views",)]
    finally:
        con.close()
    assert views_run.db.stat().st_size < sample_run.db.stat().st_size


def test_a_views_database_answers_as_the_tables_database(views_run: CliRun,
                                                         sample_run: CliRun) -> None:
    assert graph_rows(views_run.db) == graph_rows(sample_run.db)
    names = targets(sample_run.db)
    with connect(views_run.db) as views_con, connect(sample_run.db) as tables_con:
        for macro in MACROS:
            for target in names:
                assert run_macro(views_con, macro, target) == run_macro(
                    tables_con, macro, target), (macro, target)
        for macro in PAIR_MACROS:
            pair = (names[0], names[2]) if macro.startswith("common") else (
                names[0], "CC-MAIN-2099-01")
            assert run_macro(views_con, macro, *pair) == run_macro(tables_con, macro, *pair)
        screen = "select * from first_backlinks(?, 20)"
        for target in names:
            assert views_con.execute(screen, [target]).fetchall() == tables_con.execute(
                screen, [target]).fetchall(), target


def test_a_lookup_reads_only_the_files_of_the_targets_partitions(views_run: CliRun) -> None:
    query = "select * from backlinks(?)"  # the links only (referring_domains adds domains)
    everything = "select * from links"
    for con in (duckdb.connect(str(views_run.db), read_only=True),  # a plain DuckDB client
                connect(views_run.db)):
        try:
            assert files_read(con, everything) == DEFAULT_PARTITIONS
            for target in ("www.google.com", "google.com", "a.b.c.example.co.uk"):
                candidates = con.execute("select target_candidates(?)", [target]).fetchone()[0]
                own = {partition_of(name, DEFAULT_PARTITIONS) for name in candidates}
                assert files_read(con, query, target) == len(own) < DEFAULT_PARTITIONS
                # referring domains and their authority: the same link files (for a host
                # target), at most the referral file of the target's own partition (for a
                # domain), and no Parquet file of hosts or domains (tables in the database)
                assert files_read(con, "select * from referring_domains(?)", target) in (
                    len(own), len(own) + 1)
                # the first screen of backlinks: two scans of the same link files (the
                # referring domains' links and a host's), and up to four of the target's
                # referral file (two top-20 scans, each reading it again for its rows)
                assert files_read(con, "select * from first_backlinks(?, 20)", target) <= (
                    2 * len(own) + 4) < DEFAULT_PARTITIONS
            # the file read is the one of the target's registered domain
            (files,) = con.execute("select target_link_files('google.com')").fetchone()
            assert f"p{partition_of('google.com', DEFAULT_PARTITIONS):04d}.parquet" in " ".join(
                files)
            assert files_read(con, "select * from target_referrals('google.com')") == 1
            assert files_read(con, "select * from target_profile('google.com')") == 1
        finally:
            con.close()


@pytest.mark.parametrize("partitions", [1, 7, 16, 4096])
def test_partition_of_in_sql_is_the_pipelines(partitions: int) -> None:
    from pipeline.publish.database import sql_files

    con = duckdb.connect()
    for sql_file in sql_files():
        con.execute(sql_file.read_text("utf-8"))
    names = ["google.com", "xn--bcher-kva.de", "bücher.de", "", "a" * 300, "co.uk"]
    got = [con.execute("select partition_of(?, ?)", [name, partitions]).fetchone()[0]
           for name in names]
    assert got == [partition_of(name, partitions) for name in names]


def test_a_path_that_cannot_be_written_into_a_view_is_refused(tmp_path: Path) -> None:
    plain = LocalData(tmp_path / "data")
    assert plain.view_literal("graph/links/p0000.parquet") == (
        f"'{tmp_path / 'data' / 'graph/links/p0000.parquet'}'")
    for bad in ("it's", "a b", "semi;colon"):
        with pytest.raises(ConfigError, match="cannot be written into a view"):
            LocalData(tmp_path / bad).view_literal("graph/links/p0000.parquet")


def test_a_views_run_into_an_unquotable_folder_fails_before_any_work(tmp_path: Path) -> None:
    data = tmp_path / "it's data"
    result = run_cli("run", "--data", str(data), "--database", "views")
    assert result.returncode == 2, result.stderr
    assert "cannot be written into a view" in result.stderr


def test_the_link_files_are_listed_by_partition_with_their_sub_buckets() -> None:
    from pipeline.publish.database import _files_by_partition

    files = ["links/p0000.parquet", "links/p0001-s000.parquet", "links/p0001-s001.parquet",
             "links/p0002.parquet"]
    quoted = [f"'/d/graph/{name}'" for name in files]
    assert _files_by_partition("links", files, quoted) == (
        "[['/d/graph/links/p0000.parquet'], ['/d/graph/links/p0001-s000.parquet', "
        "'/d/graph/links/p0001-s001.parquet'], ['/d/graph/links/p0002.parquet']]")
    with pytest.raises(GraphError, match="links have no file of partition 1"):
        _files_by_partition("links", [files[0], files[3]], [quoted[0], quoted[3]])
    with pytest.raises(GraphError, match="hosts have no file of partition 0"):
        _files_by_partition("hosts", [], [])
    with pytest.raises(GraphError, match="is not a partition's file"):
        _files_by_partition("links", ["links/all.parquet"], ["'/d/graph/links/all.parquet'"])

"""The `backlinks` command end to end on the genuine Common Crawl sample.

Each macro's output is checked against counts computed here, independently, from the
`links` table with Polars, and the link rows against the HTML for one page.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import polars as pl
from conftest import CliRun, run_cli

from pipeline.bundled import sample_files


def frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    result = con.execute(sql)
    columns = [c[0] for c in result.description]
    return pl.DataFrame(result.fetchall(), schema=columns, orient="row")


def links_frame(run: CliRun) -> pl.DataFrame:
    return frame(duckdb.connect(str(run.db), read_only=True), "select * from links")


def test_run_on_the_sample_prints_a_summary(sample_run: CliRun) -> None:
    out = sample_run.stdout
    assert ": complete" in out
    assert f"inputs    {len(sample_files())} ({len(sample_files())} processed, 0 reused, 0 failed)" in out
    assert "pages/s" in out and "database" in out
    assert sample_run.stderr.count("done   ") == len(sample_files())  # progress per input


def test_sample_graph_tables_are_consistent(sample_run: CliRun) -> None:
    con = duckdb.connect(str(sample_run.db), read_only=True)
    links = links_frame(sample_run)
    assert links.height > 200
    assert links.filter(pl.col("src_host") == pl.col("dst_host")).height == 0
    assert links.filter(pl.col("external") != (pl.col("src_domain") != pl.col("dst_domain"))).height == 0
    expected = (
        links.group_by("src_host", "dst_host")
        .agg(pl.len().alias("links"), pl.col("nofollow").sum().alias("nofollow_links"))
        .sort("src_host", "dst_host")
    )
    actual = frame(con, "select src_host, dst_host, links, nofollow_links from host_edges order by all")
    assert actual.rows() == expected.with_columns(pl.col("nofollow_links").cast(pl.Int64)).rows()
    crawls = {r[0] for r in con.execute("select distinct crawl from pages").fetchall()}
    assert {"CC-MAIN-2024-22", "CC-MAIN-2020-34", "CC-MAIN-2014-35", "local"} <= crawls
    pages = con.execute("select count(*), count(distinct (crawl, url)) from pages").fetchone()
    assert pages[0] == pages[1] >= 30
    (run,) = con.execute("select status, inputs, failed_inputs from runs").fetchall()
    assert run == ("complete", len(sample_files()), [])


def busiest_target(links: pl.DataFrame) -> str:
    external = links.filter(pl.col("external"))
    return external.group_by("dst_domain").agg(pl.col("src_domain").n_unique().alias("n")).sort(
        ["n", "dst_domain"], descending=[True, False]
    )["dst_domain"][0]


def test_referring_domains_macro_matches_independent_counts(sample_run: CliRun) -> None:
    links = links_frame(sample_run)
    target = busiest_target(links)
    into = links.filter(pl.col("external") & (pl.col("dst_domain") == target))
    expected = {
        row["src_domain"]: (row["pages"], row["links"], row["nofollow"])
        for row in into.group_by("src_domain").agg(
            pl.col("src_url").n_unique().alias("pages"), pl.len().alias("links"),
            pl.col("nofollow").sum().alias("nofollow"),
        ).iter_rows(named=True)
    }
    con = duckdb.connect(str(sample_run.db), read_only=True)
    got = con.execute(
        "select referring_domain, pages, links, nofollow_links from referring_domains(?)", [target]
    ).fetchall()
    assert {r[0]: (r[1], r[2], r[3]) for r in got} == expected
    assert [r[1] for r in got] == sorted((r[1] for r in got), reverse=True)  # most pages first
    assert len(expected) >= 2


def test_backlinks_anchors_hosts_and_linked_domains_match(sample_run: CliRun) -> None:
    links = links_frame(sample_run)
    target = busiest_target(links)
    into = links.filter(pl.col("external") & (pl.col("dst_domain") == target))
    con = duckdb.connect(str(sample_run.db), read_only=True)
    assert con.execute("select count(*) from backlinks(?)", [target]).fetchone()[0] == into.height
    anchors = dict(con.execute("select anchor, links from anchors(?)", [target]).fetchall())
    assert anchors == dict(Counter(into["anchor"].to_list()))
    hosts = dict(con.execute("select referring_host, links from referring_hosts(?)", [target]).fetchall())
    assert hosts == dict(Counter(into["src_host"].to_list()))
    source = into["src_domain"][0]
    outbound = links.filter(pl.col("external") & (pl.col("src_domain") == source))
    linked = dict(con.execute("select linked_domain, links from linked_domains(?)", [source]).fetchall())
    assert linked == dict(Counter(outbound["dst_domain"].to_list()))


def test_query_command_prints_referring_domains(sample_run: CliRun) -> None:
    target = busiest_target(links_frame(sample_run))
    result = run_cli("query", target, "--data", str(sample_run.data_dir), "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    con = duckdb.connect(str(sample_run.db), read_only=True)
    expected = con.execute("select referring_domain, links from referring_domains(?) limit 20", [target]).fetchall()
    assert [(r["referring_domain"], r["links"]) for r in rows] == expected
    table = run_cli("query", target.upper(), "--data", str(sample_run.data_dir))
    assert table.returncode == 0 and "referring_domain" in table.stdout and expected[0][0] in table.stdout


def test_query_unknown_target_says_so(sample_run: CliRun) -> None:
    result = run_cli("query", "no-such-domain.example", "--data", str(sample_run.data_dir))
    assert result.returncode == 0
    assert "No referring domains of 'no-such-domain.example'" in result.stderr


def test_sql_command_runs_sql_with_macros(sample_run: CliRun) -> None:
    target = busiest_target(links_frame(sample_run))
    result = run_cli(
        "sql", f"select count(*) as n from referring_domains('{target}')",
        "--db", str(sample_run.db), "--format", "csv",
    )
    assert result.returncode == 0, result.stderr
    con = duckdb.connect(str(sample_run.db), read_only=True)
    assert result.stdout.splitlines() == ["n", str(con.execute("select count(*) from referring_domains(?)", [target]).fetchone()[0])]
    bad = run_cli("sql", "select * from nope", "--db", str(sample_run.db))
    assert bad.returncode == 2 and "SQL error" in bad.stderr and "nope" in bad.stderr


def test_sql_is_read_only(sample_run: CliRun) -> None:
    result = run_cli("sql", "drop table links", "--db", str(sample_run.db))
    assert result.returncode == 2 and "read-only" in result.stderr


def test_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("query", "example.com", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "no database at" in result.stderr and "backlinks run" in result.stderr


def test_rerun_reuses_complete_parts(sample_run: CliRun, prefect_api: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_run.data_dir, data)
    (data / "graph.duckdb").unlink()
    again = run_cli("run", "--data", str(data), "--workers", "1",
                    env={"PREFECT_API_URL": prefect_api})
    assert again.returncode == 0, again.stderr
    assert f"({len(sample_files())} reused" not in again.stdout  # sanity of the format below
    assert f"0 processed, {len(sample_files())} reused, 0 failed" in again.stdout
    assert "pages/s" not in again.stdout  # no "(0.0 pages/s)" when nothing was read
    old = duckdb.connect(str(sample_run.db), read_only=True).execute("select * from host_edges order by all").fetchall()
    new = duckdb.connect(str(again.db), read_only=True).execute("select * from host_edges order by all").fetchall()
    assert old == new


def test_all_inputs_failing_publishes_nothing(prefect_api: str, tmp_path: Path) -> None:
    empty = tmp_path / "nothing.warc.gz"
    empty.write_bytes(b"")
    run = run_cli("run", "--data", str(tmp_path / "data"), "--input", str(empty),
                  env={"PREFECT_API_URL": prefect_api})
    assert run.returncode == 1
    assert ": failed (every input failed)" in run.stdout  # not "partial"
    assert "not published" in run.stdout
    assert not (tmp_path / "data" / "graph.duckdb").exists()
    # the summary says why; Prefect's own ERROR line and traceback would say it again, raw
    assert "ERROR" not in run.stderr and "Traceback" not in run.stderr
    # the failure line names the file once, and a local file is not told to download it
    (line,) = [line for line in run.stderr.splitlines() if "FAILED" in line]
    assert line.count("nothing.warc.gz") == 1 and "download" not in line
    assert "copy or write it again" in line


def test_help_lists_the_verbs() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for verb in ("run", "query", "sql"):
        assert f"  {verb}" in result.stdout
    commands = result.stdout.split("Commands:", 1)[1]
    assert "..." not in commands  # no description cut short

"""Publishing the DuckDB database: atomic, self-contained, with the macros."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from test_aggregate import link, page, write

from pipeline.errors import DatabaseError
from pipeline.graph.aggregate import aggregate
from pipeline.publish.database import publish
from pipeline.runs import RunRecord
from pipeline.serve.database import MACROS, REQUIRED_TABLES, connect, run_macro
from pipeline.storage import Folder, LocalData

NOW = datetime(2024, 6, 1, tzinfo=UTC)
RUN = RunRecord("r1", NOW, NOW, "complete", 1, 0, 10, 2, 3, [], {"skipped_request": 2}, {"workers": 1})


def build_graph(data_dir: Path, extra_domain: str | None = None) -> Folder:
    c = "CC-MAIN-2024-22"
    rows = [
        (page(c, "https://blog.a.org/1", "blog.a.org", "a.org"), [
            link(c, "https://blog.a.org/1", "blog.a.org", "a.org", "www.t.com", "t.com", anchor="T home"),
            link(c, "https://blog.a.org/1", "blog.a.org", "a.org", "shop.t.com", "t.com", nofollow=True, anchor="buy"),
        ]),
        (page(c, "https://news.b.net/x", "news.b.net", "b.net"), [
            link(c, "https://news.b.net/x", "news.b.net", "b.net", "www.t.com", "t.com", anchor="T home"),
        ]),
        (page(c, "https://www.t.com/", "www.t.com", "t.com"), [
            link(c, "https://www.t.com/", "www.t.com", "t.com", "shop.t.com", "t.com", anchor="shop"),
        ]),
    ]
    if extra_domain:
        rows.append((page(c, f"https://{extra_domain}/", extra_domain, extra_domain), [
            link(c, f"https://{extra_domain}/", extra_domain, extra_domain, "www.t.com", "t.com"),
        ]))
    write(data_dir, "part", rows)
    return Folder(LocalData(data_dir), aggregate(LocalData(data_dir)).folder)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return publish(build_graph(tmp_path), [RUN], tmp_path / "out" / "graph.duckdb")


def test_tables_and_macros_exist(db: Path) -> None:
    con = connect(db)
    tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    assert set(REQUIRED_TABLES) <= tables
    macros = {r[0] for r in con.execute("select function_name from duckdb_functions() where function_type = 'table_macro'").fetchall()}
    assert set(MACROS) <= macros
    assert con.execute("select run_id, status, skipped->>'skipped_request' from runs").fetchall() == [("r1", "complete", "2")]


def test_referring_domains(db: Path) -> None:
    columns, rows = run_macro(connect(db), "referring_domains", "t.com")
    got = {r[0]: dict(zip(columns, r)) for r in rows}
    assert set(got) == {"a.org", "b.net"}  # www.t.com -> shop.t.com is internal
    assert (got["a.org"]["links"], got["a.org"]["dofollow_links"], got["a.org"]["nofollow_links"]) == (2, 1, 1)
    assert got["a.org"]["top_anchors"] == ["T home", "buy"] or got["a.org"]["top_anchors"] == ["buy", "T home"]
    assert got["b.net"]["top_anchors"] == ["T home"]
    # a host target narrows to links into that host
    _, rows = run_macro(connect(db), "referring_domains", "shop.t.com")
    assert [r[0] for r in rows] == ["a.org"]


def test_target_case_and_trailing_dot_do_not_matter(db: Path) -> None:
    con = connect(db)
    assert run_macro(con, "referring_domains", "T.COM.")[1] == run_macro(con, "referring_domains", "t.com")[1]


def test_backlinks_anchors_hosts_and_outbound(db: Path) -> None:
    con = connect(db)
    columns, rows = run_macro(con, "backlinks", "t.com")
    assert len(rows) == 3
    first = dict(zip(columns, rows[0]))
    assert first["dofollow"] is True  # dofollow first
    columns, rows = run_macro(con, "anchors", "t.com")
    assert dict(zip(columns, rows[0]))["anchor"] == "T home"
    assert dict(zip(columns, rows[0]))["referring_domains"] == 2
    _, rows = run_macro(con, "referring_hosts", "t.com")
    assert sorted(r[0] for r in rows) == ["blog.a.org", "news.b.net"]
    _, rows = run_macro(con, "linked_domains", "a.org")
    assert [(r[0], r[2]) for r in rows] == [("t.com", 2)]


def test_database_works_after_moving_it_elsewhere(db: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "copy.duckdb"
    moved.parent.mkdir()
    shutil.copy(db, moved)
    shutil.rmtree(tmp_path / "graph")  # the Parquet aggregates are not needed any more
    con = duckdb.connect(str(moved), read_only=True)
    assert con.execute("select count(*) from referring_domains('t.com')").fetchone() == (2,)


def test_publish_replaces_atomically_and_old_readers_keep_their_view(tmp_path: Path) -> None:
    db_path = tmp_path / "graph.duckdb"
    publish(build_graph(tmp_path / "v1"), [RUN], db_path)
    reader = duckdb.connect(str(db_path), read_only=True)
    assert reader.execute("select count(*) from referring_domains('t.com')").fetchone() == (2,)
    publish(build_graph(tmp_path / "v2", extra_domain="c.io"), [RUN], db_path)
    # the open reader still sees the old graph, whole; a new reader (another process: in
    # one process DuckDB shares the instance already open on that path) sees the new one
    assert reader.execute("select count(*) from referring_domains('t.com')").fetchone() == (2,)
    new_reader = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True)"
         ".execute(\"select count(*) from referring_domains('t.com')\").fetchone()[0])", str(db_path)],
        capture_output=True, text=True, check=True,
    )
    assert new_reader.stdout.strip() == "3"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["graph.duckdb"]


def test_failed_build_leaves_the_old_database_and_no_temporary_file(tmp_path: Path) -> None:
    db_path = tmp_path / "graph.duckdb"
    folder = build_graph(tmp_path / "v1")
    publish(folder, [RUN], db_path)
    before = db_path.read_bytes()
    Path(folder.url("links/p0000.parquet")).write_bytes(b"not parquet")
    with pytest.raises(duckdb.Error):
        publish(folder, [RUN], db_path)
    assert db_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["graph.duckdb"]


def test_connect_errors_name_the_path_and_the_remedy(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="no database at .*backlinks run"):
        connect(tmp_path / "missing.duckdb")
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("create table x(a int)").close()
    with pytest.raises(DatabaseError, match="not a cc-backlinks database"):
        connect(other)


def test_targets_are_bound_never_formatted_into_sql(db: Path) -> None:
    con = connect(db)
    hostile = "t.com') union select 1,2,3,4,5,6,7,8,9 --"
    assert run_macro(con, "referring_domains", hostile)[1] == []
    assert con.execute("select count(*) from links").fetchone()[0] > 0
    with pytest.raises(DatabaseError, match="unknown macro"):
        run_macro(con, "links; drop table links", "t.com")


def test_a_database_from_an_older_version_says_to_rebuild(tmp_path: Path) -> None:
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    for table in ("pages", "links", "host_edges", "domain_edges", "hosts", "runs"):
        con.execute(f"create table {table} (x int)")
    con.close()
    with pytest.raises(DatabaseError, match="built by an older cc-backlinks .*'domains'.*rebuild"):
        connect(old)

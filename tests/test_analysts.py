"""The analysts' layer: macros with known answers on a small graph built for them, the
macros against plain SQL on the sample, and exports that read back to what they wrote."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import CliRun, run_cli

from pipeline.extract.rows import LinkRow, PageRow
from pipeline.graph.aggregate import GraphOptions, aggregate
from pipeline.parts.part import PartWriter
from pipeline.publish.database import publish
from pipeline.serve.database import run_macro
from pipeline.storage import Folder, LocalData

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


def _link(src_url: str, dst_url: str, anchor: str, *, context: str = "body",
          nofollow: bool = False, sponsored: bool = False) -> LinkRow:
    src_host, dst_host = src_url.split("/")[2], dst_url.split("/")[2]
    return LinkRow(crawl="CC-MAIN-2024-22", src_url=src_url, src_host=src_host,
                   src_domain=src_host, dst_url=dst_url, dst_host=dst_host, dst_domain=dst_host,
                   anchor=anchor, link_type="a", context=context, nofollow=nofollow, ugc=False,
                   sponsored=sponsored, external=src_host != dst_host, fetch_time=WHEN)


def _page(url: str) -> PageRow:
    host = url.split("/")[2]
    return PageRow(crawl="CC-MAIN-2024-22", url=url, host=host, domain=host, fetch_time=WHEN,
                   status=200, links_internal=0, links_external=0, robots_nofollow=False,
                   truncated=False)


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """blog.example (10 pages) links to shop.test from every footer, and page 0 also to
    shop.test/sale (sponsored), to rival.test and to news.test; news.test (1 page) links to
    shop.test/sale (nofollow) and rival.test. So news.test, linked once, outranks
    blog.example, linked by nobody, though blog.example gives more links."""
    data = tmp_path_factory.mktemp("shop")
    pages = []
    for number in range(10):
        url = f"https://blog.example/{number}"
        links = [_link(url, "https://shop.test/", "Shop", context="footer")]
        if number == 0:
            links += [
                _link(url, "https://shop.test/sale", "Big sale", sponsored=True),
                _link(url, "https://rival.test/", "Rival"),
                _link(url, "https://news.test/", "News"),
            ]
        pages.append((_page(url), links))
    news = "https://news.test/1"
    pages.append((_page(news), [
        _link(news, "https://shop.test/sale", "Big sale", nofollow=True),
        _link(news, "https://rival.test/", "Rival", context="nav"),
    ]))
    with PartWriter(LocalData(data), "shop") as writer:
        for page, links in pages:
            writer.add(page, links)
        writer.commit({"input": "shop", "size": 1, "version": "1", "crawl": "c", "records": 11,
                       "counters": {}, "seconds": 0.0})
    aggregate(LocalData(data), GraphOptions(sitewide_share=0.5, sitewide_min_pages=3))
    db = publish(Folder(LocalData(data), "graph"), [], data / "graph.duckdb")
    return duckdb.connect(str(db), read_only=True)


def rows(con: duckdb.DuckDBPyConnection, macro: str, *arguments: str) -> list[dict]:
    columns, values = run_macro(con, macro, *arguments)
    return [dict(zip(columns, row, strict=True)) for row in values]


def test_link_profile(shop_db: duckdb.DuckDBPyConnection) -> None:
    (profile,) = rows(shop_db, "link_profile", "Shop.Test.")
    authority = shop_db.execute(
        "select authority from domains where domain = 'shop.test'").fetchone()[0]
    assert profile == {
        "target": "shop.test", "backlinks": 12, "referring_domains": 2, "referring_hosts": 2,
        "referring_pages": 11, "dofollow_share": round(10 / 12, 3),
        # sitewide is a property of (source host, target domain): blog.example's 11 links
        "sitewide_share": round(11 / 12, 3), "top_anchors": ["Shop", "Big sale"],
        "authority": authority, "first_seen": "CC-MAIN-2024-22", "last_seen": "CC-MAIN-2024-22",
    }
    # shop.test and rival.test tie at the top (harmonic 2: linked by both others); 2 of the
    # 3 other domains have a lower harmonic centrality
    assert authority == round(100 * 2 / 3, 1)


def test_link_profile_of_an_unknown_target_is_one_row_of_zeros(
    shop_db: duckdb.DuckDBPyConnection,
) -> None:
    (profile,) = rows(shop_db, "link_profile", "nowhere.test")
    assert (profile["backlinks"], profile["referring_domains"], profile["top_anchors"]) == (0, 0, [])
    assert profile["authority"] is None and profile["dofollow_share"] is None


def test_referring_domains_are_ordered_by_authority(shop_db: duckdb.DuckDBPyConnection) -> None:
    got = rows(shop_db, "referring_domains", "shop.test")
    assert [r["referring_domain"] for r in got] == ["news.test", "blog.example"]
    news, blog = got
    assert news["authority"] > blog["authority"] == 0.0
    assert (blog["pages"], blog["links"], blog["dofollow_links"], blog["dofollow_share"]) == (
        10, 11, 10, round(10 / 11, 3))
    assert blog["sitewide"] and not news["sitewide"]
    assert (news["links"], news["nofollow_links"], news["dofollow_share"]) == (1, 1, 0.0)


def test_top_pages(shop_db: duckdb.DuckDBPyConnection) -> None:
    got = rows(shop_db, "top_pages", "shop.test")
    assert [(r["page"], r["referring_domains"], r["links"], r["dofollow_links"]) for r in got] == [
        ("https://shop.test/sale", 2, 2, 0),
        ("https://shop.test/", 1, 10, 10),
    ]
    assert got[0]["top_anchors"] == ["Big sale"]


def test_link_types_and_contexts(shop_db: duckdb.DuckDBPyConnection) -> None:
    assert [(r["link_type"], r["links"], r["share"]) for r in rows(shop_db, "link_types", "shop.test")] == [
        ("a", 12, 1.0)]
    contexts = rows(shop_db, "link_contexts", "shop.test")
    assert [(r["context"], r["links"], r["sitewide_links"]) for r in contexts] == [
        ("footer", 10, 10), ("body", 2, 1)]
    assert sum(r["share"] for r in contexts) == pytest.approx(1.0)


def test_common_referring_domains(shop_db: duckdb.DuckDBPyConnection) -> None:
    got = rows(shop_db, "common_referring_domains", "shop.test", "rival.test")
    assert [(r["referring_domain"], r["links_to_a"], r["links_to_b"]) for r in got] == [
        ("news.test", 1, 1), ("blog.example", 11, 1)]
    # blog.example links to both shop.test and news.test; news.test does not link to itself
    assert [r["referring_domain"] for r in
            rows(shop_db, "common_referring_domains", "shop.test", "news.test")] == ["blog.example"]
    assert rows(shop_db, "common_referring_domains", "shop.test", "nowhere.test") == []


@pytest.mark.parametrize("hostile", ["x' OR 1=1 --", "shop.test' OR '1'='1", "'); drop table links; --"])
def test_common_referring_domains_binds_both_arguments(
    shop_db: duckdb.DuckDBPyConnection, hostile: str
) -> None:
    assert rows(shop_db, "common_referring_domains", hostile, "rival.test") == []
    assert rows(shop_db, "common_referring_domains", "shop.test", hostile) == []
    assert shop_db.execute("select count(*) from links").fetchone()[0] == 15


# ---- the macros on the sample, against plain SQL -------------------------------------


def test_macros_agree_with_plain_sql_on_the_sample(sample_run: CliRun) -> None:
    con = duckdb.connect(str(sample_run.db), read_only=True)
    targets = [t for (t,) in con.execute(
        "select dst_domain from links where external group by 1 order by count(*) desc limit 5"
    ).fetchall()]
    for target in targets:
        (profile,) = rows(con, "link_profile", target)
        backlinks, domains, dofollow, sitewide = con.execute(
            "select count(*), count(distinct src_domain), "
            "count(*) filter (where not (nofollow or ugc or sponsored)), "
            "count(*) filter (where sitewide) from links where external and dst_domain = ?",
            [target]).fetchone()
        assert (profile["backlinks"], profile["referring_domains"]) == (backlinks, domains)
        assert profile["dofollow_share"] == round(dofollow / backlinks, 3)
        assert profile["sitewide_share"] == round(sitewide / backlinks, 3)
        assert len(rows(con, "referring_domains", target)) == domains
        assert sum(r["links"] for r in rows(con, "top_pages", target)) == backlinks
        assert sum(r["links"] for r in rows(con, "link_types", target)) == backlinks
        assert sum(r["links"] for r in rows(con, "link_contexts", target)) == backlinks
        authorities = [r["authority"] for r in rows(con, "referring_domains", target)]
        assert authorities == sorted(authorities, reverse=True)


# ---- exports --------------------------------------------------------------------------


def export(sample_run: CliRun, *args: str) -> CliRun:
    return run_cli("export", *args, "--db", str(sample_run.db))


def sql_count(sample_run: CliRun, query: str, *parameters: str) -> int:
    con = duckdb.connect(str(sample_run.db), read_only=True)
    return con.execute(query, list(parameters)).fetchone()[0]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_row_counts_equal_the_sql_counts(sample_run: CliRun, tmp_path: Path, fmt: str) -> None:
    target = "google.com"
    one = tmp_path / f"one.{fmt}"
    every = tmp_path / f"all.{fmt}"
    result = export(sample_run, target, "--format", fmt, "-o", str(one))
    assert result.returncode == 0, result.stderr
    assert export(sample_run, "--all", "--format", fmt, "-o", str(every)).returncode == 0
    expected_one = sql_count(sample_run, "select count(*) from backlinks(?)", target)
    expected_all = sql_count(sample_run, "select count(*) from external_links")
    assert expected_one > 0 and expected_all > expected_one
    assert f"Wrote {expected_one:,} rows" in result.stderr
    for path, expected in ((one, expected_one), (every, expected_all)):
        if fmt == "parquet":
            frame = pl.read_parquet(path)
        elif fmt == "csv":
            with path.open(newline="") as handle:
                frame = pl.DataFrame(list(csv.DictReader(handle)))
        else:
            frame = pl.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
        assert frame.height == expected, path
        assert "dst_domain" in frame.columns and "context" in frame.columns
    assert not list(tmp_path.glob(".*tmp*")), "no temporary file is left behind"


@pytest.mark.parametrize(("graph", "table", "src", "dst", "key"), [
    ("host", "host_edges", "src_host", "dst_host", "hosts"),
    ("domain", "domain_edges", "src_domain", "dst_domain", "domains"),
])
def test_webgraph_export_reads_back_to_the_same_edges(
    sample_run: CliRun, tmp_path: Path, graph: str, table: str, src: str, dst: str, key: str
) -> None:
    prefix = tmp_path / "cc" / graph
    result = export(sample_run, "--all", "--format", "webgraph", "--graph", graph, "-o", str(prefix))
    assert result.returncode == 0, result.stderr
    with gzip.open(f"{prefix}-vertices.txt.gz", "rt") as handle:
        vertices = [line.rstrip("\n").split("\t") for line in handle]
    with gzip.open(f"{prefix}-edges.txt.gz", "rt") as handle:
        edges = [tuple(map(int, line.split("\t"))) for line in handle]
    # ids 0..n-1 in the order of the reversed names, which are sorted; edges sorted
    assert [int(v[0]) for v in vertices] == list(range(len(vertices)))
    reversed_names = [v[1] for v in vertices]
    assert reversed_names == sorted(reversed_names)
    assert edges == sorted(edges)
    name = {int(v[0]): ".".join(reversed(v[1].split("."))) for v in vertices}
    con = duckdb.connect(str(sample_run.db), read_only=True)
    expected = set(con.execute(f"select {src}, {dst} from {table}").fetchall())
    assert {(name[a], name[b]) for a, b in edges} == expected
    assert len(vertices) == con.execute(f"select count(*) from {key}").fetchone()[0]
    if graph == "domain":  # the third column: hosts per domain
        hosts = dict(con.execute("select domain, hosts from domains").fetchall())
        assert all(int(v[2]) == hosts[name[int(v[0])]] for v in vertices)


def test_export_refuses_to_overwrite_without_force(sample_run: CliRun, tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("keep me")
    refused = export(sample_run, "google.com", "--format", "csv", "-o", str(path))
    assert refused.returncode == 2
    assert "exists; pass --force to replace it" in refused.stderr
    assert path.read_text() == "keep me"
    forced = export(sample_run, "google.com", "--format", "csv", "-o", str(path), "--force")
    assert forced.returncode == 0 and path.read_text().startswith("src_url,")


@pytest.mark.parametrize(("args", "message"), [
    (("--format", "csv"), "name a TARGET"),
    (("x.org", "--all"), "name a TARGET"),
    (("x.org", "--format", "webgraph"), "pass --all instead of a TARGET"),
])
def test_export_usage_errors(sample_run: CliRun, tmp_path: Path, args: tuple[str, ...],
                             message: str) -> None:
    result = export(sample_run, *args, "-o", str(tmp_path / "x"))
    assert result.returncode == 2 and message in result.stderr
    assert not list(tmp_path.iterdir())


def test_export_binds_a_hostile_target(sample_run: CliRun, tmp_path: Path) -> None:
    before = sql_count(sample_run, "select count(*) from links")
    path = tmp_path / "x.csv"
    result = export(sample_run, "x' OR 1=1 --", "--format", "csv", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert path.read_text().splitlines()[1:] == []  # a header and no row
    assert sql_count(sample_run, "select count(*) from links") == before

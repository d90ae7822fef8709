"""Several crawls in one graph: runs accumulate, edges keep first_seen and last_seen, and
new_referring_domains / lost_referring_domains compare a crawl with the one before it.

The two crawls are real WARC files written here with warcio (a warcinfo record naming the
crawl, then HTML responses), each processed by its own `backlinks run` into one data folder.
"""

from __future__ import annotations

import io
from pathlib import Path

import duckdb
import pytest
from conftest import run_cli
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

FIRST, SECOND = "CC-MAIN-2024-10", "CC-MAIN-2024-18"

# crawl -> page URL -> the URLs it links to
CRAWLS = {
    FIRST: {
        "https://blog.a.test/1": ["https://shop.test/", "https://old.test/"],
        "https://news.b.test/1": ["https://shop.test/sale"],
    },
    SECOND: {
        "https://blog.a.test/1": ["https://shop.test/", "https://new.test/"],
        "https://news.b.test/1": ["https://other.test/"],
        "https://forum.c.test/1": ["https://shop.test/forum"],
    },
}


def write_crawl(path: Path, crawl: str, pages: dict[str, list[str]]) -> None:
    with path.open("wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"isPartOf": crawl}))
        for url, targets in pages.items():
            body = "".join(f'<p><a href="{t}">link to {t}</a></p>' for t in targets)
            payload = f"<html><body>{body}</body></html>".encode()
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                                  ("Content-Length", str(len(payload)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(payload), http_headers=headers))


@pytest.fixture(scope="module")
def two_crawls(
    tmp_path_factory: pytest.TempPathFactory, prefect_api: str
) -> duckdb.DuckDBPyConnection:
    folder = tmp_path_factory.mktemp("crawls")
    data = folder / "data"
    for crawl, pages in CRAWLS.items():
        warc = folder / f"{crawl}.warc.gz"
        write_crawl(warc, crawl, pages)
        result = run_cli("run", "--input", str(warc), "--data", str(data), "--workers", "1",
                         env={"PREFECT_API_URL": prefect_api})
        assert result.returncode == 0, result.stderr
    return duckdb.connect(str(data / "graph.duckdb"), read_only=True)


def test_runs_over_two_crawls_accumulate(two_crawls: duckdb.DuckDBPyConnection) -> None:
    assert two_crawls.execute("select crawl, pages from crawls order by crawl").fetchall() == [
        (FIRST, 2), (SECOND, 3)]
    assert two_crawls.execute("select count(*) from pages").fetchone()[0] == 5


def test_edges_keep_first_and_last_seen(two_crawls: duckdb.DuckDBPyConnection) -> None:
    seen = dict(((src, dst), (first, last)) for src, dst, first, last in two_crawls.execute(
        "select src_host, dst_host, first_seen, last_seen from host_edges").fetchall())
    assert seen == {
        ("blog.a.test", "shop.test"): (FIRST, SECOND),
        ("blog.a.test", "old.test"): (FIRST, FIRST),
        ("blog.a.test", "new.test"): (SECOND, SECOND),
        ("news.b.test", "shop.test"): (FIRST, FIRST),
        ("news.b.test", "other.test"): (SECOND, SECOND),
        ("forum.c.test", "shop.test"): (SECOND, SECOND),
    }
    ((first, last),) = two_crawls.execute(
        "select first_seen, last_seen from domain_edges where src_domain = 'a.test' "
        "and dst_domain = 'shop.test'").fetchall()
    assert (first, last) == (FIRST, SECOND)


def names(con: duckdb.DuckDBPyConnection, macro: str, target: str, crawl: str) -> list[str]:
    return [row[0] for row in con.execute(f"select * from {macro}(?, ?)", [target, crawl]).fetchall()]


def test_new_and_lost_referring_domains(two_crawls: duckdb.DuckDBPyConnection) -> None:
    # second crawl against the first: c.test started linking, b.test stopped, a.test stayed
    assert names(two_crawls, "new_referring_domains", "shop.test", SECOND) == ["c.test"]
    assert names(two_crawls, "lost_referring_domains", "shop.test", SECOND) == ["b.test"]
    # the first crawl has no crawl before it: everything is new, nothing lost
    assert sorted(names(two_crawls, "new_referring_domains", "shop.test", FIRST)) == ["a.test", "b.test"]
    assert names(two_crawls, "lost_referring_domains", "shop.test", FIRST) == []
    # a crawl the graph does not hold: nothing either way
    assert names(two_crawls, "new_referring_domains", "shop.test", "CC-MAIN-2030-01") == []
    assert names(two_crawls, "lost_referring_domains", "shop.test", "CC-MAIN-2030-01") == []
    # a target by host works as everywhere; the rows say which crawl they compare with
    row = two_crawls.execute("select * from lost_referring_domains('shop.test', ?)", [SECOND]).fetchone()
    assert row[0] == "b.test" and row[-1] == FIRST


@pytest.mark.parametrize("hostile", ["x' OR 1=1 --", "'); drop table links; --"])
def test_time_aware_macros_bind_both_arguments(two_crawls: duckdb.DuckDBPyConnection, hostile: str) -> None:
    for macro in ("new_referring_domains", "lost_referring_domains"):
        assert names(two_crawls, macro, hostile, SECOND) == []
        assert names(two_crawls, macro, "shop.test", hostile) == []
    assert two_crawls.execute("select count(*) from links").fetchone()[0] == 7

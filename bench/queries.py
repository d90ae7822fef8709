"""Query latency on a large graph: a database of at least N host edges built with the
pipeline's own aggregation and publishing code, from generated links whose targets follow
a power law (a few hosts are linked from everywhere, most from one or two places)."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

from pipeline.aggregate import GraphOptions, write_graph
from pipeline.store import build

RUNS = 40


def _generate_links(folder: Path, edges: int) -> None:
    """Links (about one per host edge) as the aggregator writes them. Host names mix www.,
    bare and blog. hosts, as real ones do, so that sorting helps only where it would."""
    host_count = max(1000, edges // 5)
    con = duckdb.connect()
    con.execute("select setseed(0.42)")
    con.execute(
        f"""
        copy (
            with pairs as (
                select
                    (random() * {host_count})::bigint as src,
                    floor({host_count} * pow(random(), 3))::bigint as dst,
                    row_number() over () as k
                from range({int(edges * 1.15)})
            )
            select
                'CC-MAIN-2099-01' as crawl,
                'https://' || ['www.', '', 'blog.'][src % 3 + 1] || 'd' || (src // 3) || '.com/p/'
                    || (k % 7) as src_url,
                ['www.', '', 'blog.'][src % 3 + 1] || 'd' || (src // 3) || '.com' as src_host,
                'd' || (src // 3) || '.com' as src_domain,
                'https://' || ['www.', '', 'blog.'][dst % 3 + 1] || 'd' || (dst // 3) || '.com/t/'
                    || (k % 11) as dst_url,
                ['www.', '', 'blog.'][dst % 3 + 1] || 'd' || (dst // 3) || '.com' as dst_host,
                'd' || (dst // 3) || '.com' as dst_domain,
                'anchor ' || (k % 997) as anchor,
                'a' as link_type,
                'body' as context,
                k % 10 = 0 as nofollow,
                k % 50 = 0 as ugc,
                k % 70 = 0 as sponsored,
                (src // 3) <> (dst // 3) as external,
                timestamptz '2099-01-01 00:00:00+00' as fetch_time
            from pairs
            where src <> dst
        ) to '{folder / "raw_links.parquet"}' (format parquet, compression zstd)
        """
    )


def build_database(path: Path, edges: int) -> None:
    folder = path.parent / f"{path.stem}-graph"
    folder.mkdir(parents=True, exist_ok=True)
    _generate_links(folder, edges)
    raw = pl.scan_parquet(folder / "raw_links.parquet")
    pages = raw.select(
        "crawl", pl.col("src_url").alias("url"), pl.col("src_host").alias("host"),
        pl.col("src_domain").alias("domain"), "fetch_time",
        pl.lit(200, pl.Int16).alias("status"), pl.lit(0, pl.Int32).alias("links_internal"),
        pl.lit(1, pl.Int32).alias("links_external"),
        pl.lit(False).alias("robots_nofollow"), pl.lit(False).alias("truncated"),
    ).unique(subset=["crawl", "url"])
    # few harmonic samples: the ranks are not what this benchmark measures (bench/ranks.py)
    write_graph(pages, raw, folder, GraphOptions(harmonic_samples=8))
    path.unlink(missing_ok=True)
    build(folder, [], path)


def _latencies(con: duckdb.DuckDBPyConnection, sql: str, target: str) -> list[float]:
    con.execute(sql, [target]).fetchall()  # warm: the first run reads from disk
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        con.execute(sql, [target]).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return times


def query_latencies(path: Path, edges: int) -> list[tuple[str, str, str]]:
    """Rows for the benchmark table: p50/p95 per macro and target."""
    if not path.exists():
        print(f"building {path.name} with >= {edges:,} host edges ...", file=sys.stderr)
        build_database(path, edges)
    con = duckdb.connect(str(path), read_only=True)
    host_edge_count = con.execute("select count(*) from host_edges").fetchone()[0]
    link_count = con.execute("select count(*) from links").fetchone()[0]
    popular, popular_links = con.execute(
        "select dst_domain, count(*) from links where external group by 1 order by 2 desc limit 1"
    ).fetchone()
    rare, rare_links = con.execute(
        "select dst_domain, count(*) from links where external group by 1 "
        "having count(*) = 2 order by 1 limit 1"
    ).fetchone()
    rows = [("query database", f"{host_edge_count:,} host edges", f"{link_count:,} links")]
    for macro in ("referring_domains", "backlinks"):
        for kind, target, count in (("popular", popular, popular_links), ("rare", rare, rare_links)):
            for limit in ("", " limit 20"):  # every row, and the first screen (the CLI's)
                sql = f"select * from {macro}(?){limit}"
                returned = len(con.execute(sql, [target]).fetchall())
                times = _latencies(con, sql, target)
                p50 = statistics.median(times)
                p95 = statistics.quantiles(times, n=20)[-1]
                rows.append((f"{macro}, {kind} target{limit}", f"p50 {p50:.1f} ms",
                             f"p95 {p95:.1f} ms; {target} has {count:,} links, "
                             f"{returned:,} rows returned; {RUNS} runs"))
    return rows


if __name__ == "__main__":
    for row in query_latencies(Path(sys.argv[1]), int(sys.argv[2])):
        print(*row, sep="  |  ")

"""Query latency on a large graph: a database of at least N host edges built with the
pipeline's own aggregation and publishing code, from generated links whose targets follow
a power law (a few hosts are linked from everywhere, most from one or two places).

    python3 -m uv run --frozen --extra bench python bench/queries.py DB [EDGES] [--runs N]
    python3 -m uv run --frozen --extra bench python bench/queries.py DB --views LINKS

builds DB (once; rebuilt when it no longer opens as a database of this version) and prints
p50 and p95 of ``referring_domains``, ``backlinks`` and ``link_profile`` for a popular and a
rare target, every row and the first screen (20 rows). bench/run.py prints the same rows in
its table.

``--views LINKS`` measures a database of views (``database = "views"``) over a graph folder
of LINKS links split into ``--partitions`` files by the target's partition, as the pipeline
writes it: the link files are generated straight into that layout by DuckDB (aggregating
100 million links here would take an hour and is not what this measures), already in
``dst_domain`` order within each file, with the domains they name; the other tables are
empty files of the right columns. The lookups then read one partition's files.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

import pipeline.graph.aggregate
import pipeline.publish.database
from pipeline.errors import DatabaseError
from pipeline.graph.aggregate import GraphOptions, write_graph
from pipeline.graph.tables import (
    DomainAuthority,
    domain_pairs,
    domain_profiles,
    pair_anchors,
    referrals,
    with_authority,
)
from pipeline.publish.database import publish, sql_files
from pipeline.serve.database import connect
from pipeline.storage import Folder, LocalData

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
    graph = Folder(LocalData(folder.parent), folder.name)
    write_graph(pages, raw, graph, GraphOptions(harmonic_samples=8))
    publish(graph, [], path)


def _empty_table_file(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy (select * from {table} limit 0) to '{path}' (format parquet)")


def build_views_database(path: Path, links: int, partitions: int) -> None:
    """A graph folder of ``links`` generated links in the pipeline's partitioned layout, and
    a database of views over it published by the pipeline's own code."""
    folder = path.parent / f"{path.stem}-graph"
    graph_dir = folder / "graph"
    made = folder / "generated.txt"  # the folder's rows, once generated: only re-publish
    if made.exists() and made.read_text() == f"{links} {partitions}":
        if not all((graph_dir / table).is_dir() for table in ("referrals", "domain_profiles")):
            _generate_target_tables(graph_dir, partitions)  # generated before the tables
        path.unlink(missing_ok=True)
        publish(Folder(LocalData(folder), "graph"), [], path, "views")
        return
    shutil.rmtree(folder, ignore_errors=True)
    graph_dir.mkdir(parents=True)
    hosts = max(3000, links // 5)
    con = duckdb.connect()
    con.execute("select setseed(0.42)")
    for sql_file in sql_files():
        con.execute(sql_file.read_text("utf-8"))
    # targets on a power law, rows generated in target order (dst rises with k), so each
    # partition's file comes out sorted by dst_domain, as the aggregation writes it
    con.execute(f"""
        copy (
            with pairs as (
                select k, (random() * {hosts})::bigint as src,
                       floor({hosts} * pow(k / {links}, 3))::bigint as dst
                from range({links}) t(k)
            ), named as (
                select k, src, dst,
                    ['www.', '', 'blog.'][src % 3 + 1] || 's' || lpad((src // 3)::varchar, 9, '0')
                        || '.com' as src_host,
                    's' || lpad((src // 3)::varchar, 9, '0') || '.com' as src_domain,
                    ['www.', '', 'blog.'][dst % 3 + 1] || 'd' || lpad((dst // 3)::varchar, 9, '0')
                        || '.com' as dst_host,
                    'd' || lpad((dst // 3)::varchar, 9, '0') || '.com' as dst_domain
                from pairs
            )
            select
                'CC-MAIN-2099-01' as crawl,
                'https://' || src_host || '/p/' || (k % 7) as src_url,
                src_host, src_domain,
                'https://' || dst_host || '/t/' || (k % 11) as dst_url,
                dst_host, dst_domain,
                'anchor ' || (k % 997) as anchor,
                'a' as link_type, 'body' as context,
                k % 10 = 0 as nofollow, k % 50 = 0 as ugc, k % 70 = 0 as sponsored,
                true as external, k % 13 = 0 as sitewide,
                timestamptz '2099-01-01 00:00:00+00' as fetch_time,
                not (k % 10 = 0 or k % 50 = 0 or k % 70 = 0) as dofollow,
                partition_of(dst_domain, {partitions}) as part
            from named
        ) to '{graph_dir / "links-by-part"}'
        (format parquet, compression zstd, partition_by (part), row_group_size 122880)
    """)
    for part_dir in sorted((graph_dir / "links-by-part").iterdir()):
        number = int(part_dir.name.split("=")[1])
        for index, file in enumerate(sorted(part_dir.glob("*.parquet"))):
            (graph_dir / "links").mkdir(exist_ok=True)
            file.rename(graph_dir / "links" / f"p{number:04d}-s{index:03d}.parquet")
    shutil.rmtree(graph_dir / "links-by-part")
    # the domains the links name, with an authority, in the partitions of their names
    con.execute(f"""
        copy (
            with names as (
                select distinct 'd' || lpad(n::varchar, 9, '0') || '.com' as domain
                from range({hosts // 3 + 1}) t(n)
                union all
                select distinct 's' || lpad(n::varchar, 9, '0') || '.com'
                from range({hosts // 3 + 1}) t(n)
            )
            select domain, 3::bigint as hosts, 7::bigint as pages_crawled,
                   0::bigint as out_domains, 0::bigint as in_domains,
                   null::double as pagerank, null::double as harmonic,
                   null::bigint as pagerank_position, null::bigint as harmonic_position,
                   (hash(domain) % 101)::double as authority,
                   partition_of(domain, {partitions}) as part
            from names
        ) to '{graph_dir / "domains-by-part"}' (format parquet, partition_by (part))
    """)
    columns = [c for (c,) in con.execute(
        "select column_name from duckdb_columns() where table_name = 'domains' "
        "order by column_index").fetchall()]
    (graph_dir / "domains").mkdir()
    for part_dir in sorted((graph_dir / "domains-by-part").iterdir()):
        number = int(part_dir.name.split("=")[1])
        con.execute(f"copy (select {', '.join(columns)} from read_parquet('{part_dir}/*.parquet')) "
                    f"to '{graph_dir / 'domains' / f'p{number:04d}.parquet'}' (format parquet)")
    shutil.rmtree(graph_dir / "domains-by-part")
    for table in ("pages", "host_edges", "domain_edges", "hosts", "crawls"):
        for number in range(partitions if table != "crawls" else 1):
            _empty_table_file(con, table, graph_dir / table / f"p{number:04d}.parquet")
    for number in range(partitions):  # a partition no generated link went to
        if not list((graph_dir / "links").glob(f"p{number:04d}*.parquet")):
            _empty_table_file(con, "links", graph_dir / "links" / f"p{number:04d}.parquet")
        if not (graph_dir / "domains" / f"p{number:04d}.parquet").exists():
            _empty_table_file(con, "domains", graph_dir / "domains" / f"p{number:04d}.parquet")
    con.close()
    _generate_target_tables(graph_dir, partitions)
    made.write_text(f"{links} {partitions}")
    path.unlink(missing_ok=True)
    publish(Folder(LocalData(folder), "graph"), [], path, "views")


def _generate_target_tables(graph_dir: Path, partitions: int) -> None:
    """The referrals and domain profiles of the generated links, one file per partition,
    made by the aggregation's own transforms (tables.domain_pairs and tables.pair_anchors,
    then tables.referrals with tables.with_authority, and tables.domain_profiles) from each
    partition's link files."""
    domains = [str(f) for f in sorted((graph_dir / "domains").glob("*.parquet"))]
    authority = DomainAuthority(pl.scan_parquet(domains).select("domain", "authority").collect())
    for table in ("referrals", "domain_profiles"):
        (graph_dir / table).mkdir(exist_ok=True)
    for number in range(partitions):
        files = [str(f) for f in sorted((graph_dir / "links").glob(f"p{number:04d}*.parquet"))]
        links = pl.scan_parquet(files)
        pairs = domain_pairs(links).collect().lazy()
        anchors = pair_anchors(links).collect().lazy()
        name = f"p{number:04d}.parquet"
        rows = referrals(pairs, anchors).collect()
        with_authority(rows, authority.of(rows["referring_domain"])).write_parquet(
            graph_dir / "referrals" / name, compression="zstd", row_group_size=122_880)
        domain_profiles(pairs, anchors).collect().write_parquet(
            graph_dir / "domain_profiles" / name, compression="zstd")


def _code_fingerprint() -> str:
    """SHA-256 of what shapes the database: the SQL (tables, views, macros) and the code that
    aggregates and publishes."""
    digest = hashlib.sha256()
    code = [Path(pipeline.graph.aggregate.__file__), Path(pipeline.publish.database.__file__)]
    for file in [*sql_files(), *code]:
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _open(path: Path, edges: int, views: tuple[int, int] | None = None
          ) -> duckdb.DuckDBPyConnection:
    """The cached database, or a new one when there is none or it was built by other code
    (a benchmark must not time yesterday's macros). ``views``: (links, partitions) of a
    database of views over a generated partitioned graph folder."""
    stamp = path.with_name(path.name + ".code-sha256")
    fingerprint = _code_fingerprint() + (f"-views-{views[0]}-{views[1]}" if views else "")
    if path.exists():
        if stamp.exists() and stamp.read_text() == fingerprint:
            try:
                return connect(path)
            except DatabaseError as exc:
                print(f"rebuilding {path.name}: {exc}", file=sys.stderr)
        else:
            print(f"rebuilding {path.name}: the SQL or the aggregation changed since it was "
                  "built", file=sys.stderr)
    stamp.unlink(missing_ok=True)
    if views:
        print(f"building {path.name}: views over {views[0]:,} links in {views[1]} "
              "partitions ...", file=sys.stderr)
        build_views_database(path, *views)
    else:
        print(f"building {path.name} with >= {edges:,} host edges ...", file=sys.stderr)
        build_database(path, edges)
    stamp.write_text(fingerprint)
    return connect(path)


def _latencies(
    con: duckdb.DuckDBPyConnection, sql: str, target: str, runs: int
) -> list[float]:
    con.execute(sql, [target]).fetchall()  # warm: the first run reads from disk
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        con.execute(sql, [target]).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return times


def query_latencies(path: Path, edges: int, runs: int = RUNS,
                    views: tuple[int, int] | None = None) -> list[tuple[str, str, str]]:
    """Rows for the benchmark table: p50/p95 per macro and target."""
    con = _open(path, edges, views)
    host_edge_count = con.execute("select count(*) from host_edges").fetchone()[0]
    link_count = con.execute("select count(*) from links").fetchone()[0]
    popular, popular_links = con.execute(
        "select dst_domain, count(*) from links where external group by 1 order by 2 desc limit 1"
    ).fetchone()
    rare, rare_links = con.execute(  # two links, or as near as a small graph has
        "select dst_domain, count(*) from links where external group by 1 "
        "order by abs(count(*) - 2), 1 limit 1"
    ).fetchone()
    kind_of_database = "views" if views else "tables"
    size = path.stat().st_size / 2**20
    rows = [("query database", f"{host_edge_count:,} host edges",
             f"{link_count:,} links; {kind_of_database}; file {size:,.1f} MiB")]
    queries = [(f"{macro}, {{kind}} target{limit}", f"select * from {macro}(?){limit}")
               for macro in ("referring_domains", "backlinks", "link_profile")
               for limit in ("", " limit 20")]  # every row, and the first screen (the CLI's)
    after_backlinks = [label for label, _ in queries].index("backlinks, {kind} target limit 20")
    queries.insert(after_backlinks + 1, ("first_backlinks(target, 20), {kind} target",
                                         "select * from first_backlinks(?, 20)"))
    for label, sql in queries:
        for kind, target, count in (("popular", popular, popular_links), ("rare", rare, rare_links)):
            returned = len(con.execute(sql, [target]).fetchall())
            times = _latencies(con, sql, target, runs)
            p50 = statistics.median(times)
            p95 = statistics.quantiles(times, n=20)[-1]
            rows.append((label.format(kind=kind), f"p50 {p50:.1f} ms",
                         f"p95 {p95:.1f} ms; {target} has {count:,} links, "
                         f"{returned:,} rows returned; {runs} runs"))
    con.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path, help="the query database (built when missing)")
    parser.add_argument("edges", type=int, nargs="?", default=10_000_000,
                        help="host edges, at least, of a database built here")
    parser.add_argument("--runs", type=int, default=RUNS,
                        help="timed runs per query (at least 2, for a p95)")
    parser.add_argument("--views", type=int, metavar="LINKS", default=0,
                        help="measure a database of views over LINKS generated links instead")
    parser.add_argument("--partitions", type=int, default=64,
                        help="partitions of the graph folder of --views (default 64)")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    views = (args.views, args.partitions) if args.views else None
    print("| measure | result | notes |")
    print("|---|---:|---|")
    for label, value, note in query_latencies(args.db, args.edges, args.runs, views):
        print(f"| {label} | {value} | {note} |")


if __name__ == "__main__":
    main()

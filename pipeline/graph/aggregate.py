"""Aggregate parts into the graph tables with Polars (lazy; streamed into Parquet).

Inputs: every complete part of the data location (pipeline/storage.py: a local folder or an
S3 prefix; Polars reads and writes the Parquet where it is). Outputs, in the graph folder
(``graph/`` locally, ``graphs/<id>/`` in S3):

- ``pages``        one crawled HTML page per (crawl, url): the latest capture wins
- ``links``        one link occurrence between two different hosts, from the kept pages,
                   with its ``sitewide`` flag
- ``host_edges``   one row per (src_host, dst_host)
- ``domain_edges`` one row per (src_domain, dst_domain), src_domain <> dst_domain
- ``hosts``        one row per host seen as a source or a target, with its authority
- ``domains``      one row per registered domain of those hosts, with its authority
- ``crawls``       one row per crawl in the graph: its pages, links and time span

Three steps, so that no step needs the whole link table in memory: ``plan_aggregation``
(distinct pages, a bucket of URLs at a time), ``aggregate_bucket`` for each bucket of target
domains (links, host and domain edges: everything about a target domain is in one bucket;
the flow runs them as parallel tasks), ``finish_aggregation`` (join the buckets; hosts,
domains and their ranks; crawls). The bucket count comes from ``aggregate_memory_mb``.

The folder is written under a temporary name and made current in one step (a rename, or in
S3 the ``graph.json`` pointer), so the previous graph stays whole until the new one is
complete. Its ``manifest.json`` lists the parts (inputs,
versions, counts, file checksums) the graph was built from.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.config import Settings
from pipeline.errors import ConfigError, GraphError
from pipeline.extract.rows import LINKS_SCHEMA, PAGES_SCHEMA
from pipeline.graph.rank import EXACT_LIMIT, SAMPLES, graph_ranks
from pipeline.parts.part import PartInfo, complete_parts, part_file_names
from pipeline.storage import DataStore, Folder

_ROW_GROUP = 122_880  # rows per Parquet row group of links (DuckDB's own row group size)
_BUCKET_SEED = 20_241_122
# A bucket task's peak memory is about BUCKET_BASE_MB (Python, Polars, the page tables of a
# modest crawl) plus MEMORY_PER_LINK_BYTE per compressed byte of its share of the link
# Parquet: measured by bench/aggregate_memory.py (docs/benchmarks.md: 397 MiB + 18.3 per
# byte), rounded up. Buckets are sized from it.
BUCKET_BASE_MB = 400
MEMORY_PER_LINK_BYTE = 20.0
MANIFEST = "manifest.json"  # in the graph folder: the parts it was built from
TABLES = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "crawls")


@dataclass(frozen=True)
class GraphOptions:
    """The settings that shape the aggregates (see config.py for their meaning)."""

    sitewide_share: float = 0.5
    sitewide_min_pages: int = 3
    rank_weighted: bool = False
    harmonic_exact_nodes: int = EXACT_LIMIT
    harmonic_samples: int = SAMPLES
    aggregate_buckets: int = 0  # 0: from aggregate_memory_mb and the size of the parts
    aggregate_memory_mb: int = 2048
    ranks: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphOptions:
        return cls(
            sitewide_share=settings.sitewide_share,
            sitewide_min_pages=settings.sitewide_min_pages,
            rank_weighted=settings.rank_weighted,
            harmonic_exact_nodes=settings.harmonic_exact_nodes,
            harmonic_samples=settings.harmonic_samples,
            aggregate_buckets=settings.aggregate_buckets,
            aggregate_memory_mb=settings.aggregate_memory_mb,
            ranks=settings.ranks,
        )


@dataclass(frozen=True)
class GraphSummary:
    folder: str  # of the graph, relative to the data location
    parts: int
    pages: int
    links: int
    host_edges: int
    domain_edges: int
    hosts: int
    domains: int
    buckets: int = 1


def graph_dir(data_dir: Path) -> Path:
    """The current graph's folder of a local data folder."""
    return data_dir / "graph"


def distinct_pages(pages: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (crawl, url): the latest fetch; ties broken by the rest of the row."""
    return (
        pages.sort(["crawl", "url", "fetch_time"], descending=[False, False, True])
        .unique(subset=["crawl", "url"], keep="first", maintain_order=True)
    )


def superseded_captures(raw_pages: pl.LazyFrame, kept_pages: pl.LazyFrame) -> pl.LazyFrame:
    """(crawl, src_url, fetch_time) of the captures that lost to a later one of the same URL
    in the same crawl: usually few, so every bucket can hold them."""
    return (
        raw_pages.select("crawl", "url", "fetch_time")
        .join(kept_pages.select("crawl", "url", "fetch_time"),
              on=["crawl", "url", "fetch_time"], how="anti")
        .unique()
        .rename({"url": "src_url"})
    )


def host_page_counts(kept_pages: pl.LazyFrame) -> pl.LazyFrame:
    """(host, host_pages): crawled pages per host, for the sitewide share."""
    return kept_pages.group_by("host").agg(pl.col("url").n_unique().alias("host_pages"))


def links_of_pages(
    links: pl.LazyFrame, superseded: pl.LazyFrame, host_pages: pl.LazyFrame,
    options: GraphOptions = GraphOptions(),  # noqa: B008
) -> pl.LazyFrame:
    """Links of the kept captures only (a page crawled twice counts once), flagged sitewide
    and sorted by target (so DuckDB skips the row groups of other targets). Every link's
    page is in the same part, so dropping the superseded captures keeps exactly the links
    of the kept pages."""
    kept_links = links.join(superseded, on=["crawl", "src_url", "fetch_time"], how="anti")
    kept_links = kept_links.with_columns(  # links.dofollow, computed once here
        dofollow=~(pl.col("nofollow") | pl.col("ugc") | pl.col("sponsored")))
    return with_sitewide(kept_links, host_pages, options).sort(
        ["dst_domain", "dst_host", "src_domain", "src_host", "src_url"]
    )


def with_sitewide(
    links: pl.LazyFrame, host_pages: pl.LazyFrame, options: GraphOptions
) -> pl.LazyFrame:
    """Add ``sitewide``: true for the links from a host to a domain when at least
    ``sitewide_min_pages`` of the host's crawled pages, and at least ``sitewide_share`` of
    them, link to that domain (template links: menus, footers, blogrolls)."""
    flags = (
        links.group_by("src_host", "dst_domain")
        .agg(pl.col("src_url").n_unique().alias("linking_pages"))
        .join(host_pages, left_on="src_host", right_on="host", how="left")
        .select(
            "src_host",
            "dst_domain",
            (
                (pl.col("linking_pages") >= options.sitewide_min_pages)
                & (
                    pl.col("linking_pages")
                    >= options.sitewide_share * pl.col("host_pages").fill_null(0)
                )
            ).alias("sitewide"),
        )
    )
    return links.join(flags, on=["src_host", "dst_domain"], how="left")


def host_edges(links: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (src_host, dst_host); ``links`` are occurrences, ``pages`` distinct pages."""
    return (
        links.group_by("src_host", "dst_host")
        .agg(
            pl.col("src_domain").first(),
            pl.col("dst_domain").first(),
            pl.len().alias("links"),
            pl.col("src_url").n_unique().alias("pages"),
            pl.col("nofollow").sum().alias("nofollow_links"),
            pl.col("crawl").min().alias("first_seen"),
            pl.col("crawl").max().alias("last_seen"),
            pl.col("sitewide").any().alias("sitewide"),
        )
        .with_columns(pl.col("links", "pages", "nofollow_links").cast(pl.Int64))
        .sort(["dst_host", "src_host"])
    )


def domain_edges(links: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (src_domain, dst_domain) of the external links."""
    return (
        links.filter(pl.col("external"))
        .group_by("src_domain", "dst_domain")
        .agg(
            pl.len().alias("links"),
            pl.col("src_url").n_unique().alias("pages"),
            pl.col("src_host").n_unique().alias("src_hosts"),
            pl.col("nofollow").sum().alias("nofollow_links"),
            pl.col("crawl").min().alias("first_seen"),
            pl.col("crawl").max().alias("last_seen"),
        )
        .with_columns(pl.col("links", "pages", "src_hosts", "nofollow_links").cast(pl.Int64))
        .sort(["dst_domain", "src_domain"])
    )


def hosts(pages: pl.LazyFrame, edges: pl.LazyFrame) -> pl.LazyFrame:
    """One row per host seen as a source (crawled or linking) or as a target.

    ``in_domains`` counts the other registered domains linking to the host (its referring
    domains); links from hosts of its own domain are not counted there.
    """
    crawled = pages.group_by("host").agg(
        pl.col("domain").first(), pl.len().alias("pages_crawled")  # pages: one row a page
    )
    out_degree = edges.group_by("src_host").agg(
        pl.col("src_domain").first().alias("domain"), pl.len().alias("out_hosts")
    )
    in_degree = edges.group_by("dst_host").agg(
        pl.col("dst_domain").first().alias("domain"),
        pl.len().alias("in_hosts"),
        pl.col("src_domain")
        .filter(pl.col("src_domain") != pl.col("dst_domain"))
        .n_unique()
        .alias("in_domains"),
    )
    names = pl.concat(
        [
            crawled.select("host", "domain"),
            out_degree.select(pl.col("src_host").alias("host"), "domain"),
            in_degree.select(pl.col("dst_host").alias("host"), "domain"),
        ]
    ).unique(subset=["host"], keep="first")
    return (
        names.join(crawled.drop("domain"), on="host", how="left")
        .join(out_degree.drop("domain"), left_on="host", right_on="src_host", how="left")
        .join(in_degree.drop("domain"), left_on="host", right_on="dst_host", how="left")
        .select(
            "host",
            "domain",
            *(
                pl.col(name).fill_null(0).cast(pl.Int64)
                for name in ("pages_crawled", "out_hosts", "in_hosts", "in_domains")
            ),
        )
        .sort("host")
    )


def domains(host_rows: pl.LazyFrame, edges: pl.LazyFrame) -> pl.LazyFrame:
    """One row per registered domain of the hosts: its hosts, crawled pages and degrees."""
    per_domain = host_rows.group_by("domain").agg(
        pl.len().alias("hosts"), pl.col("pages_crawled").sum()
    )
    out_degree = edges.group_by("src_domain").agg(pl.len().alias("out_domains"))
    in_degree = edges.group_by("dst_domain").agg(pl.len().alias("in_domains"))
    return (
        per_domain.join(out_degree, left_on="domain", right_on="src_domain", how="left")
        .join(in_degree, left_on="domain", right_on="dst_domain", how="left")
        .select(
            "domain",
            *(
                pl.col(name).fill_null(0).cast(pl.Int64)
                for name in ("hosts", "pages_crawled", "out_domains", "in_domains")
            ),
        )
        .sort("domain")
    )


def crawls(pages: pl.LazyFrame, links: pl.LazyFrame) -> pl.LazyFrame:
    """One row per crawl: pages kept, links and backlinks stored, hosts, fetch time span.
    Graphs built by runs over several crawls hold them all (parts accumulate)."""
    per_page = pages.group_by("crawl").agg(
        pl.len().alias("pages"),
        pl.col("host").n_unique().alias("hosts"),
        pl.col("fetch_time").min().alias("first_fetch"),
        pl.col("fetch_time").max().alias("last_fetch"),
    )
    per_link = links.group_by("crawl").agg(
        pl.len().alias("links"), pl.col("external").sum().alias("external_links")
    )
    return (
        per_page.join(per_link, on="crawl", how="left")
        .select(
            "crawl",
            *(pl.col(name).fill_null(0).cast(pl.Int64)
              for name in ("pages", "hosts", "links", "external_links")),
            "first_fetch", "last_fetch",
        )
        .sort("crawl")
    )


# The authority columns of rank.graph_ranks, empty: for graphs aggregated without ranks.
NO_RANKS = (
    pl.lit(None, dtype=pl.Float64).alias("pagerank"),
    pl.lit(None, dtype=pl.Float64).alias("harmonic"),
    pl.lit(None, dtype=pl.Int64).alias("pagerank_position"),
    pl.lit(None, dtype=pl.Int64).alias("harmonic_position"),
    pl.lit(None, dtype=pl.Float64).alias("authority"),
)


def with_ranks(
    nodes: pl.DataFrame, key: str, edges: pl.LazyFrame, src: str, dst: str,
    options: GraphOptions,
) -> pl.DataFrame:
    """``nodes`` with the authority columns (rank.graph_ranks) of the graph ``edges``."""
    edge_list = edges.select(
        pl.col(src).alias("src"), pl.col(dst).alias("dst"), pl.col("links").alias("weight")
    ).collect()
    ranks = graph_ranks(
        nodes[key], edge_list, weighted=options.rank_weighted,
        exact_limit=options.harmonic_exact_nodes, samples=options.harmonic_samples,
    )
    return nodes.join(ranks.rename({"name": key}), on=key, how="left", maintain_order="left")


def write_graph(
    pages: pl.LazyFrame, links: pl.LazyFrame, folder: Folder, options: GraphOptions
) -> dict[str, int]:
    """Write every table of TABLES as ``<folder>/<table>.parquet`` from raw page and link
    rows (several captures of a page allowed) in one bucket; return the row count of each."""
    folder.store.prepare(folder.name)
    write_page_tables(pages, folder)
    write_bucket_tables(links, folder, folder, "", options)
    counts = write_graph_tables(folder, options)
    folder.delete("superseded.parquet", "host_pages.parquet")
    return counts


def write_page_tables(raw_pages: pl.LazyFrame, folder: Folder, buckets: int = 1) -> None:
    """``pages`` (distinct captures), and for the link buckets ``superseded`` and
    ``host_pages`` (see links_of_pages). With several buckets the pages are deduplicated
    a bucket of URLs at a time (a URL's captures all fall in one), so memory follows the
    size of a bucket, not of the crawl."""
    if buckets == 1:
        folder.sink(distinct_pages(raw_pages), "pages.parquet", compression="zstd")
        kept = folder.scan("pages.parquet")
        folder.sink(superseded_captures(raw_pages, kept), "superseded.parquet")
        folder.sink(host_page_counts(kept), "host_pages.parquet")
        return
    pieces = folder.sub("page-buckets")
    for bucket in range(buckets):
        some = raw_pages.filter((pl.col("url").hash(seed=_BUCKET_SEED) % buckets) == bucket)
        kept_file = f"pages-{bucket:05d}.parquet"
        pieces.sink(distinct_pages(some), kept_file, compression="zstd")
        kept = pieces.scan(kept_file)
        pieces.sink(superseded_captures(some, kept), f"superseded-{bucket:05d}.parquet")
        pieces.sink(host_page_counts(kept), f"host_pages-{bucket:05d}.parquet")
    folder.sink(pieces.scan(pieces.files("pages-")), "pages.parquet", compression="zstd")
    folder.sink(pieces.scan(pieces.files("superseded-")), "superseded.parquet")
    # a URL's bucket holds all its captures, so per-bucket counts of URLs add up
    folder.sink(pieces.scan(pieces.files("host_pages-")).group_by("host").agg(
        pl.col("host_pages").sum()), "host_pages.parquet")
    pieces.delete_all()


def in_bucket(bucket: int, buckets: int) -> pl.Expr:
    """Rows whose target domain hashes to ``bucket``: all links into a domain, hence all
    rows of its host and domain edges and its sitewide pairs, fall in one bucket."""
    return (pl.col("dst_domain").hash(seed=_BUCKET_SEED) % buckets) == bucket


def write_bucket_tables(
    links: pl.LazyFrame, page_folder: Folder, folder: Folder, suffix: str, options: GraphOptions,
) -> None:
    """``links``, ``host_edges`` and ``domain_edges`` of one bucket of target domains, as
    ``<folder>/<table><suffix>.parquet``; the page tables are read from ``page_folder``."""
    links_file = f"links{suffix}.parquet"
    folder.sink(
        links_of_pages(links, page_folder.scan("superseded.parquet"),
                       page_folder.scan("host_pages.parquet"), options),
        links_file, compression="zstd", row_group_size=_ROW_GROUP,
    )
    kept_links = folder.scan(links_file)
    folder.sink(host_edges(kept_links), f"host_edges{suffix}.parquet", compression="zstd")
    folder.sink(domain_edges(kept_links), f"domain_edges{suffix}.parquet", compression="zstd")


def write_graph_tables(folder: Folder, options: GraphOptions) -> dict[str, int]:
    """From ``pages``, ``links`` and the edges in ``folder``: ``hosts`` and ``domains`` with
    their ranks, and ``crawls``; return the row count of every table. Ranking holds the
    host graph in this process; without ranks (``options.ranks`` false) every table is
    streamed and the rank columns are null."""
    kept_pages = folder.scan("pages.parquet")
    edges = folder.scan("host_edges.parquet")
    between_domains = folder.scan("domain_edges.parquet")
    if options.ranks:
        host_rows = with_ranks(
            hosts(kept_pages, edges).collect(), "host", edges, "src_host", "dst_host", options
        )
        folder.write(host_rows, "hosts.parquet", compression="zstd")
        folder.write(
            with_ranks(domains(host_rows.lazy(), between_domains).collect(), "domain",
                       between_domains, "src_domain", "dst_domain", options),
            "domains.parquet", compression="zstd",
        )
    else:
        folder.sink(hosts(kept_pages, edges).with_columns(*NO_RANKS), "hosts.parquet",
                    compression="zstd")
        folder.sink(domains(folder.scan("hosts.parquet"), between_domains)
                    .with_columns(*NO_RANKS), "domains.parquet", compression="zstd")
    folder.sink(crawls(kept_pages, folder.scan("links.parquet")), "crawls.parquet",
                compression="zstd")
    return {
        table: folder.scan(f"{table}.parquet").select(pl.len()).collect().item()
        for table in TABLES
    }


def write_manifest(folder: Folder, parts: list[PartInfo], counts: dict[str, int]) -> None:
    """The inputs a graph was built from: per part its input, version, counts and the
    SHA-256 of its files, and the row count of every table."""
    manifest = {
        "tables": counts,
        "parts": [
            {
                "input": info.input, "key": info.key, "version": info.version,
                "crawl": info.crawl, "records": info.records, "pages": info.pages,
                "links": info.links, "files": info.files,
            }
            for info in parts
        ],
    }
    folder.write_text(MANIFEST,
                            json.dumps(manifest, indent=1, sort_keys=True))


@dataclass(frozen=True)
class AggregationPlan:
    """An aggregation in progress: the graph being built in ``folder`` (a temporary name in
    the data location) from ``parts``, reduced in ``buckets`` buckets of target domains."""

    store: DataStore
    folder: str
    parts: list[PartInfo]
    buckets: int
    link_bytes: int  # compressed Parquet bytes of the parts' link rows

    @property
    def graph(self) -> Folder:
        return Folder(self.store, self.folder)

    def scan_parts(self, table: str) -> pl.LazyFrame:
        """Every part's ``pages`` or ``links`` rows (read where they are: disk or S3)."""
        schema = PAGES_SCHEMA if table == "pages" else LINKS_SCHEMA
        names = [name for info in self.parts for name in part_file_names(info, table)]
        if not names:
            return pl.LazyFrame(schema=schema)
        return self.store.scan_parquet(names, schema)


def bucket_count(link_bytes: int, memory_mb: int) -> int:
    """Buckets enough that one bucket's task fits in ``memory_mb`` (see BUCKET_BASE_MB)."""
    if memory_mb <= BUCKET_BASE_MB + 64:
        raise ConfigError(
            f"aggregate_memory_mb must be more than {BUCKET_BASE_MB + 64}, got {memory_mb}: "
            f"a bucket task needs about {BUCKET_BASE_MB} MiB before its share of the links"
        )
    usable = (memory_mb - BUCKET_BASE_MB) * 2**20
    return max(1, math.ceil(link_bytes * MEMORY_PER_LINK_BYTE / usable))


def plan_aggregation(
    store: DataStore, options: GraphOptions = GraphOptions(),  # noqa: B008
) -> AggregationPlan:
    """Start an aggregation: choose the buckets and write the distinct pages (every bucket
    needs them; they are a small share of the rows)."""
    parts = [info for _, info in complete_parts(store)]
    if not parts:
        raise GraphError(
            f"no complete parts in {store.location!r}; run `backlinks run` on some input first"
        )
    link_bytes = sum(
        described["bytes"] for info in parts for name, described in info.files.items()
        if name.rsplit("/", 1)[-1].startswith("links-")
    )
    buckets = options.aggregate_buckets or bucket_count(link_bytes, options.aggregate_memory_mb)
    plan = AggregationPlan(store, store.new_graph_folder(), parts, buckets, link_bytes)
    store.prepare(f"{plan.folder}/buckets")
    try:
        write_page_tables(plan.scan_parts("pages"), plan.graph, buckets)
    except BaseException:
        plan.graph.delete_all()
        raise
    return plan


def aggregate_bucket(plan: AggregationPlan, bucket: int, options: GraphOptions) -> None:
    """Reduce one bucket of target domains (a task of its own: buckets run in parallel)."""
    links = plan.scan_parts("links")
    if plan.buckets > 1:
        links = links.filter(in_bucket(bucket, plan.buckets))
    write_bucket_tables(links, plan.graph, plan.graph.sub("buckets"), f"-{bucket:05d}", options)


def finish_aggregation(plan: AggregationPlan, options: GraphOptions) -> GraphSummary:
    """Join the buckets, compute hosts, domains (with ranks) and crawls, write the manifest
    and make the graph the current one in place of the old."""
    graph, buckets = plan.graph, plan.graph.sub("buckets")
    try:
        for table in ("links", "host_edges", "domain_edges"):
            files = buckets.files(f"{table}-")
            if len(files) != plan.buckets:
                raise GraphError(
                    f"aggregation of {plan.store.location!r} has {len(files)} of "
                    f"{plan.buckets} buckets of {table}; run `backlinks run` again"
                )
            graph.sink(buckets.scan(files), f"{table}.parquet", compression="zstd",
                       row_group_size=_ROW_GROUP)
        buckets.delete_all()
        counts = write_graph_tables(graph, options)
        graph.delete("superseded.parquet", "host_pages.parquet")
        write_manifest(graph, plan.parts, counts)
        folder = plan.store.install_graph(plan.folder)
    except BaseException:
        graph.delete_all()
        raise
    return GraphSummary(
        folder=folder, parts=len(plan.parts), pages=counts["pages"], links=counts["links"],
        host_edges=counts["host_edges"], domain_edges=counts["domain_edges"],
        hosts=counts["hosts"], domains=counts["domains"], buckets=plan.buckets,
    )


def aggregate(
    store: DataStore, options: GraphOptions = GraphOptions(),  # noqa: B008
) -> GraphSummary:
    """Build the graph from every complete part, bucket after bucket in this process;
    replace the old graph at the end. (The flow runs the buckets as tasks.)"""
    plan = plan_aggregation(store, options)
    try:
        for bucket in range(plan.buckets):
            aggregate_bucket(plan, bucket, options)
    except BaseException:
        plan.graph.delete_all()
        raise
    return finish_aggregation(plan, options)

"""Aggregate parts into the graph tables with Polars (lazy; streamed into Parquet).

Inputs: every complete part under ``<data_dir>/parts``. Outputs, in ``<data_dir>/graph/``:

- ``pages``        one crawled HTML page per (crawl, url): the latest capture wins
- ``links``        one link occurrence between two different hosts, from the kept pages,
                   with its ``sitewide`` flag
- ``host_edges``   one row per (src_host, dst_host)
- ``domain_edges`` one row per (src_domain, dst_domain), src_domain <> dst_domain
- ``hosts``        one row per host seen as a source or a target, with its authority
- ``domains``      one row per registered domain of those hosts, with its authority
- ``crawls``       one row per crawl in the graph: its pages, links and time span

The folder is written under a temporary name and renamed into place, so the previous graph
stays whole until the new one is complete. Its ``manifest.json`` lists the parts (inputs,
versions, counts, file checksums) the graph was built from.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.config import Settings
from pipeline.errors import PartError
from pipeline.parts import LINKS_SCHEMA, PAGES_SCHEMA, PartInfo, complete_parts
from pipeline.rank import EXACT_LIMIT, SAMPLES, graph_ranks

MANIFEST = "manifest.json"  # in the graph folder: the parts it was built from
TABLES = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "crawls")
_RANK_COLUMNS = ("pagerank", "harmonic", "pagerank_position", "harmonic_position", "authority")


@dataclass(frozen=True)
class GraphOptions:
    """The settings that shape the aggregates (see config.py for their meaning)."""

    sitewide_share: float = 0.5
    sitewide_min_pages: int = 3
    rank_weighted: bool = False
    harmonic_exact_nodes: int = EXACT_LIMIT
    harmonic_samples: int = SAMPLES

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphOptions:
        return cls(
            sitewide_share=settings.sitewide_share,
            sitewide_min_pages=settings.sitewide_min_pages,
            rank_weighted=settings.rank_weighted,
            harmonic_exact_nodes=settings.harmonic_exact_nodes,
            harmonic_samples=settings.harmonic_samples,
        )


@dataclass(frozen=True)
class GraphSummary:
    folder: Path
    parts: int
    pages: int
    links: int
    host_edges: int
    domain_edges: int
    hosts: int
    domains: int


def graph_dir(data_dir: Path) -> Path:
    return data_dir / "graph"


def _scan(folders: list[Path], table: str, schema: pl.Schema) -> pl.LazyFrame:
    files = [str(path) for folder in folders for path in sorted(folder.glob(f"{table}-*.parquet"))]
    if not files:
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(files, schema=schema)


def distinct_pages(pages: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (crawl, url): the latest fetch; ties broken by the rest of the row."""
    return (
        pages.sort(["crawl", "url", "fetch_time"], descending=[False, False, True])
        .unique(subset=["crawl", "url"], keep="first", maintain_order=True)
    )


def links_of_pages(
    links: pl.LazyFrame, pages: pl.LazyFrame, options: GraphOptions = GraphOptions()  # noqa: B008
) -> pl.LazyFrame:
    """Links of the kept captures only (a page crawled twice counts once), flagged sitewide
    and sorted by target (so DuckDB skips the row groups of other targets)."""
    kept = pages.select(
        pl.col("crawl"), pl.col("url").alias("src_url"), pl.col("fetch_time")
    )
    kept_links = links.join(kept, on=["crawl", "src_url", "fetch_time"], how="semi")
    return with_sitewide(kept_links, pages, options).sort(
        ["dst_domain", "dst_host", "src_domain", "src_host", "src_url"]
    )


def with_sitewide(links: pl.LazyFrame, pages: pl.LazyFrame, options: GraphOptions) -> pl.LazyFrame:
    """Add ``sitewide``: true for the links from a host to a domain when at least
    ``sitewide_min_pages`` of the host's crawled pages, and at least ``sitewide_share`` of
    them, link to that domain (template links: menus, footers, blogrolls)."""
    crawled = pages.group_by("host").agg(pl.col("url").n_unique().alias("host_pages"))
    flags = (
        links.group_by("src_host", "dst_domain")
        .agg(pl.col("src_url").n_unique().alias("linking_pages"))
        .join(crawled, left_on="src_host", right_on="host", how="left")
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
        pl.col("domain").first(), pl.col("url").n_unique().alias("pages_crawled")
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
    pages: pl.LazyFrame, links: pl.LazyFrame, folder: Path, options: GraphOptions
) -> dict[str, int]:
    """Write every table of TABLES as ``<folder>/<table>.parquet`` from raw page and link
    rows (several captures of a page allowed); return the row count of each."""
    distinct_pages(pages).sink_parquet(folder / "pages.parquet", compression="zstd")
    kept_pages = pl.scan_parquet(folder / "pages.parquet")
    links_of_pages(links, kept_pages, options).sink_parquet(
        folder / "links.parquet", compression="zstd", row_group_size=122_880
    )
    kept_links = pl.scan_parquet(folder / "links.parquet")
    host_edges(kept_links).sink_parquet(folder / "host_edges.parquet", compression="zstd")
    domain_edges(kept_links).sink_parquet(folder / "domain_edges.parquet", compression="zstd")
    edges = pl.scan_parquet(folder / "host_edges.parquet")
    host_rows = with_ranks(
        hosts(kept_pages, edges).collect(), "host", edges, "src_host", "dst_host", options
    )
    host_rows.write_parquet(folder / "hosts.parquet", compression="zstd")
    between_domains = pl.scan_parquet(folder / "domain_edges.parquet")
    with_ranks(
        domains(host_rows.lazy(), between_domains).collect(), "domain", between_domains,
        "src_domain", "dst_domain", options,
    ).write_parquet(folder / "domains.parquet", compression="zstd")
    crawls(kept_pages, kept_links).sink_parquet(folder / "crawls.parquet", compression="zstd")
    return {
        table: pl.scan_parquet(folder / f"{table}.parquet").select(pl.len()).collect().item()
        for table in TABLES
    }


def write_manifest(path: Path, parts: list[PartInfo], counts: dict[str, int]) -> None:
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
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True), "utf-8")


def aggregate(data_dir: Path, options: GraphOptions = GraphOptions()) -> GraphSummary:  # noqa: B008
    """Build ``<data_dir>/graph/`` from every complete part; replace the old one at the end."""
    parts = complete_parts(data_dir)
    if not parts:
        raise PartError(
            f"no complete parts in {str(data_dir)!r}; run `backlinks run` on some input first"
        )
    folders = [folder for folder, _ in parts]
    target = graph_dir(data_dir)
    temporary = data_dir / f".graph-tmp-{uuid.uuid4().hex[:8]}"
    temporary.mkdir(parents=True)
    try:
        counts = write_graph(
            _scan(folders, "pages", PAGES_SCHEMA), _scan(folders, "links", LINKS_SCHEMA),
            temporary, options,
        )
        write_manifest(temporary / MANIFEST, [info for _, info in parts], counts)
        if target.exists():
            old = data_dir / f".graph-old-{uuid.uuid4().hex[:8]}"
            target.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        temporary.rename(target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return GraphSummary(
        folder=target, parts=len(parts), pages=counts["pages"], links=counts["links"],
        host_edges=counts["host_edges"], domain_edges=counts["domain_edges"],
        hosts=counts["hosts"], domains=counts["domains"],
    )

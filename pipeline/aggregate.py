"""Aggregate parts into the graph tables with Polars (lazy; streamed into Parquet).

Inputs: every complete part under ``<data_dir>/parts``. Outputs, in ``<data_dir>/graph/``:

- ``pages``        one crawled HTML page per (crawl, url): the latest capture wins
- ``links``        one link occurrence between two different hosts, from the kept pages
- ``host_edges``   one row per (src_host, dst_host)
- ``domain_edges`` one row per (src_domain, dst_domain), src_domain <> dst_domain
- ``hosts``        one row per host seen as a source or a target

The folder is written under a temporary name and renamed into place, so the previous graph
stays whole until the new one is complete.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.errors import PartError
from pipeline.parts import LINKS_SCHEMA, PAGES_SCHEMA, complete_parts

TABLES = ("pages", "links", "host_edges", "domain_edges", "hosts")


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


def links_of_pages(links: pl.LazyFrame, pages: pl.LazyFrame) -> pl.LazyFrame:
    """Links of the kept captures only (a page crawled twice counts once)."""
    kept = pages.select(
        pl.col("crawl"), pl.col("url").alias("src_url"), pl.col("fetch_time")
    )
    return links.join(kept, on=["crawl", "src_url", "fetch_time"], how="semi").sort(
        ["dst_domain", "dst_host", "src_domain", "src_host", "src_url"]
    )


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


def aggregate(data_dir: Path) -> GraphSummary:
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
        pages = distinct_pages(_scan(folders, "pages", PAGES_SCHEMA))
        pages.sink_parquet(temporary / "pages.parquet", compression="zstd")
        kept_pages = pl.scan_parquet(temporary / "pages.parquet")
        links = links_of_pages(_scan(folders, "links", LINKS_SCHEMA), kept_pages)
        links.sink_parquet(temporary / "links.parquet", compression="zstd", row_group_size=122_880)
        kept_links = pl.scan_parquet(temporary / "links.parquet")
        host_edges(kept_links).sink_parquet(temporary / "host_edges.parquet", compression="zstd")
        domain_edges(kept_links).sink_parquet(
            temporary / "domain_edges.parquet", compression="zstd"
        )
        edges = pl.scan_parquet(temporary / "host_edges.parquet")
        hosts(kept_pages, edges).sink_parquet(temporary / "hosts.parquet", compression="zstd")
        counts = {
            table: pl.scan_parquet(temporary / f"{table}.parquet").select(pl.len()).collect().item()
            for table in TABLES
        }
        domains = (
            pl.scan_parquet(temporary / "hosts.parquet")
            .select(pl.col("domain").n_unique())
            .collect()
            .item()
        )
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
        hosts=counts["hosts"], domains=domains,
    )

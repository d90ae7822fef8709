"""The graph's tables as pure Polars transforms: rows in, rows out, no IO.

Each function takes lazy frames and returns one: the kept links with ``sitewide`` and
``dofollow``, host and domain edges, hosts, domains, crawls, and the authority columns
(rank.py). Three are eager, on DataFrames: the pages' kept and superseded captures
(``pages_by_url``, ``kept_and_superseded``), whose memory depends on which frame is let go
when, and ``with_authority``, faster so. ``aggregate.py`` runs them on one partition at a
time and writes what they return.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import polars as pl

from pipeline.config import Settings
from pipeline.graph.rank import EXACT_LIMIT, SAMPLES, graph_ranks


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
    ranks_file: str = ""  # Common Crawl's ranks files instead of ranking here (ranks_file.py)
    rank_method: str = "auto"  # memory, partitions, or auto (rank_tables.py)

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
            ranks_file=settings.ranks_file,
            rank_method=settings.rank_method,
        )



# The part a page or link row was read from (its ordinal among the parts, in key order):
# two inputs can hold the same capture (one WARC copied under two names), and only the
# part that identifies a capture tells their links apart. Never published.
CAPTURE_PART = "_part"
CAPTURE = ("crawl", "src_url", "fetch_time", CAPTURE_PART)  # a capture, as links name it


_CAPTURE_ORDER = ["crawl", "url", "fetch_time", CAPTURE_PART]
_ROW, _RUN = "_row", "_run"


def pages_by_url(pages: pl.DataFrame) -> pl.DataFrame:
    """``pages`` in (crawl, url) order; by url alone when they hold one crawl (a sort on one
    string column: no row encoding of the keys, whose copy of every URL cost as much memory
    as the rows themselves). Eager, on a frame of one chunk a column (``rechunk``): the
    sorted strings are then views into its buffers, not a second copy of them."""
    crawls = pages["crawl"].unique().sort(nulls_last=False)
    if len(crawls) <= 1:
        return pages.sort("url")
    # a crawl at a time: a two-key sort (crawl, url) took twice the CPU (3 or 40 crawls
    # of 3.1 M rows: 1.2 / 1.5 s against 2.5 / 2.2)
    return pl.concat([pages.filter(pl.col("crawl").eq_missing(crawl)).sort("url")
                      for crawl in crawls])


def kept_and_superseded(ordered: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The kept captures of pages in (crawl, url) order (``pages_by_url``), in that order,
    and the superseded ones.

    Kept: one row per (crawl, url): the latest fetch; a capture held by several parts is
    kept from the first of them (``CAPTURE_PART``). Superseded: (crawl, src_url,
    fetch_time, part) of the captures that lost to a later one of the same URL in the same
    crawl, or to the same capture in an earlier part (a copy of the kept capture in the
    same part is not), usually few, so every bucket can hold them; one row per copy (a
    part that holds a lost capture twice lists it twice). A capture with no
    fetch_time matches no capture, kept or not: it is superseded, as it was when kept and
    superseded came from a join.

    Only the URLs captured more than once are ordered by fetch time and part, on keys of
    fixed width (the URL's run in ``ordered``, fetch_time, part): no sort of every row on
    its strings, and no join of every capture against the kept ones (a 3.1 M-row pages
    partition of one capture a URL: 2.6 against 3.5 CPU s, 900 against 1,680 MiB)."""
    same = (pl.col("crawl").eq_missing(pl.col("crawl").shift(1))
            & pl.col("url").eq_missing(pl.col("url").shift(1))
            & (pl.int_range(pl.len()) > 0))  # the same URL as the row before
    runs = ordered.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias(_ROW),
        (~same).cum_sum().alias(_RUN),
        (same | same.shift(-1, fill_value=False) | pl.col("fetch_time").is_null())
        .alias("repeated"),
        "fetch_time", CAPTURE_PART,
    )
    repeated = runs["repeated"]
    captures = (runs.filter(repeated).drop("repeated")
                .sort([_RUN, "fetch_time", CAPTURE_PART], descending=[False, True, False]))
    first = pl.col(_RUN).ne_missing(pl.col(_RUN).shift(1))
    # each capture beside its URL's kept one (the first of its run)
    kept_at = pl.when(first).then(pl.int_range(pl.len())).forward_fill()
    as_kept = ((pl.col("fetch_time") == pl.col("fetch_time").gather(kept_at))
               & (pl.col(CAPTURE_PART) == pl.col(CAPTURE_PART).gather(kept_at))
               ).fill_null(False)
    marked = captures.select(_ROW, first.alias("kept"), (~as_kept).alias("superseded"))
    keep = (~repeated).scatter(marked.filter("kept")[_ROW], True)
    # no ``unique``: the links step only anti-joins them, and a distinct of every superseded
    # URL took more memory than anything else when many URLs were captured twice
    superseded = (ordered[marked.filter("superseded")[_ROW]].select(_CAPTURE_ORDER)
                  .rename({"url": "src_url"}))
    return ordered.filter(keep), superseded


def linking_pages(links: pl.LazyFrame) -> pl.LazyFrame:
    """(src_host, dst_domain, linking_pages): how many distinct pages of a host link to a
    domain (what ``sitewide`` compares with the host's crawled pages)."""
    return (links.group_by("src_host", "dst_domain")
            .agg(pl.col("src_url").n_unique().alias("linking_pages")))


def links_of_pages(
    kept_links: pl.LazyFrame, host_pages: pl.LazyFrame, linking: pl.LazyFrame,
    options: GraphOptions = GraphOptions(),  # noqa: B008
) -> pl.LazyFrame:
    """The links of the kept captures (the caller has dropped the superseded ones: every
    link's page is in the same part, so that keeps exactly the links of the kept pages),
    with ``dofollow``, flagged sitewide from their ``linking_pages`` (``linking``) and
    sorted by target (so DuckDB skips the row groups of other targets)."""
    kept_links = kept_links.with_columns(  # links.dofollow, computed once here
        dofollow=~(pl.col("nofollow") | pl.col("ugc") | pl.col("sponsored")))
    return with_sitewide(kept_links, host_pages, linking, options).sort(
        ["dst_domain", "dst_host", "src_domain", "src_host", "src_url"]
    )


def with_sitewide(
    links: pl.LazyFrame, host_pages: pl.LazyFrame, linking: pl.LazyFrame,
    options: GraphOptions,
) -> pl.LazyFrame:
    """Add ``sitewide``: true for the links from a host to a domain when at least
    ``sitewide_min_pages`` of the host's crawled pages, and at least ``sitewide_share`` of
    them, link to that domain (template links: menus, footers, blogrolls). ``linking``:
    ``linking_pages(links)``."""
    flags = (
        linking.join(host_pages, left_on="src_host", right_on="host", how="left")
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


def domain_pairs(links: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (dst_domain, src_domain) of the external links, with every count that
    ``domain_edges``, ``referrals`` and ``domain_profiles`` take from it: the links are
    grouped by domain pair once for all three. A page (``src_url``) and a host belong to
    one registered domain, so the distinct pages and hosts of a target domain are the sums
    of its pairs' distinct pages and hosts."""
    return (
        links.filter(pl.col("external"))
        .group_by("dst_domain", "src_domain")
        .agg(
            pl.len().alias("links"),
            pl.col("src_url").n_unique().alias("pages"),
            pl.col("src_host").n_unique().alias("src_hosts"),
            pl.col("nofollow").sum().alias("nofollow_links"),
            pl.col("dofollow").sum().alias("dofollow_links"),
            pl.col("sitewide").sum().alias("sitewide_links"),
            pl.col("crawl").min().alias("first_seen"),
            pl.col("crawl").max().alias("last_seen"),
        )
        .with_columns(pl.col("links", "pages", "src_hosts", "nofollow_links",
                             "dofollow_links", "sitewide_links").cast(pl.Int64))
    )


def pair_anchors(links: pl.LazyFrame) -> pl.LazyFrame:
    """How often each non-empty anchor is used per (dst_domain, src_domain) of the external
    links: the histogram the referrals' and the domain profiles' top anchors come from."""
    return (
        links.filter(pl.col("external") & (pl.col("anchor") != ""))
        .group_by("dst_domain", "src_domain", "anchor")
        .agg(pl.len().cast(pl.Int64).alias("uses"))
    )


def pair_hosts(links: pl.LazyFrame) -> pl.LazyFrame:
    """The distinct (dst_domain, src_domain, src_host) of the external links: what a pair's
    ``src_hosts`` counts, kept when the pair's links are grouped in several splits of their
    pages (``merged_domain_pairs``)."""
    return (links.filter(pl.col("external"))
            .select("dst_domain", "src_domain", "src_host").unique())


# Links grouped in splits by their source page (one source domain's links into one target
# over the memory setting): each page is in one split, so a count of distinct pages is the
# sum of the splits' counts; a count of distinct hosts is not (a host's pages span splits),
# so the pairs' hosts are kept distinct and counted once the splits are put together.

def merged_linking_pages(splits: list[pl.DataFrame]) -> pl.DataFrame:
    """``linking_pages`` of links grouped in splits by source page, from each split's."""
    return (pl.concat(splits).group_by("src_host", "dst_domain")
            .agg(pl.col("linking_pages").sum().cast(splits[0]["linking_pages"].dtype)))


def merged_host_edges(splits: list[pl.DataFrame]) -> pl.DataFrame:
    """``host_edges`` of links grouped in splits by source page, from each split's."""
    return (
        pl.concat(splits).group_by("src_host", "dst_host")
        .agg(
            pl.col("src_domain").first(),
            pl.col("dst_domain").first(),
            pl.col("links").sum(),
            pl.col("pages").sum(),
            pl.col("nofollow_links").sum(),
            pl.col("first_seen").min(),
            pl.col("last_seen").max(),
            pl.col("sitewide").any(),
        )
        .sort(["dst_host", "src_host"])
    )


def merged_domain_pairs(splits: list[pl.DataFrame], hosts: list[pl.DataFrame]) -> pl.DataFrame:
    """``domain_pairs`` of links grouped in splits by source page, from each split's and
    each split's ``pair_hosts``."""
    keys = ["dst_domain", "src_domain"]
    src_hosts = (pl.concat(hosts).unique().group_by(keys)
                 .agg(pl.len().cast(pl.Int64).alias("src_hosts")))
    summed = pl.concat(splits).group_by(keys).agg(
        pl.col("links", "pages", "nofollow_links", "dofollow_links", "sitewide_links").sum(),
        pl.col("first_seen").min(),
        pl.col("last_seen").max(),
    )
    return summed.join(src_hosts, on=keys, how="left").select(splits[0].columns)


def merged_pair_anchors(splits: list[pl.DataFrame]) -> pl.DataFrame:
    """``pair_anchors`` of links grouped in splits by source page, from each split's."""
    return (pl.concat(splits).group_by("dst_domain", "src_domain", "anchor")
            .agg(pl.col("uses").sum()))


def domain_edges(pairs: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (src_domain, dst_domain) of the external links (from ``domain_pairs``)."""
    return pairs.select(
        "src_domain", "dst_domain", "links", "pages", "src_hosts", "nofollow_links",
        "first_seen", "last_seen",
    ).sort(["dst_domain", "src_domain"])


TOP_ANCHORS = 3  # anchors kept per referral, most used first


def referrals(pairs: pl.LazyFrame, anchors: pl.LazyFrame) -> pl.LazyFrame:
    """One row per (target domain, referring domain) of the external links (from
    ``domain_pairs`` and ``pair_anchors``): the rows of ``referring_domains(domain)``
    (sql/macros/referring_domains.sql), counted once here so that a lookup of a domain
    with a million backlinks reads its referring domains, not its links. ``top_anchors``:
    the most used non-empty anchors, ties in anchor order (as the macro's
    ``top_anchor_list`` orders them). ``authority`` is added by the finish step
    (``with_authority``), once the domains are ranked."""
    keys = ["dst_domain", "src_domain"]
    return (
        pairs.join(_top_anchors(anchors, keys, TOP_ANCHORS), on=keys, how="left")
        .select(
            "dst_domain", pl.col("src_domain").alias("referring_domain"),
            "pages", "links", "dofollow_links", "nofollow_links",
            (pl.col("sitewide_links") > 0).alias("sitewide"),
            pl.col("src_hosts").alias("referring_hosts"),
            pl.col("top_anchors").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            "first_seen", "last_seen",
        )
    )


PROFILE_ANCHORS = 5  # anchors kept per domain profile, most used first


def _top_anchors(anchors: pl.LazyFrame, keys: list[str], count: int) -> pl.LazyFrame:
    """Per ``keys``, the ``count`` most used anchors of a histogram (one row per ``keys``
    and anchor, with its ``uses``), ties in anchor order (as the macros'
    ``top_anchor_list`` orders a histogram)."""
    return (
        anchors.sort([*keys, "uses", "anchor"], descending=[False] * len(keys) + [True, False])
        .group_by(*keys, maintain_order=True)
        .agg(pl.col("anchor").head(count).alias("top_anchors"))
    )


def domain_profiles(pairs: pl.LazyFrame, anchors: pl.LazyFrame) -> pl.LazyFrame:
    """One row per registered domain with external links into it (from ``domain_pairs``
    and ``pair_anchors``): the counts of ``link_profile(domain)``
    (sql/macros/link_profile.sql), counted once here so that the profile of a domain with
    a million backlinks is one row read, not a million. Its referring hosts and pages are
    sums over its pairs: each belongs to one referring domain."""
    target_anchors = anchors.group_by("dst_domain", "anchor").agg(pl.col("uses").sum())
    counted = pairs.group_by("dst_domain").agg(
        pl.col("links").sum().alias("backlinks"),
        pl.len().cast(pl.Int64).alias("referring_domains"),
        pl.col("src_hosts").sum().alias("referring_hosts"),
        pl.col("pages").sum().alias("referring_pages"),
        pl.col("dofollow_links").sum(),
        pl.col("sitewide_links").sum(),
        pl.col("first_seen").min(),
        pl.col("last_seen").max(),
    )
    return (
        counted.join(_top_anchors(target_anchors, ["dst_domain"], PROFILE_ANCHORS),
                     on="dst_domain", how="left")
        .select(
            "dst_domain", "backlinks", "referring_domains", "referring_hosts",
            "referring_pages", "dofollow_links", "sitewide_links",
            pl.col("top_anchors").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            "first_seen", "last_seen",
        )
        .sort("dst_domain")
    )


class DomainAuthority:
    """Each registered domain's ``authority``, looked up by name: the ranked domains' names
    put once into a dictionary (a Polars Categorical of its own), so that a lookup costs the
    names looked up, not the domains. A join builds a hash table of every domain again for
    each file of referrals: on bench/scale.py's 50 M link rows (1.56 M domains, 163 files)
    18.9 s of joins (0.38 s per M referrals, 4x the 3 M-row input's), against 10.5 s of
    lookups (0.21; 0.07 at 3 M rows: a larger dictionary misses the caches more)."""

    def __init__(self, domains: pl.DataFrame) -> None:
        # a dictionary of its own (by a name no other has); Polars marks pl.Categories
        # unstable: tests/test_aggregate.py checks the lookup against a join
        self._names = pl.Categorical(pl.Categories(f"domain-authority-{uuid.uuid4().hex}"))
        # the names as a Categorical series keep the dictionary alive: Polars frees a
        # dictionary that no series holds, and a later cast would start a new one
        self._domains = domains["domain"].cast(self._names)
        ids = self._domains.to_physical()
        self._known = 0 if ids.is_empty() else int(ids.max()) + 1  # type: ignore[arg-type]
        self._authority = (pl.Series("authority", dtype=domains["authority"].dtype)
                           .extend_constant(None, self._known)
                           .scatter(ids, domains["authority"]))

    def of(self, names: pl.Series) -> pl.Series:
        """The authority of each name (null for a name that is not a ranked domain)."""
        ids = names.cast(self._names).to_physical()  # a name not known gets a new id
        return self._authority.gather(ids.set(ids >= self._known, None))


def authority_shard(column: str, shards: int) -> pl.Expr:
    """The shard (0 to ``shards`` - 1) of each domain name in ``column`` when the domains'
    lookup is built in shards, each of its own share of the domains (a stable hash within
    one Polars version: a shard's domains and the names looked up in it meet in one
    task)."""
    return (pl.col(column).hash(seed=_AUTHORITY_SEED) % shards).cast(pl.UInt32)


_AUTHORITY_SEED = 20_261_207


def with_authority(rows: pl.DataFrame, authority: pl.Series) -> pl.DataFrame:
    """Referrals with their referring domain's ``authority`` (one value a row:
    ``DomainAuthority.of``), in the order the macro lists them for each target (highest
    authority first; sorted by target first, so that DuckDB skips the row groups of other
    targets). Eager: the sort through the lazy engine took longer (with the join, 9.3 s
    against 5.3 for the 12.5 M referrals of bench/scale.py's 4x input)."""
    return (
        rows.with_columns(authority.alias("authority"))
        .sort(["dst_domain", "authority", "pages", "dofollow_links", "links",
               "referring_domain"],
              descending=[False, True, True, True, True, False], nulls_last=True)
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

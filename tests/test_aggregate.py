"""Aggregation of parts into pages, links, host_edges, domain_edges, hosts and domains."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import polars as pl
import pytest
from conftest import own_scratch
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import GraphError
from pipeline.extract.rows import LinkRow, PageRow
from pipeline.graph.aggregate import (
    MANIFEST,
    TABLES,
    AggregationPlan,
    GraphOptions,
    aggregate,
    graph_dir,
    read_table,
)
from pipeline.parts.part import (
    PartWriter,
    complete_parts,
    partition_ranges,
    read_part_info,
    read_part_table,
)
from pipeline.storage import DataStore, Folder, LocalData

T1 = datetime(2024, 5, 1, tzinfo=UTC)
T2 = datetime(2024, 5, 2, tzinfo=UTC)


def page(crawl: str, url: str, host: str, domain: str, when: datetime = T1) -> PageRow:
    return PageRow(crawl=crawl, url=url, host=host, domain=domain, fetch_time=when, status=200,
                   links_internal=0, links_external=0, robots_nofollow=False, truncated=False)


def link(crawl: str, src: str, src_host: str, src_domain: str, dst_host: str, dst_domain: str,
         nofollow: bool = False, when: datetime = T1, anchor: str = "a",
         context: str = "body") -> LinkRow:
    return LinkRow(crawl=crawl, src_url=src, src_host=src_host, src_domain=src_domain,
                   dst_url=f"https://{dst_host}/", dst_host=dst_host, dst_domain=dst_domain,
                   anchor=anchor, link_type="a", context=context, nofollow=nofollow, ugc=False,
                   sponsored=False, external=src_domain != dst_domain, fetch_time=when)


def write(data_dir: Path, key: str, pages_and_links: list[tuple[PageRow, list[LinkRow]]],
          partitions: int = 1) -> None:
    with PartWriter(LocalData(data_dir), key, batch_rows=2,  # tiny batches: several files
                    partitions=partitions) as writer:
        for page_row, link_rows in pages_and_links:
            writer.add(page_row, link_rows)
        writer.commit({"input": key, "size": 1, "version": "1", "crawl": "c", "records": 1,
                       "counters": {}, "seconds": 0.0})


@pytest.fixture
def graph(tmp_path: Path) -> dict[str, pl.DataFrame]:
    c1, c2 = "CC-MAIN-2024-18", "CC-MAIN-2024-22"
    write(tmp_path, "one", [
        (page(c1, "https://a.example.com/1", "a.example.com", "example.com"), [
            link(c1, "https://a.example.com/1", "a.example.com", "example.com", "b.org", "b.org"),
            link(c1, "https://a.example.com/1", "a.example.com", "example.com", "b.org", "b.org", nofollow=True),
            link(c1, "https://a.example.com/1", "a.example.com", "example.com", "www.example.com", "example.com"),
        ]),
        (page(c1, "https://a.example.com/2", "a.example.com", "example.com"), [
            link(c1, "https://a.example.com/2", "a.example.com", "example.com", "b.org", "b.org"),
        ]),
    ])
    write(tmp_path, "two", [
        # the same page captured again later in the same crawl: only this capture counts
        (page(c1, "https://a.example.com/2", "a.example.com", "example.com", T2), [
            link(c1, "https://a.example.com/2", "a.example.com", "example.com", "b.org", "b.org", when=T2),
            link(c1, "https://a.example.com/2", "a.example.com", "example.com", "c.net", "c.net", when=T2),
        ]),
        (page(c2, "https://x.b.org/", "x.b.org", "b.org"), [
            link(c2, "https://x.b.org/", "x.b.org", "b.org", "b.org", "b.org"),
            link(c2, "https://x.b.org/", "x.b.org", "b.org", "a.example.com", "example.com"),
        ]),
    ])
    summary = aggregate(LocalData(tmp_path))
    assert summary.parts == 2
    return {t: read_table(tmp_path, t) for t in
            ("pages", "links", "host_edges", "domain_edges", "hosts", "domains")}


def assert_counts_are_the_tables(data_dir: Path) -> None:
    """The manifest's row counts (the steps' own tallies, not a second read of the
    tables) are the rows of the published tables, every table."""
    manifest = json.loads((graph_dir(data_dir) / MANIFEST).read_text())
    assert set(manifest["tables"]) == set(TABLES)
    for table in TABLES:
        assert manifest["tables"][table] == read_table(data_dir, table).height, table


def write_sites(data_dir: Path, sites: int, partitions: int,
                targets: Callable[[int], list[tuple[str, str]]]) -> None:
    """Three parts of crawl c1, each with a page of every site{n}.example linking to the
    (host, domain) pairs ``targets(n)``."""
    for number in range(3):
        rows = []
        for n in range(sites):
            src, host = f"https://site{n}.example/{number}", f"site{n}.example"
            rows.append((page("c1", src, host, host),
                         [link("c1", src, host, host, target_host, target_domain)
                          for target_host, target_domain in targets(n)]))
        write(data_dir, f"part{number}", rows, partitions=partitions)


def assert_same_tables(ours: Path, theirs: Path) -> None:
    """Every table of the graph in ``ours`` is that of ``theirs``, row for row."""
    assert_counts_are_the_tables(ours)
    for table in TABLES:
        found = read_table(ours, table)
        assert found.sort(found.columns).equals(
            read_table(theirs, table).sort(found.columns)), table


def row(df: pl.DataFrame, **where: str) -> dict:
    selected = df.filter(*(pl.col(k) == v for k, v in where.items()))
    assert selected.height == 1, selected
    return selected.row(0, named=True)


def test_pages_are_distinct_per_crawl_and_url(graph: dict[str, pl.DataFrame]) -> None:
    pages = graph["pages"]
    assert pages.height == 3
    assert row(pages, url="https://a.example.com/2")["fetch_time"] == T2


def test_links_of_replaced_captures_are_dropped(graph: dict[str, pl.DataFrame]) -> None:
    links = graph["links"]
    from_page_2 = links.filter(pl.col("src_url") == "https://a.example.com/2")
    assert sorted(from_page_2["dst_host"]) == ["b.org", "c.net"]
    assert links.height == 3 + 2 + 2


def test_host_edges(graph: dict[str, pl.DataFrame]) -> None:
    edges = graph["host_edges"]
    ab = row(edges, src_host="a.example.com", dst_host="b.org")
    assert (ab["links"], ab["pages"], ab["nofollow_links"]) == (3, 2, 1)
    assert (ab["src_domain"], ab["dst_domain"]) == ("example.com", "b.org")
    internal = row(edges, src_host="a.example.com", dst_host="www.example.com")
    assert internal["links"] == 1
    back = row(edges, src_host="x.b.org", dst_host="a.example.com")
    assert (back["first_seen"], back["last_seen"]) == ("CC-MAIN-2024-22", "CC-MAIN-2024-22")
    assert edges.height == 5
    assert edges.filter(pl.col("src_host") == pl.col("dst_host")).height == 0


def test_domain_edges_only_between_domains(graph: dict[str, pl.DataFrame]) -> None:
    edges = graph["domain_edges"]
    assert edges.height == 3  # example.com->b.org, example.com->c.net, b.org->example.com
    eb = row(edges, src_domain="example.com", dst_domain="b.org")
    assert (eb["links"], eb["pages"], eb["src_hosts"], eb["nofollow_links"]) == (3, 2, 1, 1)
    assert edges.filter(pl.col("src_domain") == pl.col("dst_domain")).height == 0


def test_hosts(graph: dict[str, pl.DataFrame]) -> None:
    hosts = graph["hosts"]
    assert sorted(hosts["host"]) == ["a.example.com", "b.org", "c.net", "www.example.com", "x.b.org"]
    a = row(hosts, host="a.example.com")
    assert (a["pages_crawled"], a["out_hosts"], a["in_hosts"], a["in_domains"]) == (2, 3, 1, 1)
    www = row(hosts, host="www.example.com")
    # linked from a.example.com only: same registered domain, so no referring domain
    assert (www["pages_crawled"], www["in_hosts"], www["in_domains"]) == (0, 1, 0)
    b = row(hosts, host="b.org")
    assert (b["in_hosts"], b["in_domains"], b["domain"]) == (2, 1, "b.org")


def test_no_parts_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match="no complete parts"):
        aggregate(LocalData(tmp_path))
    assert not list(tmp_path.glob(".graph-*"))  # the plan's folder went with it


def test_a_part_left_uncommitted_is_never_read(tmp_path: Path) -> None:
    write(tmp_path, "good", [(page("c", "https://a.org/", "a.org", "a.org"), [])])
    with pytest.raises(RuntimeError):
        with PartWriter(LocalData(tmp_path), "killed", batch_rows=1) as writer:
            writer.add(page("c", "https://b.org/", "b.org", "b.org"), [])
            raise RuntimeError("killed while writing")
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == ["good"]
    summary = aggregate(LocalData(tmp_path))
    assert summary.pages == 1


def test_domains(graph: dict[str, pl.DataFrame]) -> None:
    domains = graph["domains"]
    assert sorted(domains["domain"]) == ["b.org", "c.net", "example.com"]
    example = row(domains, domain="example.com")
    assert (example["hosts"], example["pages_crawled"]) == (2, 2)
    assert (example["out_domains"], example["in_domains"]) == (2, 1)
    c = row(domains, domain="c.net")
    assert (c["hosts"], c["pages_crawled"], c["out_domains"], c["in_domains"]) == (1, 0, 0, 1)


def test_ranks_of_hosts_and_domains_match_networkx(graph: dict[str, pl.DataFrame]) -> None:
    for table, key, edges, src, dst in (
        ("hosts", "host", "host_edges", "src_host", "dst_host"),
        ("domains", "domain", "domain_edges", "src_domain", "dst_domain"),
    ):
        nodes = graph[table]
        g = nx.DiGraph()
        g.add_nodes_from(nodes[key])
        g.add_edges_from(graph[edges].select(src, dst).iter_rows())
        expected_pr = nx.pagerank(g, alpha=0.85, tol=1e-12)
        expected_hc = nx.harmonic_centrality(g)  # incoming distances, as cc-webgraph
        for node in nodes.iter_rows(named=True):
            assert node["pagerank"] == pytest.approx(expected_pr[node[key]], abs=1e-6), node
            assert node["harmonic"] == pytest.approx(expected_hc[node[key]], rel=1e-12), node
        top = nodes.sort("harmonic", descending=True).row(0, named=True)
        assert top["harmonic_position"] == 1
        assert top["authority"] == max(nodes["authority"])
        assert min(nodes["authority"]) == 0.0
        assert nodes["pagerank"].sum() == pytest.approx(1.0)


def test_weighted_pagerank_is_a_setting(tmp_path: Path) -> None:
    # a.org links to b.org from 9 links and to c.org from 1: weighted, b.org ranks higher
    rows = [link("c", "https://a.org/", "a.org", "a.org", "b.org", "b.org") for _ in range(9)]
    rows.append(link("c", "https://a.org/", "a.org", "a.org", "c.org", "c.org"))
    write(tmp_path, "one", [(page("c", "https://a.org/", "a.org", "a.org"), rows)])
    ranks = {}
    for weighted in (False, True):
        aggregate(LocalData(tmp_path), GraphOptions(rank_weighted=weighted))
        hosts = read_table(tmp_path, "hosts")
        ranks[weighted] = dict(zip(hosts["host"], hosts["pagerank"], strict=True))
    assert ranks[False]["b.org"] == pytest.approx(ranks[False]["c.org"])
    assert ranks[True]["b.org"] > ranks[True]["c.org"]
    weighted_graph = nx.DiGraph([("a.org", "b.org", {"weight": 9}), ("a.org", "c.org", {"weight": 1})])
    expected = nx.pagerank(weighted_graph, weight="weight", tol=1e-12)
    assert ranks[True] == pytest.approx(expected, abs=1e-6)


def sitewide_graph(tmp_path: Path, linking_pages: int, crawled_pages: int) -> pl.DataFrame:
    """blog.example crawled on ``crawled_pages`` pages; the first ``linking_pages`` of them
    link to shop.test in the footer; the first page also links to news.test in the body."""
    pages = []
    for number in range(crawled_pages):
        url = f"https://blog.example/{number}"
        links = []
        if number < linking_pages:
            links.append(link("c", url, "blog.example", "blog.example", "shop.test", "shop.test",
                              context="footer"))
        if number == 0:
            links.append(link("c", url, "blog.example", "blog.example", "news.test", "news.test"))
        pages.append((page("c", url, "blog.example", "blog.example"), links))
    write(tmp_path, f"blog-{linking_pages}-{crawled_pages}", pages)
    aggregate(LocalData(tmp_path), GraphOptions(sitewide_share=0.5, sitewide_min_pages=3))
    return read_table(tmp_path, "links")


@pytest.mark.parametrize(
    ("linking", "crawled", "sitewide"),
    [
        (10, 10, True),   # every page
        (5, 10, True),    # exactly the share
        (4, 10, False),   # below the share
        (3, 3, True),     # exactly the minimum count
        (2, 2, False),    # every page, but too few pages to tell
    ],
)
def test_sitewide_needs_the_share_and_the_minimum_pages(
    tmp_path: Path, linking: int, crawled: int, sitewide: bool
) -> None:
    links = sitewide_graph(tmp_path, linking, crawled)
    shop = links.filter(pl.col("dst_host") == "shop.test")
    assert shop.height == linking
    assert shop["sitewide"].to_list() == [sitewide] * linking
    assert links.filter(pl.col("dst_host") == "news.test")["sitewide"].to_list() == [False]
    edges = read_table(tmp_path, "host_edges")
    assert row(edges, dst_host="shop.test")["sitewide"] is sitewide


def test_a_data_folder_whose_path_holds_glob_characters_is_read_as_named(
    tmp_path: Path,
) -> None:
    """Polars reads a path as a pattern unless told not to: a data folder named
    ``crawls [2024]*`` gave "expanded paths were empty" for every part. Parts are written,
    read in one scan, spilled into sub-buckets and ranked over partitions as in a plain
    folder."""
    tables = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "crawls")
    found = {}
    for folder in (tmp_path / "plain", tmp_path / "crawls [2024]*"):
        for key in ("one", "two"):
            write(folder, key, [
                (page("c", f"https://{key}{n}.example/", f"{key}{n}.example",
                      f"{key}{n}.example"),
                 [link("c", f"https://{key}{n}.example/", f"{key}{n}.example",
                       f"{key}{n}.example", f"t{m}.org", f"t{m}.org") for m in range(n % 5)])
                for n in range(20)
            ], partitions=2)
        aggregate(LocalData(folder), GraphOptions(aggregate_buckets=5, rank_method="partitions"))
        found[folder.name] = {t: sorted(read_table(folder, t).rows()) for t in tables}
    assert found["crawls [2024]*"] == found["plain"]
    assert len(found["plain"]["links"]) == 2 * sum(n % 5 for n in range(20))


def test_buckets_of_target_domains_give_the_same_tables(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sitewide_graph(tmp_path, 6, 10)  # one bucket: the reference
    # a host whose 4 linking pages of 10 are too few for sitewide: its page count decides
    write(tmp_path, "few", [
        (page("c", f"https://forum.example/{n}", "forum.example", "forum.example"),
         [link("c", f"https://forum.example/{n}", "forum.example", "forum.example",
               "ads.test", "ads.test", context="footer")] if n < 4 else [])
        for n in range(10)
    ])
    write(tmp_path, "more", [
        (page("c", f"https://site{n}.example/", f"site{n}.example", f"site{n}.example"),
         [link("c", f"https://site{n}.example/", f"site{n}.example", f"site{n}.example",
               f"t{m}.org", f"t{m}.org") for m in range(n % 12)])
        for n in range(40)
    ])
    # a later capture of one page replaces the first, whichever buckets their links fall in
    write(tmp_path, "again", [
        (page("c", "https://site5.example/", "site5.example", "site5.example", T2),
         [link("c", "https://site5.example/", "site5.example", "site5.example", "late.org",
               "late.org", when=T2)]),
    ])
    tables = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "crawls")

    def read_all() -> dict[str, list[tuple]]:
        return {t: sorted(read_table(tmp_path, t).rows())
                for t in tables}

    one = aggregate(LocalData(tmp_path), GraphOptions(aggregate_buckets=1))
    expected = read_all()
    flags = (read_table(tmp_path, "links").filter(pl.col("dst_host").is_in(["shop.test", "ads.test"]))
             .select("dst_host", "sitewide").unique().rows())
    assert sorted(flags) == [("ads.test", False), ("shop.test", True)]
    assert_counts_are_the_tables(tmp_path)
    store = _ReadCounting(tmp_path)
    decoded = _decoded_files(monkeypatch)
    spills_before = own_scratch("spill", "partition")
    many = aggregate(store, GraphOptions(aggregate_buckets=7))
    assert (one.buckets, many.buckets) == (1, 7)
    assert read_all() == expected
    # each part's range of a partition read once from the data location into the task's
    # copy, the copy decoded once, sorted into the 7 sub-buckets on disk, none left there
    spans = {(info.key, table, partition): span for _, info in complete_parts(store)
             for table in ("pages", "links")
             for partition, span in partition_ranges(info, table).items()}
    ranges = sorted(span[:3] for span in spans.values())
    assert sorted(store.read) == ranges
    ordinal = {key: number for number, key in enumerate(sorted({key for key, *_ in spans}))}
    copies = sorted(f"{ordinal[key]:06d}.{table}-p{partition:04d}.parquet"
                    for key, table, partition in spans)
    assert sorted(decoded) == copies
    assert own_scratch("spill", "partition") - spills_before == set()
    # fewer sub-buckets than SPILL_SUB_BUCKETS: each re-reads the copy (the location once)
    store.read.clear()
    decoded.clear()
    assert aggregate(store, GraphOptions(aggregate_buckets=3)).buckets == 3
    assert read_all() == expected
    assert sorted(store.read) == ranges
    assert sorted(decoded) == sorted(copies * 3)
    assert_counts_are_the_tables(tmp_path)  # sub-buckets: several files a partition
    assert len({row[6] for row in expected["links"]}) > 7  # more domains than buckets
    from_site5 = [row for row in expected["links"] if row[1] == "https://site5.example/"]
    assert [row[5] for row in from_site5] == ["late.org"]
    assert not list(tmp_path.glob(".graph-*"))


def test_sub_bucket_count_follows_the_memory_setting_and_the_rows() -> None:
    from pipeline.errors import ConfigError
    from pipeline.graph.aggregate import (
        BUCKET_BASE_MB,
        LINK_ROW_MEMORY,
        PAGE_ROW_MEMORY,
        sub_bucket_count,
    )

    assert sub_bucket_count(0, 2048) == 1
    one_bucket = int((2048 - BUCKET_BASE_MB) * 2**20 / LINK_ROW_MEMORY)
    assert sub_bucket_count(one_bucket, 2048) == 1
    assert sub_bucket_count(one_bucket + 1, 2048) == 2
    assert sub_bucket_count(10 * one_bucket, 2048) == 10
    smaller = BUCKET_BASE_MB + (2048 - BUCKET_BASE_MB) // 2
    assert sub_bucket_count(10 * one_bucket, smaller) == 20
    # a page row needs less than a link row: more of them fit in one sub-bucket
    assert PAGE_ROW_MEMORY < LINK_ROW_MEMORY
    assert sub_bucket_count(10 * one_bucket, 2048, PAGE_ROW_MEMORY) == math.ceil(
        10 * one_bucket * PAGE_ROW_MEMORY / ((2048 - BUCKET_BASE_MB) * 2**20))
    with pytest.raises(ConfigError, match="aggregate_memory_mb must be more than"):
        sub_bucket_count(1, BUCKET_BASE_MB)


def test_slots_are_packed_into_sub_buckets_by_their_rows() -> None:
    from pipeline.graph.aggregate import pack_slots

    rows = {0: 50, 1: 400, 2: 30, 3: 40, 4: 70, 5: 50, 6: 60}  # slot 1: a popular domain
    packed = pack_slots(rows, capacity=100)
    assert sorted(slot for bucket in packed for slot in bucket) == sorted(rows)  # each once
    loads = [sum(rows[slot] for slot in bucket) for bucket in packed]
    assert [1] in packed  # over the capacity by itself: alone
    assert all(load <= 100 for bucket, load in zip(packed, loads, strict=True)
               if bucket != [1])
    assert len(packed) == 1 + math.ceil((sum(rows.values()) - 400) / 100)  # 3 more, full
    # a forced count: exactly that many, the largest slots spread first
    forced = pack_slots(rows, capacity=100, bins=3)
    assert len(forced) == 3 and sorted(sum(forced, [])) == sorted(rows)
    assert [1] in forced and sorted(sum(rows[s] for s in b) for b in forced) == [150, 150, 400]
    assert pack_slots({}, capacity=100) == [[]]
    assert pack_slots({}, capacity=100, bins=2) == [[], []]


class _ReadCounting(LocalData):
    """A local data folder noting each range of a part it hands out (a partition's rows)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read: list[tuple[str, int, int]] = []

    def read_ranges(self, ranges: Any) -> list[bytes]:
        self.read.extend(tuple(span) for span in ranges if span[0].startswith("parts/"))
        return super().read_ranges(ranges)


def _decoded_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the Parquet files a local store decodes whole from now on (a task's
    copy of a partition: ``<ordinal>.<table>-pNNNN.parquet``), noted as they are read."""
    decoded: list[str] = []
    read_parquet = LocalData.read_parquet

    def noted(self: LocalData, names: list[str], *args: Any, **kwargs: Any) -> Any:
        decoded.extend(names)
        return read_parquet(self, names, *args, **kwargs)

    monkeypatch.setattr(LocalData, "read_parquet", noted)
    return decoded


# sub-buckets sorted onto disk, partitions by the compiled core; or each sub-bucket
# re-reading its share, partitions by the Python path (a machine without the core)
@pytest.mark.parametrize("spill_from", [2, 1000])
def test_the_memory_setting_splits_a_partition_by_rows_and_changes_no_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill_from: int,
) -> None:
    from pipeline import partitions
    from pipeline.graph import aggregate as module

    monkeypatch.setattr(module, "SPILL_SUB_BUCKETS", spill_from)

    # one popular target (120 links) among 60 small ones (2 each), from pages of 24 hosts
    pages = []
    for n in range(120):
        url = f"https://site{n % 24}.example/{n}"
        host = f"site{n % 24}.example"
        links = [link("c", url, host, host, "popular.org", "popular.org")]
        if n < 60:
            links += [link("c", url, host, host, f"t{n}.org", f"t{n}.org", when=T1)] * 2
        pages.append((page("c", url, host, host), links))
    write(tmp_path, "one", pages, partitions=2)
    tables = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "crawls",
              "referrals", "domain_profiles")

    def read_all() -> dict[str, list[tuple]]:
        return {t: sorted(map(str, read_table(tmp_path, t).rows())) for t in tables}

    whole = aggregate(LocalData(tmp_path), GraphOptions(aggregate_memory_mb=2048))
    expected = read_all()
    assert whole.buckets == 2  # one per partition
    # as if a link row needed 1/50 of the memory setting (a page row 1/30): sub-buckets of
    # at most 50 link rows, the popular target's 120 split by their 24 source domains
    monkeypatch.setattr(module, "LINK_ROW_MEMORY", (2048 - module.BUCKET_BASE_MB) * 2**20 // 50)
    monkeypatch.setattr(module, "PAGE_ROW_MEMORY", (2048 - module.BUCKET_BASE_MB) * 2**20 // 30)
    if spill_from > 2:
        monkeypatch.setattr(partitions, "core_module", lambda: None)
    split = aggregate(LocalData(tmp_path), GraphOptions(aggregate_memory_mb=2048))
    assert read_all() == expected
    assert_counts_are_the_tables(tmp_path)
    link_files = sorted(p.name for p in (graph_dir(tmp_path) / "links").glob("*.parquet"))
    assert split.buckets == len(link_files) >= math.ceil(120 / 50) + math.ceil(120 / 50)
    files = [pl.read_parquet(graph_dir(tmp_path) / "links" / f) for f in link_files]
    assert max(f.height for f in files) <= 50  # every sub-bucket within the setting
    popular = [f for f in files if "popular.org" in f["dst_domain"].to_list()]
    assert len(popular) >= math.ceil(120 / 50)  # split by source domain
    assert all(f["dst_domain"].n_unique() == 1 for f in popular)  # and alone in each split
    profiles = sorted((graph_dir(tmp_path) / "domain_profiles").glob("*.parquet"))
    assert len(profiles) == len(link_files) - len(popular) + 1  # one profile of its splits
    page_files = list((graph_dir(tmp_path) / "pages").glob("*-s*.parquet"))
    assert len(page_files) > 2  # the pages step was split too


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 5), st.integers(0, 3),
                          st.booleans(), st.booleans()), min_size=1, max_size=80),
       st.integers(1, 5))
def test_tables_put_together_from_splits_by_page_are_the_whole_links(
        rows: list[tuple[int, int, int, bool, bool]], splits: int) -> None:
    """tables.merged_*: the linking pages, host edges, domain pairs and anchors of links
    split by source page, put together, are those of all the links at once (a page belongs
    to one host and a host to one domain, as in the links table)."""
    from pipeline.graph.tables import (
        domain_pairs,
        host_edges,
        linking_pages,
        merged_domain_pairs,
        merged_host_edges,
        merged_linking_pages,
        merged_pair_anchors,
        pair_anchors,
        pair_hosts,
    )

    def source(page: int) -> tuple[str, str, str]:
        host = f"h{page % 4}.d{page % 2}.example"
        return f"https://{host}/{page}", host, f"d{page % 2}.example"

    links = pl.DataFrame([
        {"src_url": source(page)[0], "src_host": source(page)[1], "src_domain": source(page)[2],
         "dst_host": f"t{target}.d{target % 3}.org", "dst_domain": f"d{target % 3}.org",
         "anchor": ["", "a", "b", "c"][anchor], "nofollow": nofollow, "dofollow": not nofollow,
         "sitewide": page % 3 == 0, "crawl": "c2" if late else "c1", "external": True}
        for page, target, anchor, nofollow, late in rows])
    parts = [links.filter(pl.col("src_url").hash(7) % splits == split)
             for split in range(splits)]

    def same(merged: pl.DataFrame, whole: pl.DataFrame) -> bool:
        return merged.sort(merged.columns).equals(whole.sort(whole.columns))

    assert same(merged_linking_pages([linking_pages(p.lazy()).collect() for p in parts]),
                linking_pages(links.lazy()).collect())
    assert same(merged_host_edges([host_edges(p.lazy()).collect() for p in parts]),
                host_edges(links.lazy()).collect())
    assert same(merged_domain_pairs([domain_pairs(p.lazy()).collect() for p in parts],
                                    [pair_hosts(p.lazy()).collect() for p in parts]),
                domain_pairs(links.lazy()).collect())
    assert same(merged_pair_anchors([pair_anchors(p.lazy()).collect() for p in parts]),
                pair_anchors(links.lazy()).collect())


def _reduced_again_in_splits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             row_memory: str, rows: int, table: str) -> list[pl.DataFrame]:
    """Aggregate the data folder again as if a row of ``table`` needed 1/``rows`` of the
    memory setting (``row_memory``: LINK_ROW_MEMORY or PAGE_ROW_MEMORY); every table must
    be the one aggregated before, and every file of ``table`` within the setting. Return
    those files."""
    from pipeline.graph import aggregate as module

    def read_all() -> dict[str, list[str]]:
        return {t: sorted(map(str, read_table(tmp_path, t).rows())) for t in TABLES}

    expected = read_all()
    monkeypatch.setattr(module, row_memory, (2048 - module.BUCKET_BASE_MB) * 2**20 // rows)
    aggregate(LocalData(tmp_path), GraphOptions(aggregate_memory_mb=2048))
    assert read_all() == expected
    assert_counts_are_the_tables(tmp_path)
    files = [pl.read_parquet(f) for f in (graph_dir(tmp_path) / table).glob("*.parquet")]
    assert max(f.height for f in files) <= rows  # every split within the setting
    return files


@pytest.mark.parametrize("spill_from", [2, 1000])
def test_one_source_domains_links_into_one_target_over_the_setting_are_split_by_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill_from: int,
) -> None:
    """A source domain whose links into one target are more than a sub-bucket holds is
    reduced in splits by source page, none over the setting, and every table is the one
    reduced whole: host edges, domain pairs and anchors put together from the splits, and
    sitewide from the splits' linking pages added up (each split alone would see a third of
    a host's pages link to the target, under sitewide_share)."""
    from pipeline.graph import aggregate as module

    monkeypatch.setattr(module, "SPILL_SUB_BUCKETS", spill_from)
    c1, c2 = "CC-MAIN-2024-18", "CC-MAIN-2024-22"
    pages = []
    for n in range(30):  # every page of www.big.example links to wiki.org: sitewide
        crawl = c1 if n % 3 else c2
        url, host = f"https://www.big.example/{n}", "www.big.example"
        pages.append((page(crawl, url, host, "big.example"), [
            link(crawl, url, host, "big.example", "www.wiki.org", "wiki.org", anchor="Privacy"),
            link(crawl, url, host, "big.example", "foundation.wiki.org", "wiki.org",
                 nofollow=n % 4 == 0, anchor=f"About {n % 5}"),
        ]))
        url, host = f"https://blog.big.example/{n}", "blog.big.example"
        pages.append((page(crawl, url, host, "big.example"), [
            link(crawl, url, host, "big.example", "www.wiki.org", "wiki.org",
                 anchor="Privacy" if n % 2 else "")] if n % 3 == 0 else []))
    for n in range(12):  # other sources into wiki.org and elsewhere
        url, host = f"https://site{n}.example/", f"site{n}.example"
        pages.append((page(c1, url, host, host), [
            link(c1, url, host, host, "www.wiki.org", "wiki.org", anchor="wiki"),
            link(c1, url, host, host, f"t{n % 4}.org", f"t{n % 4}.org")]))
    write(tmp_path, "one", pages, partitions=2)
    aggregate(LocalData(tmp_path), GraphOptions(aggregate_memory_mb=2048))
    big = read_table(tmp_path, "links").filter(pl.col("src_domain") == "big.example")
    assert big.height == 70
    assert big.filter(pl.col("src_host") == "www.big.example")["sitewide"].all()
    assert not big.filter(pl.col("src_host") == "blog.big.example")["sitewide"].any()
    # big.example's 70 links into wiki.org go in 3 splits or more by page
    files = _reduced_again_in_splits(tmp_path, monkeypatch, "LINK_ROW_MEMORY", 25, "links")
    splits = [f for f in files if f["src_domain"].unique().to_list() == ["big.example"]]
    assert len(splits) >= 3 and sum(f.height for f in splits) == 70


@pytest.mark.parametrize("spill_from", [2, 1000])
def test_a_host_with_more_pages_than_the_setting_holds_is_split_by_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill_from: int,
) -> None:
    """A host whose pages are more than a sub-bucket holds is reduced in splits by URL, none
    over the setting, and every table is the one reduced whole: its crawled pages and
    distinct URLs added up over the splits (so sitewide compares a host's 40 linking pages
    with its 100, not with a split's third of them), a recaptured page superseded in its
    split, and each crawl's hosts counted once."""
    from pipeline.graph import aggregate as module

    monkeypatch.setattr(module, "SPILL_SUB_BUCKETS", spill_from)
    c1, c2 = "CC-MAIN-2024-18", "CC-MAIN-2024-22"
    host = "www.big.example"

    def big_page(n: int, crawl: str, when: datetime = T1) -> tuple[PageRow, list[LinkRow]]:
        url = f"https://{host}/{n}"
        links = [link(crawl, url, host, "big.example", "other.org", "other.org", when=when)]
        if n < 40:
            links.append(link(crawl, url, host, "big.example", "www.target.org", "target.org",
                              when=when))
        return page(crawl, url, host, "big.example", when), links

    first = [big_page(n, c1) for n in range(100)] + [big_page(n, c2) for n in range(20)]
    first += [(page(c1, f"https://small{n}.example/{m}", f"small{n}.example",
                    f"small{n}.example"), [link(c1, f"https://small{n}.example/{m}",
                                                f"small{n}.example", f"small{n}.example",
                                                "www.target.org", "target.org")])
              for n in range(10) for m in range(2)]
    write(tmp_path, "one", first, partitions=2)
    write(tmp_path, "two", [big_page(n, c1, T2) for n in range(90, 100)], partitions=2)
    aggregate(LocalData(tmp_path), GraphOptions(aggregate_memory_mb=2048))
    links = read_table(tmp_path, "links").filter(pl.col("src_host") == host)
    assert links.filter(pl.col("dst_domain") == "other.org")["sitewide"].all()
    assert not links.filter(pl.col("dst_domain") == "target.org")["sitewide"].any()
    # the host's 130 captures in splits by URL
    files = _reduced_again_in_splits(tmp_path, monkeypatch, "PAGE_ROW_MEMORY", 30, "pages")
    splits = [f for f in files if f["host"].unique().to_list() == [host]]
    assert len(splits) >= 4 and sum(f.height for f in splits) == 120


def test_the_plan_counts_each_partitions_rows_from_the_parts(tmp_path: Path) -> None:
    from pipeline.graph.aggregate import plan_aggregation
    from pipeline.partitions import partition_of

    for key, sites in (("one", range(12)), ("two", range(8, 30))):
        write(tmp_path, key, [
            (page("c", f"https://site{n}.example/", f"site{n}.example", f"site{n}.example"),
             [link("c", f"https://site{n}.example/", f"site{n}.example", f"site{n}.example",
                   f"t{m}.org", f"t{m}.org") for m in range(n % 7)])
            for n in sites
        ], partitions=5)
    plan = plan_aggregation(LocalData(tmp_path))
    try:
        store = LocalData(tmp_path)
        pages, links = (pl.concat([read_part_table(store, read_part_info(store, key), table)
                                   for key in ("one", "two")]) for table in ("pages", "links"))
        for rows, frame, column in ((plan.page_rows, pages, "host"),
                                    (plan.link_rows, links, "dst_domain")):
            counted = Counter(partition_of(name, plan.partitions) for name in frame[column])
            assert rows == dict(counted) and sum(rows.values()) == frame.height > 0
            assert len(rows) > 1  # several partitions, each counted apart
    finally:
        plan.graph.delete_all()


def test_without_ranks_every_table_is_the_same_and_the_rank_columns_are_null(
    tmp_path: Path,
) -> None:
    from pipeline.publish.database import publish
    from pipeline.serve.database import connect, run_macro
    from pipeline.serve.report import gather, render_html

    sitewide_graph(tmp_path, 6, 10)
    write(tmp_path, "more", [
        (page("c", f"https://site{n}.example/", f"site{n}.example", f"site{n}.example"),
         [link("c", f"https://site{n}.example/", f"site{n}.example", f"site{n}.example",
               f"t{m}.org", f"t{m}.org") for m in range(n % 5)])
        for n in range(12)
    ])
    rank_columns = ["pagerank", "harmonic", "pagerank_position", "harmonic_position",
                    "authority"]

    def read_all() -> dict[str, pl.DataFrame]:
        return {t: read_table(tmp_path, t)
                for t in ("pages", "links", "host_edges", "domain_edges", "hosts", "domains")}

    aggregate(LocalData(tmp_path), GraphOptions(aggregate_buckets=3))
    ranked = read_all()
    aggregate(LocalData(tmp_path), GraphOptions(aggregate_buckets=3, ranks=False))
    plain = read_all()
    for table in ("hosts", "domains"):
        assert plain[table].columns == ranked[table].columns
        assert plain[table].schema == ranked[table].schema
        assert plain[table].select(rank_columns).null_count().row(0) == (len(plain[table]),) * 5
        assert sorted(plain[table].drop(rank_columns).rows()) == sorted(
            ranked[table].drop(rank_columns).rows())
        assert ranked[table]["authority"].null_count() == 0
    for table in ("pages", "links", "host_edges", "domain_edges"):
        assert sorted(plain[table].rows()) == sorted(ranked[table].rows())
    # the database takes the nulls; the macros answer, ordered by pages and links
    db = publish(Folder(LocalData(tmp_path), "graph"), [], tmp_path / "graph.duckdb")
    with connect(db) as con:
        columns, rows = run_macro(con, "referring_domains", "t1.org")
        assert rows and all(row[columns.index("authority")] is None for row in rows)
        pages = [row[columns.index("pages")] for row in rows]
        assert pages == sorted(pages, reverse=True)
        html = render_html(gather(con, "t1.org"))  # the report shows the ranks as missing
        assert 'data-metric="authority" data-value=""' in html
        assert '<td class="num" data-sort="">–</td>' in html


def test_the_partition_count_changes_no_row(tmp_path: Path) -> None:
    """The same rows written into 1, 5 and 16 partitions (each part's rows split by target
    domain and host) aggregate to the same tables, every row and column."""
    tables = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "crawls")
    found = {}
    for partitions in (1, 5, 16):
        data = tmp_path / f"p{partitions}"
        for number in range(3):
            rows = []
            for n in range(8):
                src = f"https://site{n}.example/{number}"
                rows.append((page("c1" if number else "c2", src, f"site{n}.example",
                                  f"site{n}.example"),
                             [link("c1" if number else "c2", src, f"site{n}.example",
                                   f"site{n}.example", f"t{m}.org", f"t{m}.org",
                                   nofollow=m == 2) for m in range(n % 6)]))
            write(data, f"part{number}", rows, partitions=partitions)
        summary = aggregate(LocalData(data))
        assert summary.partitions == partitions
        assert len(list((graph_dir(data) / "links").glob("*.parquet"))) == partitions
        assert_counts_are_the_tables(data)
        found[partitions] = {t: sorted(read_table(data, t).rows()) for t in tables}
    assert found[1]["links"] and found[1]["hosts"]
    assert found[5] == found[1]
    assert found[16] == found[1]


def test_degree_pieces_are_a_file_per_writer_and_groups_of_partitions_read_their_own(
        tmp_path: Path) -> None:
    """Each links sub-bucket writes its degree pieces for all 16 host and domain partitions
    into one file a kind (not a file per partition), each hosts task its domain pieces the
    same way, each pages task its sitewide candidates in one file; pages, hosts and domains
    reduced in groups of partitions, each hosts and domains group reading its own
    partitions' bytes of those files, give every table of the one-process aggregation."""
    from pipeline.graph import aggregate as steps

    for data in (tmp_path / "groups", tmp_path / "whole"):
        write_sites(data, 40, 16, lambda n: [(f"www{m}.t{m % 7}.org", f"t{m % 7}.org")
                                             for m in range(n % 9)])
    aggregate(LocalData(tmp_path / "whole"))

    store, options = LocalData(tmp_path / "groups"), GraphOptions()
    plan = steps.plan_aggregation(store, options)
    steps.reduce_pages(plan, range(8), options)
    steps.reduce_pages(plan, range(8, 16), options)
    steps.reduce_links(plan, range(16), options)
    work = store.local_path(plan.work.name)
    # the sitewide candidates every links partition reads: a file a pages task
    assert sorted(path.name for path in (work / "sitewide_hosts").iterdir()) == [
        "p0000.parquet", "p0008.parquet"]
    stems = sorted(path.stem for path in (work / "crawl_links").glob("*.parquet"))
    assert len(stems) > 1  # several links partitions wrote pieces
    for kind in ("out_hosts", "in_hosts", "out_domains", "in_domains"):
        assert sorted(path.name for path in (work / kind).iterdir()) == [
            f"{stem}.pieces" for stem in stems], kind
    for group in ([0, 1, 2, 3, 4], [5], [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]):
        steps.reduce_hosts(plan, group)
    assert len(list((work / "domain_hosts").iterdir())) == 16  # a file a hosts partition
    for group in ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15]):
        steps.reduce_domains(plan, group)
    ranked = steps.rank_graph(plan, options)
    steps.write_referrals(plan, range(16), options)
    steps.finish_aggregation(plan, options, ranked)
    assert_same_tables(tmp_path / "groups", tmp_path / "whole")
    hosts = read_table(tmp_path / "groups", "hosts")
    assert hosts.filter(pl.col("in_hosts") > 0).height >= 7  # the targets' degrees came
    assert read_table(tmp_path / "groups", "links")["sitewide"].any()  # candidates were read


def test_superseded_captures_are_a_file_a_pages_task_and_each_links_partition_holds_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A WARC copied under a second name: every capture of the copy is superseded. Each pages
    task writes its superseded captures in one file (none when nothing is superseded), and,
    with more of them than a links task holds whole, each links partition holds only those
    of the pages that link into it (not every task's every capture), giving the tables of
    one copy aggregated in one process (where the few are held whole)."""
    from pipeline.graph import aggregate as steps
    from pipeline.partitions import partition_of

    def targets(n: int) -> list[str]:
        return [f"t{m}.org" for m in range(n % 5)]

    rows = [(page("c1", f"https://site{n}.example/", f"site{n}.example", f"site{n}.example"),
             [link("c1", f"https://site{n}.example/", f"site{n}.example", f"site{n}.example",
                   f"www.{domain}", domain) for domain in targets(n)])
            for n in range(40)]
    for data, copies in (("reference", 1), ("once", 1), ("copied", 2)):
        for copy in range(copies):
            write(tmp_path / data, f"copy{copy}", rows, partitions=8)
    aggregate(LocalData(tmp_path / "reference"))

    held: dict[int, pl.DataFrame] = {}
    of_partition = steps._SupersededCaptures.of_partition

    def spy(self: Any, plan: AggregationPlan, partition: int) -> pl.DataFrame:
        held[partition] = of_partition(self, plan, partition)
        return held[partition]

    monkeypatch.setattr(steps._SupersededCaptures, "of_partition", spy)
    monkeypatch.setattr(steps, "SUPERSEDED_HELD_BYTES", 0)  # the files are a few KB
    for data in ("once", "copied"):
        store, options = LocalData(tmp_path / data), GraphOptions()
        plan = steps.plan_aggregation(store, options)
        steps.reduce_pages(plan, range(4), options)
        steps.reduce_pages(plan, range(4, 8), options)
        work = store.local_path(plan.work.name)
        held.clear()
        steps.reduce_links(plan, range(8), options)
        assert sorted(held) == list(range(8))
        if data == "once":  # nothing superseded: no file written, nothing held
            assert not list(work.glob("superseded/*"))
            assert all(rows.height == 0 for rows in held.values())
        else:
            assert sorted(p.name for p in work.glob("superseded/*")) == [
                "p0000.parquet", "p0004.parquet"]
            assert pl.read_parquet(work / "superseded").height == 40  # a copy of each page
            for partition, superseded in held.items():
                linking = {f"https://site{n}.example/" for n in range(40)
                           if any(partition_of(domain, 8) == partition
                                  for domain in targets(n))}
                assert set(superseded["src_url"]) == linking, partition
                assert superseded.height == len(linking)
            assert 0 < max(rows.height for rows in held.values()) < 40
        for group in ([0, 1, 2, 3], [4, 5, 6, 7]):
            steps.reduce_hosts(plan, group)
        for group in ([0, 1, 2, 3], [4, 5, 6, 7]):
            steps.reduce_domains(plan, group)
        ranked = steps.rank_graph(plan, options)
        steps.write_referrals(plan, range(8), options)
        steps.finish_aggregation(plan, options, ranked)
        assert_same_tables(tmp_path / data, tmp_path / "reference")


def test_parts_of_two_splits_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "one", [(page("c", "https://a.org/", "a.org", "a.org"), [])], partitions=2)
    write(tmp_path, "two", [(page("c", "https://b.org/", "b.org", "b.org"), [])], partitions=3)
    with pytest.raises(GraphError, match=r"split into \[2, 3\] partitions"):
        aggregate(LocalData(tmp_path))
    assert not list(tmp_path.glob(".graph-*"))  # the ranges written before went with it


@pytest.mark.parametrize("partitions", [1, 4])
def test_a_capture_held_by_two_parts_counts_once(tmp_path: Path, partitions: int) -> None:
    """One WARC copied under two names gives two parts with the same captures: the graph is
    that of one copy (before, each link counted twice)."""
    tables = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "crawls")
    rows = [(page("c1", f"https://s{n}.example/", f"s{n}.example", f"s{n}.example"),
             [link("c1", f"https://s{n}.example/", f"s{n}.example", f"s{n}.example",
                   f"t{m}.org", f"t{m}.org", anchor=f"x{m}") for m in range(n % 4 + 1)])
            for n in range(10)]
    found = {}
    for copies in (1, 2, 3):
        data = tmp_path / f"copies{copies}"
        for copy in range(copies):
            write(data, f"copy{copy}", rows, partitions=partitions)
        assert aggregate(LocalData(data)).parts == copies
        found[copies] = {t: sorted(read_table(data, t).rows()) for t in tables}
    assert len(found[1]["links"]) == sum(n % 4 + 1 for n in range(10))
    assert found[2] == found[1]
    assert found[3] == found[1]


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_partitions_are_grouped_into_tasks_by_bytes_and_workers(tmp_path: Path,
                                                                workers: int) -> None:
    """Each step's tasks: every partition once, in order; about TASK_BYTES a task, and a
    small step split among the workers so that none idles."""
    from pipeline.graph.aggregate import TASK_BYTES, AggregationPlan

    def plan(link_bytes: dict[int, int]) -> AggregationPlan:
        return AggregationPlan(LocalData(tmp_path), "graph", 0, 16, link_bytes, {})

    for sizes in ({p: 1_000 * (p % 5 + 1) for p in range(16)},  # small: split by workers
                  {p: TASK_BYTES // 3 for p in range(16)},  # large: about TASK_BYTES each
                  {3: 10, 9: 10}, {}):  # mostly empty partitions, and none
        groups = plan(sizes).groups("links", workers)
        assert [p for group in groups for p in group] == list(range(16))
        total = sum(sizes.values())
        bytes_of = [sum(sizes.get(p, 0) for p in group) for group in groups]
        if total >= workers * TASK_BYTES:
            assert len(groups) == 6 and max(bytes_of) <= TASK_BYTES + TASK_BYTES // 3
        elif total:
            assert len(groups) == min(workers, len([s for s in sizes.values() if s]))
        else:
            assert len(groups) == 1
        # the referrals step: a task a worker at any size (each builds every domain's
        # lookup once)
        referrals = plan(sizes).groups("referrals", workers)
        assert [p for group in referrals for p in group] == list(range(16))
        assert len(referrals) == (min(workers, len([s for s in sizes.values() if s]))
                                  if total else 1)


def test_a_sub_bucket_file_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    from pipeline.graph.spill import Spill

    gone = tmp_path / "scratch-removed"  # as if TMPDIR were full or gone under the task
    spill = Spill(gone, 2, pl.Schema({"dst_domain": pl.String()}))
    with pytest.raises(GraphError, match="could not write the sub-bucket file .*TMPDIR"):
        spill.add(pl.DataFrame({"dst_domain": ["a.org", "b.org"]}),
                  pl.Series([0, 1], dtype=pl.UInt32))
    assert not gone.exists()


def test_a_partition_that_cannot_be_copied_to_the_tasks_disk_is_a_clear_error(
    tmp_path: Path,
) -> None:
    """A task copies its partition's ranges to its disk first: a disk that refuses them
    (here a file where the copy's folder should be) is a GraphError that names the
    partition, the folder and the fix, not a bare OSError."""
    from pipeline.graph.aggregate import plan_aggregation

    write_sites(tmp_path / "data", 6, 1, lambda n: [(f"t{n}.org", f"t{n}.org")])
    plan = plan_aggregation(LocalData(tmp_path / "data"))
    try:
        blocked = tmp_path / "full"
        blocked.write_text("not a folder")
        with pytest.raises(GraphError, match=r"could not copy partition 0 of the links to the "
                                             r"task's disk under .*full.*set TMPDIR"):
            plan._partition_copy("links", 0, blocked / "copy")
    finally:
        plan.graph.delete_all()


def test_superseded_captures_the_tasks_disk_refuses_are_a_clear_error() -> None:
    """A pages task keeps its superseded captures on its disk until it ends: a disk that
    refuses them (here the task's scratch folder removed under it) is a GraphError that
    names the sub-bucket and the fix, not a bare OSError."""
    import shutil

    from pipeline.graph.aggregate import _PagesTaskFiles
    from pipeline.scratch import scratch_folder

    lost = pl.DataFrame({"crawl": ["c"], "src_url": ["https://a.org/"]})
    with scratch_folder("superseded") as folder:
        task = _PagesTaskFiles(folder)
        shutil.rmtree(folder)
        with pytest.raises(GraphError, match=r"could not write the superseded captures of "
                                             r"p0003-s001 .*set TMPDIR"):
            task.add_superseded("p0003-s001", lost)
        task.add_superseded("p0003-s002", lost.clear())  # none: nothing to write


def test_work_files_the_tasks_disk_refuses_are_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A links task copies the sitewide candidates (and many superseded captures) to its
    disk: a full disk (which cannot be made here, so the copy's OSError is raised at the
    file system's edge) is a GraphError that names what, how much and the fix."""
    import errno
    from contextlib import ExitStack

    from pipeline.graph import aggregate as steps

    work = Folder(LocalData(tmp_path), "work")
    work.write(pl.DataFrame({"host": ["a.org"], "host_pages": [3]}), "sitewide_hosts/p0.parquet")

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(steps, "copy_ranges", full)
    with ExitStack() as task, pytest.raises(
            GraphError, match=r"could not copy the sitewide candidates \(0\.0 MB\) to the "
                              r"task's disk under .*No space left.*set TMPDIR"):
        steps._on_task_disk(work, work.sizes_in("sitewide_hosts"), task,
                            "the sitewide candidates")


def test_sub_buckets_are_uncompressed_only_where_the_disk_has_room(tmp_path: Path) -> None:
    from pipeline.graph.spill import DISK_RATIO, ROOM_FACTOR, Spill, spill_compression

    partition = 100 << 20
    roomy = int(ROOM_FACTOR * DISK_RATIO["uncompressed"] * partition)
    assert spill_compression(roomy, partition) == "uncompressed"
    assert spill_compression(roomy - 1, partition) == "lz4"
    assert spill_compression(0, 0) == "uncompressed"  # an empty partition takes nothing
    # both give back the same rows, in the order they were added
    rows = pl.DataFrame({"dst_domain": [f"d{n % 7}.org" for n in range(1_000)],
                         "n": list(range(1_000))})
    buckets = pl.Series([n % 3 for n in range(1_000)], dtype=pl.UInt32)
    read: dict[str, list[pl.DataFrame]] = {}
    disk: dict[str, int] = {}
    for compression in ("uncompressed", "lz4"):
        folder = tmp_path / compression
        folder.mkdir()
        spill = Spill(folder, 3, rows.schema, compression)
        spill.add(rows.head(500), buckets.head(500))
        spill.add(rows.tail(500), buckets.tail(500))
        read[compression] = [spill.read(index) for index in range(3)]
        disk[compression] = sum(path.stat().st_size for path in folder.iterdir())
    for index in range(3):
        assert read["uncompressed"][index].equals(read["lz4"][index])
        assert read["lz4"][index]["n"].to_list() == list(range(index, 1_000, 3))
    assert disk["uncompressed"] > disk["lz4"]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from([f"d{n}.org" for n in range(40)]),
                       st.one_of(st.none(), st.floats(0, 1)), max_size=30),
       st.lists(st.one_of(st.none(), st.sampled_from([f"d{n}.org" for n in range(50)])),
                max_size=60))
def test_the_authority_lookup_is_a_left_join_on_the_domain(
        authority: dict[str, float | None], names: list[str | None]) -> None:
    """tables.DomainAuthority gives each name its domain's authority exactly as a left join
    on the name would (null for a name not ranked, a null name, a null authority), and keeps
    its dictionary while other lookups are made and dropped."""
    import gc

    from pipeline.graph.tables import DomainAuthority

    domains = pl.DataFrame({"domain": list(authority), "authority": list(authority.values())},
                           schema={"domain": pl.String(), "authority": pl.Float64()})
    lookup = DomainAuthority(domains)
    DomainAuthority(domains.reverse())  # another dictionary made and let go
    gc.collect()
    rows = pl.DataFrame({"referring_domain": names}, schema={"referring_domain": pl.String()})
    joined = rows.join(domains.rename({"domain": "referring_domain"}), on="referring_domain",
                       how="left", maintain_order="left")
    found = lookup.of(rows["referring_domain"])
    assert found.to_list() == joined["authority"].to_list()
    assert lookup.of(rows["referring_domain"]).to_list() == found.to_list()  # and again


def reduced_and_ranked(store: DataStore,
                       options: GraphOptions) -> tuple[AggregationPlan, dict[str, Any]]:
    """Every step of the aggregation of ``store`` up to the ranks, in this process: the plan
    and what rank_graph returned (the referrals and finish steps are the caller's)."""
    from pipeline.graph import aggregate as steps

    plan = steps.plan_aggregation(store, options)
    everything = range(plan.partitions)
    steps.reduce_pages(plan, everything, options)
    steps.reduce_links(plan, everything, options)
    steps.reduce_hosts(plan, everything)
    steps.reduce_domains(plan, everything)
    return plan, steps.rank_graph(plan, options)


def test_the_referrals_are_a_step_of_their_own_and_finish_waits_for_every_partition(
        tmp_path: Path) -> None:
    """write_referrals runs per group of target partitions, after the ranks; the finish
    step refuses a graph whose referrals some partition has not written, and once they all
    have, every table (referrals with their authority too) is the one-process
    aggregation's."""
    from pipeline.graph import aggregate as steps

    for data in (tmp_path / "steps", tmp_path / "whole"):
        write_sites(data, 10, 4, lambda n: [(f"t{m}.org", f"t{m}.org") for m in range(n % 6)]
                    + [(f"site{n + 1}.example", f"site{n + 1}.example")])
    aggregate(LocalData(tmp_path / "whole"))

    store = LocalData(tmp_path / "steps")
    options = GraphOptions()

    plan, ranked = reduced_and_ranked(store, options)
    steps.write_referrals(plan, [0, 1], options)
    with pytest.raises(GraphError, match=r"referral files without authority \(the first: p0002"):
        steps.finish_aggregation(plan, options, ranked)
    assert store.current_graph() is None  # nothing published
    # a failed finish deletes the graph being built: the run starts again, as a re-run does
    plan, ranked = reduced_and_ranked(store, options)
    steps.write_referrals(plan, [2, 3], options)
    steps.write_referrals(plan, [0, 1], options)
    steps.finish_aggregation(plan, options, ranked)
    assert_same_tables(tmp_path / "steps", tmp_path / "whole")
    referrals = read_table(tmp_path / "steps", "referrals")
    assert referrals.height > 0 and referrals["authority"].null_count() == 0


def test_referrals_with_the_authority_in_shards_are_those_of_one_dictionary(tmp_path: Path) -> None:
    """With the linking domains' dictionary built in shards (one at a time, each of its own
    share of the domains), every referrals file is the one built from one dictionary, row
    for row and in the same order."""
    from pipeline.graph import aggregate as steps

    for number in range(2):
        rows = []
        for n in range(40):
            src = f"https://site{n}.example/{number}"
            rows.append((page("c1", src, f"site{n}.example", f"site{n}.example"),
                         [link("c1", src, f"site{n}.example", f"site{n}.example",
                               f"site{(n * m) % 40}.example", f"site{(n * m) % 40}.example")
                          for m in range(2, 2 + n % 7)]
                         + [link("c1", src, f"site{n}.example", f"site{n}.example",
                                 "unranked.org", "unranked.org")]))
        write(tmp_path, f"part{number}", rows, partitions=3)
    options = GraphOptions()
    plan, _ = reduced_and_ranked(LocalData(tmp_path), options)
    everything = range(plan.partitions)

    def referrals_in(shards: int) -> dict[str, pl.DataFrame]:
        steps.write_referrals(plan, everything, options, shards=shards)
        names = plan.graph.files_in("referrals")
        return {name.rsplit("/", 1)[-1]: plan.graph.scan([name]).collect() for name in names}

    whole = referrals_in(1)
    assert sum(frame.height for frame in whole.values()) > 40
    assert all(frame["authority"].null_count() == 0 for frame in whole.values())
    for shards in (2, 5):
        sharded = referrals_in(shards)
        assert sharded.keys() == whole.keys()
        for name, frame in whole.items():
            assert sharded[name].equals(frame), (shards, name)


def test_the_referrals_dictionary_is_sharded_by_the_memory_setting() -> None:
    """authority_shards: one shard while the linking domains fit half the memory above the
    task's base, then one more for each such half."""
    from pipeline.graph.aggregate import (
        AUTHORITY_DOMAIN_MEMORY,
        BUCKET_BASE_MB,
        authority_shards,
    )

    for memory_mb in (500, 2_000):
        per_shard = (memory_mb - BUCKET_BASE_MB) * 2**20 // 2 // AUTHORITY_DOMAIN_MEMORY
        assert authority_shards(0, memory_mb) == 1
        assert authority_shards(per_shard, memory_mb) == 1
        assert authority_shards(per_shard + 1, memory_mb) == 2
        assert authority_shards(3 * per_shard, memory_mb) == 3

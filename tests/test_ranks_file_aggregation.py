"""The ranks_file setting in the aggregation: hosts and domains take Common Crawl's ranks
from files in its layout; nodes the files do not name get null ranks, counted."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from test_aggregate import link, page, write
from test_ranks_file import write_ranks_file

from pipeline.graph.aggregate import GraphOptions, aggregate, read_table
from pipeline.storage import LocalData


def test_hosts_and_domains_take_the_ranks_of_the_files(tmp_path: Path) -> None:
    c = "CC-MAIN-2099-01"
    write(tmp_path / "data", "one", [
        (page(c, "https://www.a.org/", "www.a.org", "a.org"),
         [link(c, "https://www.a.org/", "www.a.org", "a.org", "www.b.org", "b.org"),
          link(c, "https://www.a.org/", "www.a.org", "a.org", "c.net", "c.net")]),
    ], partitions=3)
    hosts = pl.DataFrame({"name": ["www.a.org", "www.b.org"], "pagerank": [0.25, 0.75],
                          "harmonic": [1.0, 3.0]})
    domains = hosts.with_columns(pl.col("name").str.replace("www.", "", literal=True),
                                 pl.lit(1).alias("n_hosts"))
    host_file = write_ranks_file(tmp_path / "r" / "host" / "x-host-ranks.txt.gz", hosts)
    domain_file = write_ranks_file(tmp_path / "r" / "domain" / "x-domain-ranks.txt.gz",
                                   domains, domains=True)
    assert domain_file.is_file()
    summary = aggregate(LocalData(tmp_path / "data"), GraphOptions(ranks_file=str(host_file)))
    found = {row["host"]: row for row in read_table(tmp_path / "data", "hosts").iter_rows(
        named=True)}
    assert found["www.b.org"]["pagerank"] == 0.75 and found["www.b.org"]["harmonic_position"] == 1
    assert found["www.a.org"]["harmonic_position"] == 2
    assert found["c.net"]["pagerank"] is None  # not in the file: null, counted
    assert (summary.unranked_hosts, summary.unranked_domains) == (1, 1)
    ranked = {row["domain"]: row["pagerank"] for row in read_table(
        tmp_path / "data", "domains").iter_rows(named=True)}
    assert ranked == {"a.org": 0.25, "b.org": 0.75, "c.net": None}

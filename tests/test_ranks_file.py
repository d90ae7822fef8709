"""Common Crawl's ranks files read as the authority: files built in exactly the published
layout (gzipped, the header line, reversed names, in order of harmonic centrality, domain
files with #n_hosts), read from a local path, from the local HTTP server (with a dropped
connection) and from the local S3 server; the authority computed as rank.py computes it,
however the file is cut into blocks; hosts the file does not name get nulls, counted."""

from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from conftest import FAST_RETRIES, S3_BUCKET, CliRun, run_cli
from http_server import FaultPlan, RangeFileServer

from pipeline.config import Settings, load_settings
from pipeline.errors import ConfigError, InputError, InputNotFound
from pipeline.graph.rank import authority, graph_ranks
from pipeline.graph.ranks_file import (
    RANK_COLUMNS,
    RanksFiles,
    join_ranks,
    ranks_files,
    ranks_from_file,
    read_ranks_file,
)

FAST = FAST_RETRIES
HOST_HEADER = "#harmonicc_pos\t#harmonicc_val\t#pr_pos\t#pr_val\t#host_rev"
DOMAIN_HEADER = HOST_HEADER + "\t#n_hosts"


def reverse(name: str) -> str:
    return ".".join(reversed(name.split(".")))


def ranked_hosts(n: int = 400, seed: int = 1) -> pl.DataFrame:
    """Ranks of a generated host graph (rank.graph_ranks), harmonic centrality rounded to
    whole numbers for long runs of ties (authority recomputed by rank.authority)."""
    rng = np.random.default_rng(seed)
    names = pl.Series("name", [f"{['www', 'blog', 'shop'][i % 3]}.site{i}.example.{['com', 'org'][i % 2]}"
                               for i in range(n)])
    src = rng.integers(0, n, 3 * n)
    dst = (n * rng.power(0.3, 3 * n)).astype(np.int64).clip(0, n - 1)
    edges = pl.DataFrame({"src": names.gather(src), "dst": names.gather(dst),
                          "weight": np.ones(3 * n, dtype=np.int64)})
    ranked = graph_ranks(names, edges).with_columns(pl.col("harmonic").round(0))
    return ranked.with_columns(pl.Series("authority", authority(ranked["harmonic"].to_numpy())))


def write_ranks_file(
    path: Path, ranks: pl.DataFrame, *, domains: bool = False, order: str = "harmonic",
    line_end: str = "\n", compress: bool = True, blank_lines: bool = False,
) -> Path:
    """``ranks`` in Common Crawl's layout: header, one node a line, reversed names; sorted by
    harmonic centrality (positions 1..N in that order, pagerank positions by pagerank)."""
    table = ranks.sort(["harmonic", "name"], descending=[True, False]).with_columns(
        pl.int_range(1, pl.len() + 1).alias("hc_pos"),
        pl.col("pagerank").rank("ordinal", descending=True).alias("pr_pos"),
    )
    if order == "shuffled":
        table = table.sample(fraction=1.0, shuffle=True, seed=3)
    lines = [DOMAIN_HEADER if domains else HOST_HEADER]
    for row in table.iter_rows(named=True):
        fields = [str(row["hc_pos"]), repr(row["harmonic"]), str(row["pr_pos"]),
                  repr(row["pagerank"]), reverse(row["name"])]
        if domains:
            fields.append(str(row["n_hosts"]))
        lines.append("\t".join(fields))
        if blank_lines and row["hc_pos"] % 50 == 0:
            lines.append("")
    data = (line_end.join(lines) + line_end).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture(scope="module")
def ranks() -> pl.DataFrame:
    return ranked_hosts()


@pytest.fixture()
def host_file(tmp_path: Path, ranks: pl.DataFrame) -> Path:
    return write_ranks_file(tmp_path / "host" / "cc-main-2099-jan-feb-mar-host-ranks.txt.gz",
                            ranks)


def test_the_whole_file_reads_back_as_ranked(host_file: Path, ranks: pl.DataFrame) -> None:
    read = read_ranks_file(str(host_file), FAST)
    assert read.columns == ["name", *RANK_COLUMNS]
    expected = ranks.sort(["harmonic", "name"], descending=[True, False])
    assert read["name"].to_list() == expected["name"].to_list()  # un-reversed, file order
    assert read["harmonic"].to_list() == expected["harmonic"].to_list()
    assert read["pagerank"].to_list() == expected["pagerank"].to_list()
    assert read["harmonic_position"].to_list() == list(range(1, ranks.height + 1))
    # authority as rank.py computes it: the same numbers graph_ranks gave
    assert read["authority"].to_list() == expected["authority"].to_list()
    assert expected["harmonic"].n_unique() < ranks.height / 2  # many ties: a real test


@pytest.mark.parametrize("block_bytes", [40, 1_000, 1 << 20])
@pytest.mark.parametrize("order", ["harmonic", "shuffled"])
def test_the_rows_asked_for_get_the_authority_of_the_whole_file(
    tmp_path: Path, ranks: pl.DataFrame, block_bytes: int, order: str
) -> None:
    """Only the rows of the names asked for are kept; their authority counts every row of
    the file, in one pass when the file is in order (runs of ties across blocks), in two
    when it is not."""
    path = write_ranks_file(tmp_path / "r.txt.gz", ranks, order=order)
    asked = ranks["name"].gather(list(range(0, ranks.height, 7)))
    read = read_ranks_file(str(path), FAST, names=pl.concat([asked, pl.Series(["absent.example"])]),
                           block_bytes=block_bytes)
    assert sorted(read["name"].to_list()) == sorted(asked.to_list())
    expected = ranks.filter(pl.col("name").is_in(asked.implode())).select("name", "authority")
    got = read.select("name", "authority").sort("name")
    assert got.equals(expected.sort("name"))
    assert (read["authority"].to_numpy() == authority(ranks["harmonic"].to_numpy())[
        [ranks["name"].to_list().index(name) for name in read["name"]]]).all()


def test_join_puts_the_ranks_on_hosts_and_counts_the_missing(
    host_file: Path, ranks: pl.DataFrame
) -> None:
    hosts = pl.DataFrame({
        "host": ["nobody.example.net", ranks["name"][5], ranks["name"][0], "x.example.org"],
        "pages_crawled": [1, 2, 3, 4],
        "authority": [1.0, 2.0, 3.0, 4.0],  # ranked here before: replaced
    })
    joined, missing = ranks_from_file(hosts, "host", str(host_file), FAST)
    assert missing == 2
    assert joined.columns == ["host", "pages_crawled", *RANK_COLUMNS]
    assert joined["host"].to_list() == hosts["host"].to_list()  # the order kept
    assert joined["authority"].to_list()[0] is None and joined["harmonic"].to_list()[3] is None
    for index in (5, 0):
        row = joined.filter(pl.col("host") == ranks["name"][index]).row(0, named=True)
        assert row["harmonic"] == ranks["harmonic"][index]
        assert row["authority"] == ranks["authority"][index]
    assert join_ranks(hosts.head(0), "host", read_ranks_file(str(host_file), FAST))[1] == 0


def test_domain_files_with_n_hosts(tmp_path: Path) -> None:
    domains = pl.DataFrame({
        "name": ["example.com", "example.org", "co.uk.example", "bbc.co.uk"],
        "harmonic": [9.5, 9.5, 2.0, 1.0], "pagerank": [0.4, 0.3, 0.2, 0.1],
        "n_hosts": [12, 3, 1, 40],
    })
    path = write_ranks_file(tmp_path / "domain" / "d-domain-ranks.txt.gz", domains, domains=True)
    read = read_ranks_file(str(path), FAST)
    assert read.columns == ["name", *RANK_COLUMNS, "n_hosts"]
    assert read["name"].to_list() == ["example.com", "example.org", "co.uk.example", "bbc.co.uk"]
    assert read["n_hosts"].to_list() == [12, 3, 1, 40]
    assert read["authority"].to_list() == [66.7, 66.7, 33.3, 0.0]
    # some releases name the column #domain_rev
    text = gzip.decompress(path.read_bytes()).decode().replace("#host_rev", "#domain_rev")
    path.write_bytes(gzip.compress(text.encode()))
    assert read_ranks_file(str(path), FAST).equals(read)


def test_crlf_blank_lines_and_plain_text(tmp_path: Path, ranks: pl.DataFrame) -> None:
    plain = read_ranks_file(str(write_ranks_file(tmp_path / "a.txt.gz", ranks)), FAST)
    odd = write_ranks_file(tmp_path / "b.txt", ranks, line_end="\r\n", compress=False,
                           blank_lines=True)
    assert read_ranks_file(str(odd), FAST, block_bytes=100).equals(plain)


def test_over_https_with_a_dropped_connection(tmp_path: Path, ranks: pl.DataFrame) -> None:
    path = write_ranks_file(tmp_path / "host" / "r-host-ranks.txt.gz", ranks)
    local = read_ranks_file(str(path), FAST)
    plan = FaultPlan()
    with RangeFileServer(tmp_path, plan) as server:
        url = server.base_url + "host/r-host-ranks.txt.gz"
        assert read_ranks_file(url, FAST).equals(local)
        plan.reset(drop_after=[path.stat().st_size // 2])
        asked = ranks["name"].head(50)
        over_http = read_ranks_file(url, FAST, names=asked, block_bytes=500)
        assert plan.dropped == 1 and plan.range_requests == 1  # resumed where it stopped
        assert over_http.equals(local.filter(pl.col("name").is_in(asked.implode())))
        with pytest.raises(InputNotFound):
            read_ranks_file(server.base_url + "host/nope-host-ranks.txt.gz", FAST)


def test_over_s3(tmp_path: Path, ranks: pl.DataFrame, s3_endpoint: str) -> None:
    import boto3

    path = write_ranks_file(tmp_path / "r.txt.gz", ranks)
    admin = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                         aws_access_key_id="test-admin", aws_secret_access_key="test-admin")
    key = "projects/hyperlinkgraph/cc-main-2099-jan-feb-mar/host/cc-main-2099-jan-feb-mar-host-ranks.txt.gz"
    admin.put_object(Bucket=S3_BUCKET, Key=key, Body=path.read_bytes())
    settings = replace(FAST, s3_endpoint_url=s3_endpoint)
    assert read_ranks_file(f"s3://{S3_BUCKET}/{key}", settings).equals(
        read_ranks_file(str(path), FAST))


def test_what_is_not_a_ranks_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "edges.txt.gz"
    bad.write_bytes(gzip.compress(b"0\t1\n1\t2\n"))
    with pytest.raises(InputError, match="not a Common Crawl ranks file"):
        read_ranks_file(str(bad), FAST)
    empty = tmp_path / "empty.txt.gz"
    empty.write_bytes(gzip.compress(b""))
    with pytest.raises(InputError, match="empty ranks file"):
        read_ranks_file(str(empty), FAST)
    broken = tmp_path / "broken.txt"
    broken.write_text(HOST_HEADER + "\n1\tnot-a-number\t1\t0.5\tcom.example\n")
    with pytest.raises(InputError, match="does not parse"):
        read_ranks_file(str(broken), FAST)
    with pytest.raises(InputNotFound):
        read_ranks_file(str(tmp_path / "missing.txt.gz"), FAST)
    header_only = tmp_path / "header.txt"
    header_only.write_text(HOST_HEADER + "\n")
    assert read_ranks_file(str(header_only), FAST, names=pl.Series(["a.com"])).height == 0


def test_the_setting_names_the_host_and_the_domain_file() -> None:
    base = "https://data.commoncrawl.org/projects/hyperlinkgraph/cc-main-2024-feb-apr-may"
    assert ranks_files(f"{base}/host/cc-main-2024-feb-apr-may-host-ranks.txt.gz") == RanksFiles(
        f"{base}/host/cc-main-2024-feb-apr-may-host-ranks.txt.gz",
        f"{base}/domain/cc-main-2024-feb-apr-may-domain-ranks.txt.gz",
    )
    assert ranks_files("x-host-ranks.txt.gz") == RanksFiles("x-host-ranks.txt.gz",
                                                            "x-domain-ranks.txt.gz")
    assert ranks_files("h.txt.gz, s3://b/d.txt.gz") == RanksFiles("h.txt.gz", "s3://b/d.txt.gz")
    with pytest.raises(ConfigError, match="HOSTS,DOMAINS"):
        ranks_files("/data/my-ranks.txt.gz")
    assert Settings.defaults().ranks_file == ""
    assert load_settings(environ={"BACKLINKS_RANKS_FILE": "h,d"}).ranks_file == "h,d"


def test_a_run_with_a_ranks_file_uses_it_and_counts_what_it_left_out(
    tmp_path: Path, sample_run: CliRun
) -> None:
    """End to end: `backlinks run --ranks-file` on the sample, with ranks files in Common
    Crawl's layout that name half of the sample's hosts and domains."""
    with duckdb.connect(str(sample_run.db), read_only=True) as con:
        hosts = [h for (h,) in con.execute("select host from hosts order by host").fetchall()]
        domains = [d for (d,) in con.execute(
            "select domain from domains order by domain").fetchall()]
    named_hosts, named_domains = hosts[::2], domains[::2]
    host_ranks = pl.DataFrame({
        "name": named_hosts, "harmonic": [float(i % 7) for i in range(len(named_hosts))],
        "pagerank": [1.0 / (i + 1) for i in range(len(named_hosts))]})
    domain_ranks = pl.DataFrame({
        "name": named_domains, "harmonic": [float(i % 5) for i in range(len(named_domains))],
        "pagerank": [1.0 / (i + 2) for i in range(len(named_domains))],
        "n_hosts": [1] * len(named_domains)})
    host_file = write_ranks_file(tmp_path / "g" / "host" / "r-host-ranks.txt.gz", host_ranks)
    write_ranks_file(tmp_path / "g" / "domain" / "r-domain-ranks.txt.gz", domain_ranks,
                     domains=True)
    result = run_cli("run", "--data", str(tmp_path / "data"), "--ranks-file", str(host_file))
    assert result.returncode == 0, result.stderr
    unranked_hosts, unranked_domains = len(hosts) - len(named_hosts), len(domains) - len(
        named_domains)
    assert (f"  ranks     {unranked_hosts} hosts and {unranked_domains} domains not in the "
            "ranks file (null ranks and authority)") in result.stdout
    expected = read_ranks_file(str(host_file), FAST)
    with duckdb.connect(str(result.db), read_only=True) as con:
        got = dict(con.execute("select host, authority from hosts").fetchall())
    assert {h: got[h] for h in named_hosts} == dict(
        zip(expected["name"].to_list(), expected["authority"].to_list(), strict=True))
    assert all(got[h] is None for h in hosts if h not in set(named_hosts))

"""Data in object storage: `--data s3://BUCKET/PREFIX` against a local S3 server (moto).

Parts, graphs and run records live in the bucket; Polars reads and writes the Parquet there;
DuckDB builds the database from it through httpfs (the duckdb-extension-httpfs package), or
holds views over it (`--database views`). The tables must equal those of a local run.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import duckdb
import polars as pl
import pytest
from conftest import REPO, CliRun, graph_rows, own_scratch, run_cli
from test_aggregate import reduced_and_ranked
from test_rank_tables import assert_same_ranks, random_crawl

from pipeline.config import Settings
from pipeline.errors import ConfigError, DataFolderBusy, PartError, StorageError
from pipeline.extract.rows import LinkRow, PageRow
from pipeline.graph.aggregate import TABLES, GraphOptions, aggregate, read_table, scan_table
from pipeline.parts.part import (
    PartWriter,
    complete_part,
    complete_parts,
    partition_ranges,
    sweep_temporary,
)
from pipeline.publish.database import COPIED_INTO_VIEWS
from pipeline.serve.database import connect, run_macro
from pipeline.storage import LOCK_NAME, Folder, LocalData, S3Data, split_data_url
from pipeline.storage.s3 import quoted_url

BUCKET = "backlinks-data"
KEY_ID, SECRET = "data-writer", "data-writer-secret"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A local S3 server with an empty private bucket for the data."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    admin(url).create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def admin(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)


def keys(endpoint: str, prefix: str) -> list[str]:
    pages = admin(endpoint).get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix=prefix + "/")
    return sorted(item["Key"][len(prefix) + 1:] for page in pages
                  for item in page.get("Contents", []))


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def store(endpoint: str, prefix: str) -> S3Data:
    return S3Data(f"s3://{BUCKET}/{prefix}", endpoint, "us-east-1")


def s3_run(endpoint: str, prefix: str, db: Path, prefect_api: str, *extra: str) -> CliRun:
    return run_cli(
        "run", "--data", f"s3://{BUCKET}/{prefix}", "--db", str(db),
        "--data-endpoint-url", endpoint, "--workers", "2", *extra,
        env={"PREFECT_API_URL": prefect_api, "AWS_ACCESS_KEY_ID": KEY_ID,
             "AWS_SECRET_ACCESS_KEY": SECRET},
    )


def rows_through_connect(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = connect(db)
    try:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in TABLES}
    finally:
        con.close()


@pytest.mark.parametrize("where", ["local", "s3"])
def test_parquet_files_read_together_keep_each_rows_file_and_the_schema(
    endpoint: str, credentials: dict[str, str], tmp_path: Path, where: str,
) -> None:
    """``read_parquet`` reads several files in one scan (a local store) or one GET each (S3):
    with ``file_column`` every row says which of ``names`` it came from, ``keep`` selects
    rows, and the columns come back in the schema asked for, even from files whose integer
    types differ (which one scan refuses: each is then cast on its own)."""
    data: Any = LocalData(tmp_path) if where == "local" else store(endpoint, "read-together")
    data.prepare("f")
    names = [f"f/{name}.parquet" for name in ("c", "a", "b")]  # not in sorted order
    for number, name in enumerate(names):
        data.write_parquet(pl.DataFrame({"n": [number * 10 + i for i in range(4)]},
                                        schema={"n": pl.Int32}), name)
    data.write_parquet(pl.DataFrame({"n": [7, 8]}, schema={"n": pl.Int16}), "f/d.parquet")
    schema = pl.Schema({"n": pl.Int64()})
    rows = data.read_parquet(names, schema, pl.col("n") % 2 == 1, file_column="file")
    assert rows.schema == pl.Schema({"n": pl.Int64(), "file": pl.UInt32()})
    assert sorted(rows.rows()) == [(1, 0), (3, 0), (11, 1), (13, 1), (21, 2), (23, 2)]
    assert data.read_parquet(names[1:], schema)["n"].sort().to_list() == [
        10, 11, 12, 13, 20, 21, 22, 23]
    assert data.read_parquet([], schema, file_column="file").schema == rows.schema
    mixed = data.read_parquet(["f/d.parquet", *names[:2]], schema, pl.col("n") % 2 == 1,
                              file_column="file")
    assert mixed.schema == rows.schema
    assert sorted(mixed.rows()) == [(1, 1), (3, 1), (7, 0), (11, 2), (13, 2)]


@pytest.mark.parametrize("where", ["local", "s3"])
def test_byte_ranges_come_back_in_order_and_a_short_file_is_an_error(
    endpoint: str, credentials: dict[str, str], tmp_path: Path, where: str,
) -> None:
    """``read_ranges`` (how the aggregation's pieces are read: one file a writer, a range a
    partition) gives each ``[start, stop)`` in the order asked, an empty range as no bytes,
    and a StorageError naming the file when it is missing or ends before ``stop``."""
    data: Any = LocalData(tmp_path) if where == "local" else store(endpoint, "ranges")
    data.write_bytes("w/one.pieces", bytes(range(100)))
    data.write_bytes("w/two.pieces", b"abcdefghij")
    asked = [("w/two.pieces", 2, 5), ("w/one.pieces", 90, 100), ("w/one.pieces", 7, 7),
             ("w/one.pieces", 0, 3), *(("w/two.pieces", n, n + 1) for n in range(10))]
    assert data.read_ranges(asked) == [b"cde", bytes(range(90, 100)), b"", bytes([0, 1, 2]),
                                       *(bytes([c]) for c in b"abcdefghij")]
    assert data.read_ranges([]) == []
    with pytest.raises(StorageError, match=r"two\.pieces.* ends before byte 11"):
        data.read_ranges([("w/two.pieces", 5, 11)])
    with pytest.raises(StorageError, match=r"cannot read .*w/three\.pieces"):
        data.read_ranges([("w/one.pieces", 0, 1), ("w/three.pieces", 0, 1)])


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_partitions_ranges_are_copied_whole_in_bounded_chunks(
    endpoint: str, credentials: dict[str, str], tmp_path: Path, where: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``copy_ranges`` (how a task copies its partition's range of each part to its disk)
    writes each range to its own file whole, reading a few bytes at a time here (7-byte
    chunks, 20 bytes a call), so memory holds a batch whatever the ranges' sizes; an empty
    range is an empty file, a file cut short a StorageError that names it."""
    from pipeline.parts import part

    monkeypatch.setattr(part, "COPY_CHUNK_BYTES", 7)
    monkeypatch.setattr(part, "COPY_BATCH_BYTES", 20)
    data: Any = LocalData(tmp_path / "data") if where == "local" else store(endpoint, "copy")
    data.write_bytes("p/one.partitions", bytes(range(200)))
    data.write_bytes("p/two.partitions", b"abcdefghij" * 5)
    calls: list[int] = []
    read_ranges = data.read_ranges
    monkeypatch.setattr(data, "read_ranges",
                        lambda ranges: calls.append(sum(b - a for _, a, b in ranges))
                        or read_ranges(ranges))
    asked = [("p/one.partitions", 3, 150), ("p/two.partitions", 10, 50),
             ("p/one.partitions", 9, 9), ("p/two.partitions", 0, 1)]
    paths = [tmp_path / "copy" / f"{n}.parquet" for n in range(4)]
    part.copy_ranges(data, asked, paths)
    assert [path.read_bytes() for path in paths] == [
        bytes(range(3, 150)), b"abcdefghij" * 4, b"", b"a"]
    assert max(calls) <= 20 and sum(calls) == 147 + 40 + 1
    with pytest.raises(StorageError, match=r"two\.partitions.* ends before byte 54"):
        part.copy_ranges(data, [("p/two.partitions", 40, 60)], paths[:1])


def test_a_run_with_its_data_in_s3_gives_the_tables_of_a_local_run(
    endpoint: str, credentials: dict[str, str], sample_run: CliRun, prefect_api: str,
    tmp_path: Path,
) -> None:
    first = s3_run(endpoint, "crawl-graph", tmp_path / "tables.duckdb", prefect_api)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "data in s3://backlinks-data/crawl-graph" in first.stderr

    # everything is in the bucket: parts (files under a write id, part.json naming them),
    # one graph and its pointer, the run record; nothing was written beside the database
    stored = keys(endpoint, "crawl-graph")
    parts = [name for name in stored if name.startswith("parts/") and name.endswith("part.json")]
    assert len(parts) == 9
    pointer = json.loads(admin(endpoint).get_object(
        Bucket=BUCKET, Key="crawl-graph/graph.json")["Body"].read())
    assert {f"{pointer['graph']}/{table}/p0000.parquet" for table in TABLES} <= set(stored)
    assert f"{pointer['graph']}/manifest.json" in stored
    assert len([name for name in stored if name.startswith("runs/")]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tables.duckdb"]

    # the database was built from the bucket (httpfs) and equals the local run's
    assert graph_rows(tmp_path / "tables.duckdb") == graph_rows(sample_run.db)
    con = duckdb.connect(str(tmp_path / "tables.duckdb"), read_only=True)
    assert con.execute("select data_location, graph, database from storage").fetchall() == [
        ("s3://backlinks-data/crawl-graph", pointer["graph"], "tables")]
    con.close()

    # a second run on a Dask cluster reuses the parts in the bucket, aggregates there (the
    # workers get the store by pickling, without its client) and publishes views over S3;
    # sub-buckets make it aggregate again (same parts and options would publish only)
    views_db = tmp_path / "views.duckdb"
    second = s3_run(endpoint, "crawl-graph", views_db, prefect_api, "--runner", "dask",
                    "--database", "views", "--aggregate-buckets", "2")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "(0 processed, 9 reused, 0 failed)" in second.stdout, second.stdout
    con = duckdb.connect(str(views_db), read_only=True)
    views = {name for (name,) in con.execute("select view_name from duckdb_views()").fetchall()}
    assert set(TABLES) - set(COPIED_INTO_VIEWS) <= views  # hosts and domains are copied in
    assert con.execute("select database from storage").fetchall() == [("views",)]
    con.close()
    assert views_db.stat().st_size < (tmp_path / "tables.duckdb").stat().st_size
    assert rows_through_connect(views_db) == graph_rows(sample_run.db)
    with connect(views_db) as views_con, connect(sample_run.db) as local_con:
        for macro in ("referring_domains", "backlinks", "link_profile"):
            assert run_macro(views_con, macro, "google.com") == run_macro(
                local_con, macro, "google.com"), macro

    # the first graph stays: a reader of the first database still reads it
    new_pointer = json.loads(admin(endpoint).get_object(
        Bucket=BUCKET, Key="crawl-graph/graph.json")["Body"].read())
    assert new_pointer["previous"] == pointer["graph"]
    assert graph_rows(tmp_path / "tables.duckdb") == graph_rows(sample_run.db)

    # the same run again finds nothing new, from one listing of the bucket (the part.json
    # files' ETags, as the graph's manifest recorded them): no aggregation, no publish
    third = s3_run(endpoint, "crawl-graph", views_db, prefect_api, "--runner", "dask",
                   "--database", "views", "--aggregate-buckets", "2")
    assert third.returncode == 0, third.stdout + third.stderr
    assert "(0 processed, 9 reused, 0 failed)" in third.stdout, third.stdout
    assert "nothing new" in third.stderr, third.stderr
    assert json.loads(admin(endpoint).get_object(
        Bucket=BUCKET, Key="crawl-graph/graph.json")["Body"].read()) == new_pointer


def test_a_new_graph_keeps_the_previous_one_and_retires_the_one_before(
    endpoint: str, credentials: dict[str, str]
) -> None:
    data = store(endpoint, "graphs-test")
    installed = []
    for number in range(3):
        folder = data.new_graph_folder()
        data.write_text(f"{folder}/links.parquet", f"graph {number}")
        installed.append(data.install_graph(folder))
    pointer = json.loads(data.read_text("graph.json") or "{}")
    assert (pointer["graph"], pointer["previous"]) == (installed[2], installed[1])
    assert {name.split("/")[0] for name in keys(endpoint, "graphs-test/graphs")} == {
        installed[1].split("/")[1], installed[2].split("/")[1]}
    # a graph a killed run left half-written (no pointer to it) is swept by the next run
    data.write_text(f"{data.new_graph_folder()}/links.parquet", "killed")
    assert data.sweep_graphs() == 1
    assert len({name.split("/")[0] for name in keys(endpoint, "graphs-test/graphs")}) == 2


def _write_part(data: S3Data, key: str, pages: int = 3) -> None:
    from datetime import UTC, datetime

    when = datetime(2024, 5, 1, tzinfo=UTC)
    with PartWriter(data, key, batch_rows=2) as writer:
        for i in range(pages):
            url = f"https://a{i}.test/"
            writer.add(
                PageRow(crawl="c", url=url, host=f"a{i}.test", domain=f"a{i}.test",
                        fetch_time=when, status=200, links_internal=0, links_external=1,
                        robots_nofollow=False, truncated=False),
                [LinkRow(crawl="c", src_url=url, src_host=f"a{i}.test", src_domain=f"a{i}.test",
                         dst_url="https://b.test/", dst_host="b.test", dst_domain="b.test",
                         anchor="b", link_type="a", context="body", nofollow=False, ugc=False,
                         sponsored=False, external=True, fetch_time=when)],
            )
        writer.commit({"input": key, "size": pages, "version": "v1", "crawl": "c",
                       "records": pages, "counters": {}, "seconds": 0.0})


def test_a_part_in_s3_is_whole_or_absent_and_damage_is_found(
    endpoint: str, credentials: dict[str, str]
) -> None:
    data = store(endpoint, "parts-test")
    _write_part(data, "one")
    info = complete_part(data, "one", 3, "v1")
    assert info is not None and info.pages == 3 and info.links == 3
    # two batches of rows, joined into one file per table at commit
    assert sorted(name.split("/")[-1] for name in info.files) == [
        "links.partitions", "pages.partitions"]

    # a writer that fails before commit leaves nothing in the bucket
    with pytest.raises(RuntimeError), PartWriter(data, "never") as writer:
        writer.flush()
        raise RuntimeError("killed")
    assert not [name for name in keys(endpoint, "parts-test") if "never" in name]

    # an upload cut before part.json (a killed commit) is invisible, then swept
    s3 = admin(endpoint)
    for orphan in ("parts/half/abc/links-00000.parquet", "parts/one/old/links-00000.parquet"):
        s3.put_object(Bucket=BUCKET, Key=f"parts-test/{orphan}", Body=b"partial upload")
    assert [key for _, found in complete_parts(data) for key in [found.key]] == ["one"]
    assert sweep_temporary(data) == 2
    assert not [name for name in keys(endpoint, "parts-test")
                if name.startswith(("parts/half", "parts/one/old"))]

    # the same key written again: the old files go, part.json names only the new ones
    _write_part(data, "one", pages=4)
    assert complete_part(data, "one", 3, "v1") is None  # another version of the input
    renewed = complete_part(data, "one", 4, "v1")
    assert renewed is not None
    assert sorted(name for name in keys(endpoint, "parts-test/parts/one")
                  if name != "part.json") == sorted(renewed.files)

    # a file changed behind our back (same size, other bytes) is found by S3's SHA-256
    victim = next(name for name in renewed.files if name.endswith("/links.partitions"))
    body = s3.get_object(Bucket=BUCKET, Key=f"parts-test/parts/one/{victim}")["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=f"parts-test/parts/one/{victim}",
                  Body=bytes(reversed(body)), ChecksumAlgorithm="SHA256")
    assert complete_part(data, "one", 4, "v1") is None
    with pytest.raises(PartError, match=r"parts/one.*is damaged: .*links.partitions"):
        complete_parts(data)


def test_the_s3_lease_lets_one_run_in_and_expires_after_a_kill(
    endpoint: str, credentials: dict[str, str]
) -> None:
    data = store(endpoint, "lock-test")
    s3 = admin(endpoint)
    lock_key = f"lock-test/{LOCK_NAME}"
    with data.lock(lease_seconds=0.9):
        held = json.loads(s3.get_object(Bucket=BUCKET, Key=lock_key)["Body"].read())
        with pytest.raises(DataFolderBusy, match="holds the data location"):
            with store(endpoint, "lock-test").lock():
                pass
        time.sleep(1.5)  # the holder renews every 0.3 s
        renewed = json.loads(s3.get_object(Bucket=BUCKET, Key=lock_key)["Body"].read())
        assert renewed["owner"] == held["owner"] and renewed["expires"] > held["expires"]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=lock_key)  # released

    # a killed run's lease: present but expired, so the next run takes it over
    s3.put_object(Bucket=BUCKET, Key=lock_key, Body=json.dumps(
        {"owner": "killed", "host": "gone", "pid": 1, "expires": time.time() - 1}).encode())
    with data.lock():
        taken = json.loads(s3.get_object(Bucket=BUCKET, Key=lock_key)["Body"].read())
        assert taken["owner"] != "killed"

    # a run killed on this machine: its lease is still running, but its pid is gone
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    s3.put_object(Bucket=BUCKET, Key=lock_key, Body=json.dumps(
        {"owner": "killed-here", "host": socket.gethostname(), "pid": int(gone.stdout),
         "expires": time.time() + 600}).encode())
    with data.lock():
        taken = json.loads(s3.get_object(Bucket=BUCKET, Key=lock_key)["Body"].read())
        assert taken["owner"] != "killed-here"


def test_unusable_data_locations_fail_before_any_work(tmp_path: Path) -> None:
    no_db = run_cli("run", "--data", f"s3://{BUCKET}/x")
    assert no_db.returncode == 2 and "--db PATH" in no_db.stderr
    for bad in ("s3://Bad_Bucket/x", "s3://ok-bucket/it's", "s3://ok-bucket/a b", "s3:///x"):
        with pytest.raises(ConfigError, match="data_dir"):
            split_data_url(bad)
    assert split_data_url("s3://ok-bucket/a/b=1/") == ("ok-bucket", "a/b=1")
    settings = replace(Settings.defaults(), data_dir="s3://ok-bucket/x")
    with pytest.raises(ConfigError, match="--db PATH"):
        settings.db_path  # noqa: B018


@pytest.mark.parametrize("url", [
    "s3://bkt/x/it's.parquet", "s3://bkt/x'); drop table links; --/a.parquet",
    "/local/path.parquet", "s3://bkt/a b.parquet", "s3://bkt/x/\\'.parquet",
])
def test_only_plain_urls_are_ever_written_into_a_view(url: str) -> None:
    with pytest.raises(ConfigError, match="cannot be written into a view"):
        quoted_url(url)
    assert quoted_url("s3://bkt/graphs/0a1b/links.parquet") == (
        "'s3://bkt/graphs/0a1b/links.parquet'")


def _graph_being_written(endpoint: str, prefix: str) -> bool:
    stored = keys(endpoint, prefix)
    return "graph.json" not in stored and any(name.startswith("graphs/") for name in stored)


def _some_parts(endpoint: str, prefix: str) -> bool:
    return 0 < sum(name.endswith("/part.json") for name in keys(endpoint, prefix)) < 9


# Killed during aggregation: every part complete, a graph half-written and the lease held.
# (A part half-uploaded by a kill during extraction is covered by the part test above.)
@pytest.mark.parametrize("moment", ["aggregation"])
def test_a_run_killed_with_its_data_in_s3_resumes_to_the_same_tables(
    endpoint: str, credentials: dict[str, str], sample_run: CliRun, prefect_api: str,
    tmp_path: Path, moment: str,
) -> None:
    caught = _some_parts if moment == "extraction" else _graph_being_written
    for attempt in range(3):  # the moment may pass between two looks; try again
        prefix = f"killed-{moment}-{attempt}"
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "run", "--data", f"s3://{BUCKET}/{prefix}",
             "--db", str(tmp_path / "graph.duckdb"), "--data-endpoint-url", endpoint,
             "--workers", "2"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, env={**os.environ, "PREFECT_API_URL": prefect_api},
        )
        try:
            while process.poll() is None and not caught(endpoint, prefix):
                time.sleep(0.01)
        finally:
            killed = process.poll() is None
            if killed:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if killed:
            break
    else:
        pytest.fail(f"never caught the run during {moment} in 3 attempts")
    assert not (tmp_path / "graph.duckdb").exists()  # nothing was published
    leftovers = keys(endpoint, prefix)
    resumed = s3_run(endpoint, prefix, tmp_path / "graph.duckdb", prefect_api)
    assert resumed.returncode == 0, resumed.stderr  # the dead run's lease did not block it
    assert graph_rows(tmp_path / "graph.duckdb") == graph_rows(sample_run.db)
    # what the killed run left is gone: one graph, and only files some part.json names
    stored = keys(endpoint, prefix)
    assert len({name.split("/")[1] for name in stored if name.startswith("graphs/")}) == 1
    named = set()
    for name in stored:
        if name.endswith("/part.json"):
            key = name.split("/")[1]
            info = json.loads(admin(endpoint).get_object(
                Bucket=BUCKET, Key=f"{prefix}/{name}")["Body"].read())
            named |= {f"parts/{key}/{file}" for file in info["files"]} | {name}
    assert {name for name in stored if name.startswith("parts/")} == named
    assert LOCK_NAME not in stored
    if moment == "aggregation":
        assert any(name.startswith("graphs/") for name in leftovers)
        assert "(0 processed, 9 reused, 0 failed)" in resumed.stdout


def test_ranks_over_partitions_with_the_data_in_s3(
    endpoint: str, credentials: dict[str, str], tmp_path: Path,
) -> None:
    """The ranks' work files are local (a temporary folder, removed after) while the edges
    are read from, and the ranked tables written back to, the bucket."""
    options = GraphOptions(harmonic_exact_nodes=5_000)
    s3 = store(endpoint, "ranked-over-partitions")
    random_crawl(s3, 4)
    before = own_scratch("ranks")
    summary = aggregate(s3, replace(options, rank_method="partitions"))
    assert own_scratch("ranks") - before == set()
    local = LocalData(tmp_path / "local")
    random_crawl(local, 4)
    aggregate(local, replace(options, rank_method="memory"))
    for table, key in (("hosts", "host"), ("domains", "domain")):
        in_s3 = scan_table(Folder(s3, summary.folder), table).collect()
        assert_same_ranks(read_table(tmp_path / "local", table), in_s3, key)
    assert '"hosts": "partitions"' in (s3.read_text(f"{summary.folder}/manifest.json") or "")


def test_the_store_travels_to_workers_without_secrets(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-of-the-submitting-machine")
    sent = pickle.dumps(store(endpoint, "anywhere"))
    assert b"secret-of-the-submitting-machine" not in sent
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)  # the worker's own credentials
    received = pickle.loads(sent)
    assert received._polars_options() is not None
    assert received._polars_options()["aws_secret_access_key"] == SECRET
    received.write_text("hello.txt", "hi")  # and it works there
    assert received.read_text("hello.txt") == "hi"


class _FetchCounting(S3Data):
    """The S3 store, noting which objects it hands out and how (the server is real)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.copied: list[str] = []
        self.read: list[str] = []
        self.ranges: list[tuple[str, int, int]] = []

    @contextmanager
    def read_locally(self, names: list[str]) -> Iterator[Any]:
        self.copied.extend(names)
        with super().read_locally(names) as local:
            yield local

    def read_parquet(self, names: list[str], schema: Any, keep: Any = None,
                     file_column: str | None = None) -> Any:
        self.read.extend(names)
        return super().read_parquet(names, schema, keep, file_column)

    def scan_parquet(self, names: list[str], schema: Any = None) -> Any:
        self.read.extend(names)
        return super().scan_parquet(names, schema)

    def read_ranges(self, ranges: Any) -> list[bytes]:
        self.ranges.extend(tuple(span) for span in ranges)
        return super().read_ranges(ranges)


def test_a_partition_reduced_in_sub_buckets_leaves_s3_once(
    endpoint: str, credentials: dict[str, str], tmp_path: Path,
) -> None:
    """A partition is copied to the task's disk, each part's range of it in ranged GETs,
    then read there, once into its sub-buckets: each range leaves the bucket once however
    many sub-buckets there are; the tables are the same and no temporary file is left."""
    s3 = _FetchCounting(f"s3://{BUCKET}/sub-buckets", endpoint, "us-east-1")
    random_crawl(s3, 2)
    ranges = sorted(span[:3] for _, info in complete_parts(s3) for table in ("pages", "links")
                    for span in partition_ranges(info, table).values())
    assert len(ranges) == 12  # 3 parts, 2 tables, 2 partitions
    whole = aggregate(s3, GraphOptions(aggregate_buckets=1, ranks=False))
    assert sorted(span for span in s3.ranges if span[0].startswith("parts/")) == ranges
    assert not [name for name in s3.read + s3.copied if name.startswith("parts/")]
    tables = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "referrals")

    def rows(folder: str, table: str) -> pl.DataFrame:
        frame = scan_table(Folder(s3, folder), table).collect()
        return frame.sort([c for c, kind in frame.schema.items() if kind != pl.List])

    expected = {table: rows(whole.folder, table) for table in tables}
    s3.ranges.clear()
    before = own_scratch("partition", "spill")
    split = aggregate(s3, GraphOptions(aggregate_buckets=3, ranks=False))
    assert split.buckets == 6  # 3 in each of 2 partitions
    part_ranges = [span for span in s3.ranges if span[0].startswith("parts/")]
    assert sorted(part_ranges) == ranges  # every range copied once, never re-read
    assert not [name for name in s3.read + s3.copied if name.startswith("parts/")]
    assert own_scratch("partition", "spill") - before == set()
    for table in tables:
        assert rows(split.folder, table).equals(expected[table]), table


@pytest.mark.parametrize("held_bytes", [0, 1 << 20])
def test_superseded_captures_in_s3_are_a_file_a_pages_task_and_change_no_row(
    endpoint: str, credentials: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    held_bytes: int,
) -> None:
    """The same part written under a second key: every capture of the copy is superseded.
    Each pages task uploads its superseded captures in one file; each links task holds them
    whole (a few KB) or, with a smaller setting, copies them to its disk once and keeps for
    each partition those of its sources; the tables are one copy's, the sitewide candidates
    leave the bucket once a task too, and no temporary file is left."""
    from test_aggregate import link, page

    from pipeline.graph import aggregate as steps

    monkeypatch.setattr(steps, "SUPERSEDED_HELD_BYTES", held_bytes)

    rows = [(page("c1", f"https://s{n}.example/", f"s{n}.example", f"s{n}.example"),
             [link("c1", f"https://s{n}.example/", f"s{n}.example", f"s{n}.example",
                   f"www.t{m}.org", f"t{m}.org") for m in range(n % 4 + 1)])
            for n in range(30)]
    tables = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "referrals")
    found = {}
    before = own_scratch("superseded", "work")
    for prefix, keys_written in (("superseded-once", ["one"]),
                                 ("superseded-twice", ["one", "again"])):
        s3 = _FetchCounting(f"s3://{BUCKET}/{prefix}-{held_bytes}", endpoint, "us-east-1")
        for key in keys_written:
            with PartWriter(s3, key, partitions=3) as writer:
                for page_row, link_rows in rows:
                    writer.add(page_row, link_rows)
                writer.commit({"input": key, "size": 1, "version": "1", "crawl": "c1",
                               "records": 1, "counters": {}, "seconds": 0.0})
        summary = aggregate(s3, GraphOptions(ranks=False))
        found[prefix] = {table: sorted(scan_table(Folder(s3, summary.folder), table)
                                       .collect().rows()) for table in tables}
        # the one links task reads each pages task's file once: held whole, or copied to
        # its disk once (ranged reads) and filtered there for each of its partitions
        copied = [span[0] for span in s3.ranges if "/superseded/" in span[0]]
        read = [name for name in s3.read + s3.copied if "/superseded/" in name]
        # and the sitewide candidates: copied once to the task's disk, never scanned there
        candidates = [span[0] for span in s3.ranges if "/sitewide_hosts/" in span[0]]
        assert candidates and len(candidates) == len(set(candidates))
        assert not [name for name in s3.read if "/sitewide_hosts/" in name]
        if len(keys_written) == 1:
            assert copied == read == []  # nothing superseded: nothing written or read
        else:
            fetched = copied if held_bytes == 0 else read
            assert fetched and len(fetched) == len(set(fetched)), fetched
            assert (read if held_bytes == 0 else copied) == []
    assert len(found["superseded-once"]["pages"]) == 30
    assert found["superseded-twice"] == found["superseded-once"]
    assert own_scratch("superseded", "work") - before == set()


def test_referrals_in_shards_leave_s3_once(
    endpoint: str, credentials: dict[str, str], tmp_path: Path,
) -> None:
    """The referrals step with its dictionary in shards reads each referrals file once a
    shard: from an S3 location each is copied to the task's disk once, read there, and the
    files written are those of one shard; no temporary file is left."""
    from pipeline.graph import aggregate as steps

    s3 = _FetchCounting(f"s3://{BUCKET}/referral-shards", endpoint, "us-east-1")
    random_crawl(s3, 2)
    options = GraphOptions(ranks=False)
    plan, _ = reduced_and_ranked(s3, options)
    everything = range(plan.partitions)
    work_files = sorted(plan.work.name_of(name) for name in plan.work.files_in("referrals"))
    assert work_files

    def written(shards: int) -> dict[str, pl.DataFrame]:
        s3.copied.clear()
        s3.read.clear()
        steps.write_referrals(plan, everything, options, shards=shards)
        return {name: plan.graph.scan([name]).collect()
                for name in plan.graph.files_in("referrals")}

    whole = written(1)
    assert s3.copied == [] and sorted(set(s3.read) & set(work_files)) == work_files
    before = own_scratch("partition", "authority")
    sharded = written(3)
    assert sorted(s3.copied) == work_files  # every file copied once
    assert not set(s3.read) & set(work_files)  # and never read from the bucket
    assert own_scratch("partition", "authority") - before == set()
    assert sharded.keys() == whole.keys()
    for name, frame in whole.items():
        assert sharded[name].equals(frame), name

"""`backlinks crawls` and `backlinks run --crawl` against local servers in Common Crawl's layout.

The same nine sample files are read from local disk, from an HTTP server and from moto's S3
server: the published tables must be identical. Then the HTTP server drops connections and
throttles, and a file that keeps failing is reported and picked up by a re-run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from cc_mirror import Mirror
from conftest import S3_BUCKET, CliRun, run_cli
from http_server import FaultPlan, RangeFileServer

TABLES = ("pages", "links", "host_edges", "domain_edges", "hosts")
FAST_RETRIES = {
    "BACKLINKS_RETRY_INITIAL_SECONDS": "0.01",
    "BACKLINKS_TIMEOUT_SECONDS": "5",
}


def tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(db), read_only=True) as connection:
        return {t: connection.execute(f"select * from {t} order by all").fetchall() for t in TABLES}


def retried(run: CliRun) -> dict[str, int]:
    """The `retried` line of the run summary, as counters."""
    match = re.search(r"^  retried   (.*)$", run.stdout, re.M)
    if not match:
        return {}
    return {k: int(v.replace(",", "")) for k, v in
            (item.rsplit(" ", 1) for item in match.group(1).split(", "))}


@pytest.fixture(scope="module")
def plan() -> FaultPlan:
    return FaultPlan()


@pytest.fixture(scope="module")
def http(mirror: Mirror, plan: FaultPlan) -> Iterator[RangeFileServer]:
    with RangeFileServer(mirror.root, plan) as server:
        yield server


@pytest.fixture(scope="module")
def env(prefect_api: str, http: RangeFileServer, s3_endpoint: str) -> dict[str, str]:
    return {
        "PREFECT_API_URL": prefect_api,
        "BACKLINKS_HTTPS_BASE_URL": http.base_url,
        "BACKLINKS_INDEX_URL": http.base_url,
        "BACKLINKS_S3_ENDPOINT_URL": s3_endpoint,
        "BACKLINKS_S3_BUCKET": S3_BUCKET,
        **FAST_RETRIES,
    }


@pytest.fixture(scope="module")
def local_run(mirror: Mirror, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    data = tmp_path_factory.mktemp("local") / "data"
    inputs = [arg for path in mirror.warc_paths for arg in ("--input", str(mirror.local(path)))]
    result = run_cli("run", *inputs, "--data", str(data), "--workers", "2", env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def test_crawls_lists_the_index_newest_first(env: dict[str, str]) -> None:
    result = run_cli("crawls", env=env)
    assert result.returncode == 0, result.stderr
    ids = re.findall(r"^(CC-MAIN-\d{4}-\d{2})", result.stdout, re.M)
    assert ids == ["CC-MAIN-2024-22", "CC-MAIN-2024-18", "CC-MAIN-2016-50"]


def test_crawls_offline_says_so(env: dict[str, str]) -> None:
    offline = {**env, "BACKLINKS_INDEX_URL": "http://127.0.0.1:9/", "BACKLINKS_RETRY_SECONDS": "0.1"}
    result = run_cli("crawls", env=offline)
    assert result.returncode == 1
    assert "connection refused by 127.0.0.1:9" in result.stderr and "--index-url" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("source", ["https", "s3"])
def test_a_crawl_over_https_or_s3_gives_the_tables_of_local_files(
    source: str, mirror: Mirror, env: dict[str, str], local_run: CliRun, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    result = run_cli("run", "--crawl", mirror.crawl, "--files", str(len(mirror.warc_paths)),
                     "--source", source, "--data", str(data), "--workers", "2", env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert f"Processing {len(mirror.warc_paths)} inputs from crawl {mirror.crawl}" in result.stderr
    assert tables(result.db) == tables(local_run.db)
    assert tables(result.db)["links"], "the sample has links"


def test_faults_are_survived_and_counted(
    mirror: Mirror, env: dict[str, str], plan: FaultPlan, local_run: CliRun, tmp_path: Path
) -> None:
    # Eight cut connections: each cut waits for a body longer than itself, and the resumes
    # of the 29 KB sample alone are long enough for all of them (their sum is 28,315 bytes).
    # Then a burst of five 503 Slow Down that hits whatever requests come next.
    drops = [20_000, 5_000, 2_000, 1_000, 200, 100, 10, 5]
    plan.reset(drop_after=list(drops), fail_next=5)
    data = tmp_path / "data"
    result = run_cli("run", "--crawl", mirror.crawl, "--files", str(len(mirror.warc_paths)),
                     "--data", str(data), "--workers", "2", env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert tables(result.db) == tables(local_run.db)
    counted = retried(result)
    assert (plan.dropped, plan.failed) == (len(drops), 5)
    # The 503s land on the paths file or on the WARC files: every one is counted once.
    listing = re.search(r"the list needed retries_throttled (\d+)", result.stderr)
    listing_throttled = int(listing.group(1)) if listing else 0
    assert counted.get("retries_dropped") == len(drops)
    assert counted.get("retries_throttled", 0) + listing_throttled == 5


def test_a_file_that_keeps_failing_is_reported_and_a_rerun_picks_it_up(
    mirror: Mirror, env: dict[str, str], plan: FaultPlan, local_run: CliRun, tmp_path: Path
) -> None:
    broken = mirror.warc_paths[0]
    plan.reset(always_fail={"/" + broken})
    data = tmp_path / "data"
    args = ("run", "--crawl", mirror.crawl, "--files", str(len(mirror.warc_paths)),
            "--data", str(data), "--workers", "2")
    failing = {**env, "BACKLINKS_RETRY_SECONDS": "0.3", "BACKLINKS_FILE_RETRIES": "1"}
    first = run_cli(*args, env=failing)
    assert first.returncode == 1, first.stdout
    url = env["BACKLINKS_HTTPS_BASE_URL"] + broken
    assert f"FAILED    {url}: " in first.stdout and "gave up after" in first.stdout
    assert "partial (some inputs failed)" in first.stdout
    assert plan.failed >= 2  # the file was tried again (file_retries=1)

    plan.reset()
    second = run_cli(*args, env=env)
    assert second.returncode == 0, second.stderr + second.stdout
    assert f"({len(mirror.warc_paths) - 1} reused" in second.stdout.replace(" processed, ", " (")
    assert tables(second.db) == tables(local_run.db)


def test_wat_files_of_a_crawl_and_urls_as_inputs(
    mirror: Mirror, env: dict[str, str], tmp_path: Path
) -> None:
    plan_free = {**env}
    result = run_cli("run", "--crawl", mirror.crawl, "--files", "10", "--format", "wat",
                     "--data", str(tmp_path / "wat"), env=plan_free)
    assert result.returncode == 0, result.stderr + result.stdout
    with duckdb.connect(str(result.db), read_only=True) as connection:
        pages = connection.execute("select count(*) from pages").fetchone()
        types = connection.execute("select distinct link_type from links order by 1").fetchall()
    assert pages is not None and pages[0] == 6  # sparkwarc 5 + warc-js 1 (tests/test_wat.py)
    assert [t for (t,) in types] == ["a"]

    one_each = [
        "--input", f"s3://{S3_BUCKET}/{mirror.warc_paths[1]}",
        "--input", env["BACKLINKS_HTTPS_BASE_URL"] + mirror.warc_paths[2],
    ]
    result = run_cli("run", *one_each, "--data", str(tmp_path / "urls"), env=env)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Processing 2 inputs from your inputs" in result.stderr

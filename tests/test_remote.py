"""Streaming from HTTPS and S3 through real local servers, with faults injected by the server.

The HTTP server (tests/servers.py) drops connections mid-body, answers 503 in bursts and
stalls; moto's S3 server serves the same files. Every read must give the file's exact bytes,
and the retries must show in the counters.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
from cc_mirror import COLLINFO, Mirror
from conftest import FAST_RETRIES, PRIVATE_BUCKET, S3_BUCKET
from http_server import FaultPlan, RangeFileServer

from pipeline.config import Settings
from pipeline.errors import (
    ConfigError,
    HostUnreachable,
    InputError,
    InputNotFound,
    InputUnavailable,
)
from pipeline.read.crawls import (
    Selection,
    crawl_inputs,
    crawl_paths,
    list_crawls,
    parse_shard,
    select,
)
from pipeline.read.remote import DROPPED, THROTTLED, Retrier, RetryPolicy, Transient
from pipeline.read.sources import InputFile
from pipeline.read.streams import fingerprint, open_stream

FAST = FAST_RETRIES


def biggest_warc(mirror: Mirror) -> str:
    return max(mirror.warc_paths, key=lambda p: mirror.local(p).stat().st_size)


def read_all(source: InputFile, settings: Settings) -> tuple[bytes, dict[str, int]]:
    with open_stream(source, settings) as opened:
        data = opened.stream.read()
        return data, dict(opened.counters)


@pytest.fixture()
def plan() -> FaultPlan:
    return FaultPlan()


@pytest.fixture()
def http(mirror: Mirror, plan: FaultPlan) -> RangeFileServer:
    with RangeFileServer(mirror.root, plan) as server:
        yield server


def test_http_stream_gives_the_exact_bytes(mirror: Mirror, http: RangeFileServer) -> None:
    path = biggest_warc(mirror)
    data, counters = read_all(InputFile(http.base_url + path), FAST)
    assert data == mirror.local(path).read_bytes()
    assert counters == {}


def test_dropped_connections_resume_from_the_last_byte(
    mirror: Mirror, http: RangeFileServer, plan: FaultPlan
) -> None:
    path = biggest_warc(mirror)
    expected = mirror.local(path).read_bytes()
    assert len(expected) > 200_000  # the drops below land inside the body
    plan.drop_after = [1, 70_000, 5_000, 100_000]  # sum 175,001 < the file's size
    data, counters = read_all(InputFile(http.base_url + path), FAST)
    assert data == expected
    assert counters == {"retries_dropped": 4}
    assert plan.dropped == 4
    assert plan.range_requests == 4  # each resume asked for the rest only


def test_throttling_bursts_are_retried_with_backoff(
    mirror: Mirror, http: RangeFileServer, plan: FaultPlan
) -> None:
    path = biggest_warc(mirror)
    plan.fail_next = 4  # the HEAD and the first GETs get 503 Slow Down
    data, counters = read_all(InputFile(http.base_url + path), FAST)
    assert data == mirror.local(path).read_bytes()
    assert counters == {"retries_throttled": 4}


def test_server_errors_are_retried(mirror: Mirror, http: RangeFileServer, plan: FaultPlan) -> None:
    path = biggest_warc(mirror)
    plan.fail_next, plan.fail_status = 2, 500
    data, counters = read_all(InputFile(http.base_url + path), FAST)
    assert data == mirror.local(path).read_bytes()
    assert counters == {"retries_server_error": 2}


def test_a_stalled_server_times_out_and_resumes(
    mirror: Mirror, http: RangeFileServer, plan: FaultPlan
) -> None:
    path = biggest_warc(mirror)
    plan.stall_after, plan.stall_seconds = 65_536 * 2, 1.5
    settings = replace(FAST, timeout_seconds=0.3)
    data, counters = read_all(InputFile(http.base_url + path), settings)
    assert data == mirror.local(path).read_bytes()
    assert counters.get("retries_timeout", 0) >= 1
    assert plan.stalled >= 1


def test_a_file_that_keeps_failing_fails_within_the_budget(
    mirror: Mirror, http: RangeFileServer, plan: FaultPlan
) -> None:
    path = biggest_warc(mirror)
    plan.always_fail = {"/" + path}
    settings = replace(FAST, retry_seconds=0.2)
    url = http.base_url + path
    with pytest.raises(InputUnavailable) as caught:
        read_all(InputFile(url), settings)
    assert url in str(caught.value)
    assert "gave up after" in str(caught.value) and "throttled" in str(caught.value)


def test_missing_file_is_not_found_and_not_retried(http: RangeFileServer, plan: FaultPlan) -> None:
    url = http.base_url + "crawl-data/CC-MAIN-2024-22/segments/x/warc/missing.warc.gz"
    with pytest.raises(InputNotFound, match="HTTP 404"):
        fingerprint(InputFile(url), FAST)
    assert plan.requests == 1


def test_unsupported_scheme_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="ftp:// inputs are not supported"):
        fingerprint(InputFile("ftp://example.com/x.warc.gz"), FAST)


def test_fingerprint_of_a_url_is_size_and_etag(mirror: Mirror, http: RangeFileServer) -> None:
    path = biggest_warc(mirror)
    found = fingerprint(InputFile(http.base_url + path), FAST)
    assert found.size == mirror.local(path).stat().st_size
    assert found.version.startswith('"')


# --- S3 ----------------------------------------------------------------------------------


def s3_settings(endpoint: str) -> Settings:
    return replace(FAST, source="s3", s3_endpoint_url=endpoint, s3_bucket=S3_BUCKET)


def test_s3_stream_gives_the_exact_bytes_unsigned(mirror: Mirror, s3_endpoint: str) -> None:
    path = biggest_warc(mirror)
    data, counters = read_all(InputFile(f"s3://{S3_BUCKET}/{path}"), s3_settings(s3_endpoint))
    assert data == mirror.local(path).read_bytes()
    assert counters == {}


def test_s3_missing_key_and_private_bucket(s3_endpoint: str) -> None:
    settings = s3_settings(s3_endpoint)
    with pytest.raises(InputNotFound):
        fingerprint(InputFile(f"s3://{S3_BUCKET}/crawl-data/nope.warc.gz"), settings)
    with pytest.raises(InputError, match="access denied.*credentials"):
        fingerprint(InputFile(f"s3://{PRIVATE_BUCKET}/secret.warc.gz"), settings)


def test_s3_unreachable_endpoint_fails_at_once() -> None:
    settings = replace(s3_settings("http://127.0.0.1:9"), retry_seconds=600, timeout_seconds=0.5)
    with pytest.raises(HostUnreachable, match=r"connection refused by 127.0.0.1:9.*--s3-endpoint"):
        fingerprint(InputFile(f"s3://{S3_BUCKET}/x.warc.gz"), settings)


# --- crawls and their paths files --------------------------------------------------------


def test_crawls_newest_first_from_collinfo(http: RangeFileServer) -> None:
    crawls = list_crawls(replace(FAST, index_url=http.base_url))
    assert [c.id for c in crawls] == sorted((c["id"] for c in COLLINFO), reverse=True)
    assert crawls[0].name == "May 2024 Index"


def test_crawls_offline_is_a_clear_error() -> None:
    settings = replace(FAST, index_url="http://127.0.0.1:9/", retry_seconds=600)
    with pytest.raises(HostUnreachable, match=r"connection refused by 127.0.0.1:9.*--index-url"):
        list_crawls(settings)


@pytest.mark.parametrize("file_format", ["warc", "wat"])
def test_paths_files_read_the_same_over_https_and_s3(
    mirror: Mirror, http: RangeFileServer, s3_endpoint: str, file_format: str
) -> None:
    expected = mirror.warc_paths if file_format == "warc" else mirror.wat_paths
    over_http = crawl_paths(mirror.crawl, file_format, replace(FAST, https_base_url=http.base_url))
    over_s3 = crawl_paths(mirror.crawl, file_format, s3_settings(s3_endpoint))
    assert over_http == over_s3 == expected


def test_crawl_inputs_point_at_the_source(mirror: Mirror, http: RangeFileServer, s3_endpoint: str) -> None:
    selection = Selection(files=2, offset=1)
    https = crawl_inputs(mirror.crawl, "warc", selection, replace(FAST, https_base_url=http.base_url))
    assert [s.uri for s in https] == [http.base_url + p for p in mirror.warc_paths[1:3]]
    s3 = crawl_inputs(mirror.crawl, "warc", selection, s3_settings(s3_endpoint))
    assert [s.uri for s in s3] == [f"s3://{S3_BUCKET}/{p}" for p in mirror.warc_paths[1:3]]


def test_unknown_crawl_is_not_found(http: RangeFileServer) -> None:
    with pytest.raises(InputNotFound):
        crawl_paths("CC-MAIN-1999-01", "warc", replace(FAST, https_base_url=http.base_url))
    with pytest.raises(ConfigError, match="CC-MAIN-YYYY-WW"):
        crawl_paths("2024-22", "warc", FAST)


def test_a_crawl_needs_a_bound_on_the_number_of_files(mirror: Mirror) -> None:
    with pytest.raises(ConfigError, match="--files N"):
        crawl_inputs(mirror.crawl, "warc", Selection(), FAST)


PATHS = [f"p{i:02d}" for i in range(20)]


def test_select_offset_and_files() -> None:
    assert select(PATHS, Selection(files=3, offset=5)) == ["p05", "p06", "p07"]
    assert select(PATHS, Selection(files=50)) == PATHS


def test_select_sample_is_seeded_and_in_crawl_order() -> None:
    first = select(PATHS, Selection(sample=5, seed=7))
    assert first == select(PATHS, Selection(sample=5, seed=7))
    assert first != select(PATHS, Selection(sample=5, seed=8))
    assert len(set(first)) == 5 and first == sorted(first)


def test_shards_partition_the_crawl() -> None:
    shards = [select(PATHS, Selection(shard=(i, 3))) for i in range(3)]
    assert sorted(p for shard in shards for p in shard) == PATHS
    assert parse_shard("2/4") == (2, 4)
    for bad in ("4/4", "1", "a/b", "-1/3"):
        with pytest.raises(ConfigError):
            parse_shard(bad)


def test_paths_file_that_is_not_gzip_is_a_clear_error(tmp_path: Path) -> None:
    crawl_dir = tmp_path / "crawl-data" / "CC-MAIN-2024-22"
    crawl_dir.mkdir(parents=True)
    (crawl_dir / "warc.paths.gz").write_bytes(b"<html>an error page</html>")
    with RangeFileServer(tmp_path) as server:
        with pytest.raises(InputError, match="not a gzipped list of paths"):
            crawl_paths("CC-MAIN-2024-22", "warc", replace(FAST, https_base_url=server.base_url))


# --- the retry rules, on a clock the test drives ---------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FullJitter(random.Random):
    """Jitter at its upper bound, so that the number of retries is known."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_doubles_and_gives_up_without_progress() -> None:
    clock = FakeClock()
    policy = RetryPolicy(initial_seconds=1.0, budget_seconds=20.0)
    retrier = Retrier("u", policy, sleep=clock.sleep, clock=clock, rng=FullJitter())
    with pytest.raises(InputUnavailable, match=r"gave up after 5 retries, 15.0s without progress"):
        for _ in range(10):
            retrier.record(Transient(THROTTLED, "503"))
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]  # the fifth wait (16 s) would pass 20 s
    assert retrier.counters == {"retries_throttled": 5}


def test_backoff_jitter_stays_between_half_and_all_of_the_step() -> None:
    policy = RetryPolicy(initial_seconds=1.0, budget_seconds=20.0)
    rng = random.Random(7)
    for failures in range(1, 12):
        step = min(60.0, 2.0 ** (failures - 1))
        delays = [policy.delay(failures, rng) for _ in range(200)]
        assert all(step * 0.5 <= d <= step for d in delays)
        assert max(delays) - min(delays) > step * 0.3  # really jittered


def test_progress_restarts_the_budget_and_a_first_drop_resumes_at_once() -> None:
    clock = FakeClock()
    retrier = Retrier("u", RetryPolicy(initial_seconds=1.0, budget_seconds=3.0),
                      sleep=clock.sleep, clock=clock)
    for _ in range(50):  # a long file that drops now and then, with bytes in between
        retrier.record(Transient(DROPPED, "cut"))
        clock.now += 10.0
        retrier.progressed()
    assert clock.sleeps == []  # each drop followed progress: resumed without waiting
    assert retrier.counters == {"retries_dropped": 50}

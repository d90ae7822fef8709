"""Issue 18, item 1: offline is said at once, and a transfer being retried says so.

No internet is needed: a host name under ``.invalid`` never resolves (RFC 2606), and a
port that was just closed refuses connections.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import pytest
from cc_mirror import Mirror
from conftest import run_cli
from http_server import FaultPlan, RangeFileServer

from pipeline.config import Settings
from pipeline.errors import HostUnreachable, InputUnavailable
from pipeline.read.crawls import crawl_paths, list_crawls
from pipeline.read.remote import (
    DROPPED,
    REFUSED,
    RESOLVE,
    UNREACHABLE_TRIES,
    Retrier,
    RetryPolicy,
    Transient,
    describe_retry,
)
from pipeline.read.sources import InputFile
from pipeline.read.streams import (
    PROGRESS_DIR_ENV,
    announcing_retries,
    open_stream,
    read_progress,
)

FAST = replace(Settings.defaults(), timeout_seconds=2.0, retry_initial_seconds=0.01)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("kind", [RESOLVE, REFUSED])
def test_an_unreachable_host_gets_a_couple_of_quick_tries(kind: str) -> None:
    clock, said = FakeClock(), []
    retrier = Retrier("https://data.commoncrawl.org/x", RetryPolicy(budget_seconds=600),
                      sleep=clock.sleep, clock=clock, announce=said.append)
    with pytest.raises(HostUnreachable) as caught:
        for _ in range(10):
            retrier.record(Transient(kind, "ConnectError: [Errno -2] Name or service not known"))
    assert sum(clock.sleeps) < 2 and len(clock.sleeps) == UNREACHABLE_TRIES - 1
    assert said == ["retry 1 in 0.5 s: Name or service not known",
                    "retry 2 in 1 s: Name or service not known"]
    if kind == RESOLVE:
        assert caught.value.message == (
            "cannot resolve data.commoncrawl.org: no network? (see --https-base-url / --source)")
    else:
        assert "connection refused by data.commoncrawl.org" in caught.value.message


def test_a_refused_connection_after_bytes_arrived_is_a_dropped_transfer() -> None:
    clock, said = FakeClock(), []
    retrier = Retrier("u", RetryPolicy(initial_seconds=1.0, budget_seconds=20.0),
                      sleep=clock.sleep, clock=clock, announce=said.append)
    retrier.progressed()  # the transfer was under way: a server restart is worth the wait
    with pytest.raises(InputUnavailable, match="gave up after"):
        for _ in range(20):
            retrier.record(Transient(REFUSED, "Connection refused"))
    assert len(clock.sleeps) > UNREACHABLE_TRIES


def test_each_retry_says_what_and_when() -> None:
    assert describe_retry(3, 8.0, Transient(DROPPED, "ReadError: [Errno 104] Connection reset "
                                                     "by peer")) == (
        "retry 3 in 8 s: Connection reset by peer")
    assert describe_retry(1, 0.0, Transient(DROPPED, "the response ended at byte 5")) == (
        "retry 1 now: the response ended at byte 5")


def test_a_name_that_does_not_resolve_fails_in_seconds() -> None:
    said: list[str] = []
    with announcing_retries(said.append), pytest.raises(HostUnreachable) as caught:
        list_crawls(replace(FAST, index_url="https://nonexistent.invalid/"))
    # the quick tries only (0.5 s, then 1 s), not the long back-off of a dropped transfer
    assert len(said) == UNREACHABLE_TRIES - 1
    assert "cannot resolve nonexistent.invalid: no network? (see --index-url)" in str(caught.value)
    assert said and all(line.startswith("collinfo.json: retry ") for line in said)


def test_a_refused_port_fails_in_seconds_and_names_the_setting() -> None:
    port = closed_port()
    said: list[str] = []
    refused = rf"connection refused by 127.0.0.1:{port}: .*\(see --https-base-url / --source\)"
    with announcing_retries(said.append), pytest.raises(HostUnreachable, match=refused):
        crawl_paths("CC-MAIN-2024-22", "warc",
                    replace(FAST, https_base_url=f"http://127.0.0.1:{port}/"))
    assert len(said) == UNREACHABLE_TRIES - 1  # the quick tries only


def test_a_real_transfer_announces_each_retry(
    mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = max(mirror.warc_paths, key=lambda p: mirror.local(p).stat().st_size)
    plan = FaultPlan()
    plan.drop_after = [1, 70_000]
    monkeypatch.setenv(PROGRESS_DIR_ENV, str(tmp_path))
    with RangeFileServer(mirror.root, plan) as server:
        source = InputFile(server.base_url + path)
        with open_stream(source, FAST) as opened:
            data = opened.stream.read()
    assert data == mirror.local(path).read_bytes()
    (state,) = read_progress(tmp_path)
    assert state["done"] and state["read"] == state["size"] == len(data)
    assert state["retries"] == 2
    assert state["notes"][0].startswith(f"{source.name}: retry 1 now: ")


def test_progress_of_a_local_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warc = tmp_path / "in" / "x.warc"
    warc.parent.mkdir()
    warc.write_bytes(b"x" * 3_000_000)
    folder = tmp_path / "progress"
    folder.mkdir()
    monkeypatch.setenv(PROGRESS_DIR_ENV, str(folder))
    with open_stream(InputFile(str(warc)), FAST) as opened:
        opened.stream.read(1_000_000)
        (state,) = read_progress(folder)
        assert state["size"] == 3_000_000 and not state["done"]
        opened.stream.read()
    (state,) = read_progress(folder)
    assert state["read"] == 3_000_000 and state["done"]


def test_crawls_offline_says_so_at_once() -> None:
    result = run_cli("crawls", "--index-url", "https://nonexistent.invalid/")
    assert result.returncode == 1
    assert "cannot resolve nonexistent.invalid: no network? (see --index-url)" in result.stderr
    assert "collinfo.json: retry 1 in 0.5 s" in result.stderr
    assert "retry 2 in 1 s" in result.stderr and "retry 3" not in result.stderr  # quick tries


def test_run_on_a_crawl_offline_fails_before_any_server(tmp_path: Path) -> None:
    result = run_cli("run", "--crawl", "CC-MAIN-2099-01", "--files", "1", "--data",
                     str(tmp_path / "data"), "--https-base-url", "https://nonexistent.invalid/",
                     env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == 1
    assert "cannot resolve nonexistent.invalid: no network? (see --https-base-url / --source)" \
        in result.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    assert "pipeline.read.crawls" in imported
    assert not any(name.startswith("prefect") for name in imported)  # no server was started

"""The scheduled deployment fires against a real Prefect server (started here),
processes the newest crawl of a local mirror, and does nothing when it fires again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from cc_mirror import CRAWL, Mirror
from conftest import REPO
from http_server import FaultPlan, RangeFileServer

from flows.schedule import newest_unprocessed_crawl, processed_crawls
from pipeline.config import load_settings


@pytest.fixture(scope="module")
def http(mirror: Mirror) -> Iterator[RangeFileServer]:
    with RangeFileServer(mirror.root, FaultPlan()) as server:
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `prefect server start` with its scheduler service (the shared test API runs
    without services), looking for due schedules every 2 s instead of every minute."""
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
        "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "2",
    }
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
         "--port", str(port), "--no-ui", "--analytics-off"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "prefect server start exited"
            time.sleep(0.5)
        else:
            pytest.fail("the Prefect server did not start in 120 s")
        yield api
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def flow_runs(api: str, deployment_id: str) -> list[dict]:
    response = httpx.post(f"{api}/flow_runs/filter", json={
        "deployments": {"id": {"any_": [deployment_id]}}, "sort": "EXPECTED_START_TIME_ASC",
    }, timeout=10)
    response.raise_for_status()
    return response.json()


def test_the_schedule_fires_and_processes_the_newest_crawl(
    prefect_server: str, http: RangeFileServer, tmp_path: Path
) -> None:
    prefect_api = prefect_server
    data = tmp_path / "data"
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "BACKLINKS_DATA_DIR": str(data),
        "BACKLINKS_INDEX_URL": http.base_url,
        "BACKLINKS_HTTPS_BASE_URL": http.base_url,
        "BACKLINKS_WORKERS": "2",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "flows.schedule", "--files", "3", "--interval", "5"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        deployment = None
        deadline = time.monotonic() + 240
        completed: list[dict] = []
        while time.monotonic() < deadline and server.poll() is None:
            if deployment is None:
                found = httpx.get(
                    f"{prefect_api}/deployments/name/process-newest-crawl/monthly", timeout=10)
                if found.status_code == 200:
                    deployment = found.json()
            else:
                runs = flow_runs(prefect_api, deployment["id"])
                completed = [r for r in runs if r["state_type"] == "COMPLETED"]
                failed = [(r["name"], r["state"]["message"]) for r in runs
                          if r["state_type"] in ("FAILED", "CRASHED")]
                assert not failed
                if len(completed) >= 2:
                    break
            time.sleep(1)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            output, _ = server.communicate()
    assert deployment is not None, output
    assert deployment["schedules"] and deployment["schedules"][0]["schedule"]["interval"] == 5
    assert len(completed) >= 2, output
    # the first run processed 3 files of the newest crawl and published the graph ...
    con = duckdb.connect(str(data / "graph.duckdb"), read_only=True)
    assert con.execute("select count(*) from pages").fetchone()[0] > 0
    assert len(list((data / "parts").glob("*/part.json"))) == 3
    settings = load_settings(environ={k: v for k, v in env.items() if k.startswith("BACKLINKS_")})
    assert processed_crawls(settings) == {CRAWL}
    # ... and the next firings found nothing new to do
    assert newest_unprocessed_crawl(settings) is None
    assert con.execute("select count(*) from runs").fetchone()[0] == 1

"""The flow on a real Dask cluster: a LocalCluster of two worker processes, started here,
runs the per-file tasks through Prefect's DaskTaskRunner and gives the same tables as the
local process pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import CliRun, graph_rows, run_cli
from distributed import Client, LocalCluster
from test_rank_tables import assert_same_ranks

from pipeline.graph.aggregate import read_table


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local_cluster:
        yield local_cluster


def test_a_dask_cluster_gives_the_tables_of_the_local_runner(
    cluster: LocalCluster, sample_run: CliRun, prefect_api: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    result = run_cli("run", "--data", str(data), "--runner", "dask",
                     "--scheduler", cluster.scheduler_address,
                     env={"PREFECT_API_URL": prefect_api})
    assert result.returncode == 0, result.stderr
    assert "(9 processed, 0 reused, 0 failed)" in result.stdout
    assert graph_rows(data / "graph.duckdb") == graph_rows(sample_run.db)
    # the tasks ran on the cluster's workers, not in the run's own process
    with Client(cluster) as client:
        ran = client.run(lambda: __import__("sys").modules.get("pipeline.parts.process") is not None)
    assert sorted(ran.values()) == [True, True], "both workers ran per-file tasks"


def test_ranks_over_partitions_run_as_tasks_on_the_cluster(
    cluster: LocalCluster, sample_run: CliRun, prefect_api: str, tmp_path: Path
) -> None:
    """--rank-method partitions: the ranks as rounds of tasks on the cluster (no task holding
    the graph); every table the local runner's, the rank values but for their last bits."""
    data = tmp_path / "data"
    result = run_cli("run", "--data", str(data), "--runner", "dask", "--partitions", "16",
                     "--scheduler", cluster.scheduler_address, "--rank-method", "partitions",
                     env={"PREFECT_API_URL": prefect_api})
    assert result.returncode == 0, result.stderr
    # the long part is said (progress goes to standard error, a line each when piped)
    assert "... ranking 204 hosts and 189 host edges over partitions" in result.stderr
    assert "... ranking 136 domains and 122 domain edges over partitions" in result.stderr
    ours, theirs = graph_rows(data / "graph.duckdb"), graph_rows(sample_run.db)
    assert {t: rows for t, rows in ours.items() if t not in ("hosts", "domains")} == \
        {t: rows for t, rows in theirs.items() if t not in ("hosts", "domains")}
    for table, key in (("hosts", "host"), ("domains", "domain")):
        assert_same_ranks(read_table(sample_run.db.parent, table),  # a graph of many ties
                          read_table(data, table), key, untied=0)
    runs = httpx.post(f"{prefect_api}/task_runs/filter",
                      json={"task_runs": {"name": {"like_": "rank %"}}}).json()
    names = {run["name"] for run in runs if run["state"]["type"] == "COMPLETED"}
    for step in ("split by source", "name sources", "name destinations", "scan step",
                 "partition step", "frontier step", "write ranks"):
        assert f"rank {step}" in names, (step, sorted(names))


def test_an_unreachable_scheduler_is_a_clear_failure(tmp_path: Path) -> None:
    result = run_cli("run", "--data", str(tmp_path / "data"), "--runner", "dask",
                     "--scheduler", "tcp://127.0.0.1:9", "--files", "1", "--timeout-seconds", "1")
    assert result.returncode == 2  # a bad setting (README: exit status 2)
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "parts").exists()

"""The flow on a real Dask cluster: a LocalCluster of two worker processes, started here,
runs the per-file tasks through Prefect's DaskTaskRunner and gives the same tables as the
local process pool."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CliRun, graph_rows, run_cli
from distributed import Client, LocalCluster


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


def test_an_unreachable_scheduler_is_a_clear_failure(tmp_path: Path) -> None:
    result = run_cli("run", "--data", str(tmp_path / "data"), "--runner", "dask",
                     "--scheduler", "tcp://127.0.0.1:9", "--files", "1", "--timeout-seconds", "1")
    assert result.returncode == 2  # a bad setting (README: exit status 2)
    assert "cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "parts").exists()

"""A run killed with SIGKILL at any moment resumes to exactly what an uninterrupted run
produces, never publishes a partial graph as complete, and leaves nothing that breaks the
next run. One run at a time holds a data folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, CliRun, graph_rows, run_cli
from test_rank_tables import assert_same_ranks

from pipeline.graph.aggregate import MANIFEST, read_table
from pipeline.storage import LocalData

SAMPLE_FILES = 9


def complete_parts(data: Path) -> int:
    root = data / "parts"
    return sum(1 for p in root.glob("*/part.json")) if root.is_dir() else 0


def run_and_kill(data: Path, moment: Callable[[Path], bool], api: str, timeout: float = 300,
                 options: tuple[str, ...] = (), env: dict[str, str] | None = None) -> bool:
    """Start `backlinks run` on the sample; SIGKILL its whole process group (workers and
    the temporary Prefect server too) as soon as ``moment(data)`` is true. False if the
    run ended before that moment came."""
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "run", "--data", str(data), "--workers", "2",
         *options],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        # the shared test API: no server to start
        env={**os.environ, "PREFECT_API_URL": api, **(env or {})},
    )
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if moment(data):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.002)
        return False
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


MOMENTS: dict[str, Callable[[Path], bool]] = {
    # some parts written, not all
    "extraction": lambda data: 0 < complete_parts(data) < SAMPLE_FILES,
    # the graph folder is being written (from the plan's start)
    "aggregation": lambda data: any(data.glob(".graph-tmp-*")),
    # the plan is written (the parts' ranges and records in the work folder): the steps
    # begin
    "planned": lambda data: any(data.glob(".graph-tmp-*/work/parts-*.jsonl")),
    # the referrals step, after the ranks: some referrals given their authority
    "referrals": lambda data: any(data.glob(".graph-tmp-*/referrals/*.parquet")),
    # the database is being built beside its final name
    "publish": lambda data: any(data.glob(".graph.duckdb.tmp-*")),
}


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_killed_run_resumes_to_the_uninterrupted_result(
    sample_run: CliRun, prefect_api: str, tmp_path: Path, moment: str
) -> None:
    for attempt in range(3):  # the moment may pass between two looks; try again
        data, scratch = tmp_path / f"attempt-{attempt}", tmp_path / f"tmp-{attempt}"
        scratch.mkdir()  # the runs' TMPDIR: what the killed one left there, and only that
        env = {"PREFECT_API_URL": prefect_api, "TMPDIR": str(scratch)}
        if run_and_kill(data, MOMENTS[moment], prefect_api, env=env):
            break
    else:
        pytest.fail(f"never caught the run during {moment} in 3 attempts")
    # nothing partial was published as complete
    assert not (data / "graph.duckdb").exists()
    resumed = run_cli("run", "--data", str(data), "--workers", "2", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert graph_rows(data / "graph.duckdb") == graph_rows(sample_run.db)
    # the leftovers of the killed run are gone, its scratch and progress folders too
    assert not list(data.glob(".graph-*")) and not list(data.glob(".graph.duckdb.tmp-*"))
    assert not list(scratch.glob("backlinks-*")), list(scratch.iterdir())
    assert not list((data / "parts").glob(".tmp-*"))
    if moment != "extraction":  # every part was complete: the re-run reused them all
        assert "(0 processed, 9 reused, 0 failed)" in resumed.stdout


def test_a_run_killed_while_ranking_over_partitions_resumes(
    sample_run: CliRun, prefect_api: str, tmp_path: Path
) -> None:
    """Killed during the rounds of the ranks over partitions (their work files in the graph
    folder being built): nothing is published, and the re-run ranks anew."""
    options = ("--rank-method", "partitions")
    for attempt in range(3):
        data = tmp_path / f"attempt-{attempt}"
        if run_and_kill(data, lambda d: any(d.glob(".graph-tmp-*/work/ranks/*/edges")),
                        prefect_api, options=options):
            break
    else:
        pytest.fail("never caught the run while ranking in 3 attempts")
    assert not (data / "graph.duckdb").exists()
    resumed = run_cli("run", "--data", str(data), "--workers", "2", *options,
                      env={"PREFECT_API_URL": prefect_api})
    assert resumed.returncode == 0, resumed.stderr
    ours, theirs = graph_rows(data / "graph.duckdb"), graph_rows(sample_run.db)
    for table in ours:
        if table not in ("hosts", "domains"):
            assert ours[table] == theirs[table], table
    for table, key in (("hosts", "host"), ("domains", "domain")):
        assert_same_ranks(read_table(sample_run.db.parent, table).sort(key),  # 16 partitions
                          read_table(data, table).sort(key), key, untied=0)
    assert not list(data.glob(".graph-*"))


def test_the_graph_manifest_lists_every_part_with_its_checksums(sample_run: CliRun) -> None:
    manifest = json.loads((sample_run.data_dir / "graph" / MANIFEST).read_text())
    assert len(manifest["parts"]) == SAMPLE_FILES
    con = duckdb.connect(str(sample_run.db), read_only=True)
    for table, count in manifest["tables"].items():
        assert con.execute(f"select count(*) from {table}").fetchone()[0] == count
    for part in manifest["parts"]:
        folder = sample_run.data_dir / "parts" / part["key"]
        files = json.loads((folder / "part.json").read_text())["files"]
        # every file's bytes, rows and checksum; its partitions' ranges stay in part.json
        assert {name: {key: value for key, value in described.items() if key != "partitions"}
                for name, described in files.items()} == part["files"]
        assert all("partitions" in described for described in files.values())
        assert all(len(entry["sha256"]) == 64 for entry in part["files"].values())


def test_a_second_run_on_a_busy_data_folder_fails_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with LocalData(data).lock():
        busy = run_cli("run", "--data", str(data), "--workers", "1")
    assert busy.returncode == 1
    assert "another `backlinks run` is using the data folder" in busy.stderr
    assert not (data / "parts").exists()


def test_a_killed_task_leaves_no_scratch_folder_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A task killed while it holds a partition's sub-buckets on the worker's disk cannot
    remove them; the next scratch folder made on that machine does, and keeps the folders of
    processes that still run."""
    import tempfile

    from pipeline.scratch import scratch_folder, sweep_orphans

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time, tempfile\n"
         f"tempfile.tempdir = {str(tmp_path)!r}\n"
         "from pipeline.scratch import scratch_folder\n"
         "with scratch_folder('spill') as folder:\n"
         "    (folder / '0000-000000.arrow').write_bytes(bytes(4096))\n"
         "    print(folder, flush=True)\n"
         "    time.sleep(120)\n"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        killed = Path(child.stdout.readline().strip()) if child.stdout else Path()
    finally:
        child.kill()
        child.wait()
    assert killed.parent == tmp_path and (killed / "0000-000000.arrow").exists()
    unrelated = tmp_path / "backlinks-notes"  # not a scratch folder's name: never touched
    unrelated.mkdir()
    # another machine's (a shared TMPDIR): its process ids are not this machine's
    elsewhere = tmp_path / killed.name.replace(killed.name.split("-")[2], "0" * 8)
    elsewhere.mkdir()
    with scratch_folder("spill") as mine:
        assert not killed.exists()  # swept: its process is gone
        assert sweep_orphans(tmp_path) == [] and mine.is_dir()  # this process's is kept
        assert unrelated.is_dir() and elsewhere.is_dir()
    assert not mine.exists()

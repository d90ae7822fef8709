"""The Prefect flow against a real Prefect API server (Prefect's test harness)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.testing.utilities import prefect_test_harness

from flows.build import run_build
from pipeline.config import load_settings
from pipeline.read.sources import InputFile, sample_inputs

STEPS = ("pages", "links", "hosts", "domains", "referrals")


@pytest.fixture(scope="module")
def prefect_api() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=180):
        yield


async def flow_run_parameters() -> dict[str, object]:
    async with get_client() as client:
        flow_runs = await client.read_flow_runs()
    assert len(flow_runs) == 1, [r.name for r in flow_runs]
    return dict(flow_runs[0].parameters)


async def task_runs_by_state() -> dict[str, list[str]]:
    async with get_client() as client:
        flow_runs = await client.read_flow_runs()
        assert len(flow_runs) == 1, [r.name for r in flow_runs]
        assert flow_runs[0].state is not None and flow_runs[0].state.is_completed()
        task_runs = await client.read_task_runs()
    states: dict[str, list[str]] = {}
    for run in task_runs:
        assert run.state is not None
        states.setdefault(run.state.type.value, []).append(f"{run.name} x{run.run_count}")
    return states


def test_flow_maps_one_task_per_input_then_aggregates_and_publishes(
    prefect_api: None, tmp_path: Path
) -> None:
    settings = load_settings({"data_dir": str(tmp_path / "data"), "workers": 2}, environ={})
    inputs = sample_inputs()[:3] + [InputFile(str(tmp_path / "missing.warc.gz"))]
    summary = run_build(inputs, settings)

    assert summary.processed == 3 and summary.reused == 0
    assert [f.input for f in summary.failures] == [str(tmp_path / "missing.warc.gz")]
    assert "no such file" in summary.failures[0].message
    assert summary.db_path == settings.db_path and summary.graph is not None
    con = duckdb.connect(str(summary.db_path), read_only=True)
    assert con.execute("select count(*) from pages").fetchone() == (summary.pages,)

    # the API records task states from the task runs' events, a moment after they happen
    # (on a loaded machine the last ones came in after the flow had returned): wait for them
    expected = ["process ", "plan parts slice 0", *(f"reduce {step} " for step in STEPS),
                "finish-aggregation", "publish"]
    deadline = time.monotonic() + 60
    while True:
        states = asyncio.run(task_runs_by_state())
        completed = states.get("COMPLETED", [])
        if (all(any(name.startswith(prefix) for name in completed) for prefix in expected)
                or time.monotonic() > deadline):
            break
        time.sleep(0.5)
    assert sum(name.startswith("process ") for name in completed) == 3
    # the plan's one slice of the parts, the aggregation's steps, each a task per group of
    # partitions, then finish
    assert "plan parts slice 0 x1" in completed
    for step in STEPS:
        assert any(name.startswith(f"reduce {step} ") for name in completed), (step, completed)
    assert "finish-aggregation" in " ".join(completed) and "publish" in " ".join(completed)
    failed = states.get("FAILED", [])
    assert failed == ["process missing.warc.gz x1"]  # ran once: a missing file is not transient

    # the inputs reach the flow as a listing: the API holds its path and count, not the list
    # (it refuses parameters over 512 KB: about 5,000 inputs), so no task carries them either
    parameters = asyncio.run(flow_run_parameters())
    assert sorted(parameters) == ["listing", "settings"]
    assert parameters["listing"]["count"] == 4  # type: ignore[index]
    assert "missing.warc.gz" not in json.dumps(parameters)


def test_a_runs_listing_gives_back_its_inputs_and_a_damaged_one_is_a_clear_error(
        tmp_path: Path) -> None:
    """A crawl's 90,000 inputs (and a path with a newline in it) go through the listing the
    flow takes and come back the same, in order; a listing that lost a line is an error that
    says so, and the listing is gone when the run ends."""
    from pipeline.errors import BacklinksError
    from pipeline.read.sources import listed

    inputs = [InputFile(f"https://data.commoncrawl.org/crawl-data/CC-MAIN-2025-30/segments/"
                        f"{n % 100}/warc/CC-MAIN-{n:05d}.warc.gz") for n in range(90_000)]
    inputs.append(InputFile(str(tmp_path / "odd\nname.warc.gz")))
    with listed(inputs) as listing:
        assert listing.count == 90_001
        assert listing.read() == inputs
        path = Path(listing.path)
        path.write_text(path.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")
        with pytest.raises(BacklinksError, match=r"holds 90000 inputs, not 90001; start the "
                                                 r"run again"):
            listing.read()
    assert not path.exists()


def test_a_flow_serializes_prefect_settings_once_for_all_its_submissions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A Dask submission serializes the current Prefect context for its worker, the
    settings included (82 ms of each submission's 108: one process then submitted about
    nine tasks a second). Under ``settings_serialized_once`` (the flow body) the settings
    are serialized once, every submission carries the same settings as before, and a
    worker's context hydrated from them has the flow's settings."""
    from prefect.context import SettingsContext, hydrated_context, serialize_context

    from flows.build import settings_serialized_once

    calls: list[bool] = []
    original = SettingsContext.serialize

    def counted(self: SettingsContext, include_secrets: bool = True) -> dict:
        calls.append(include_secrets)
        return original(self, include_secrets=include_secrets)

    monkeypatch.setattr(SettingsContext, "serialize", counted)
    expected = [serialize_context()["settings_context"] for _ in range(3)]
    assert len(calls) == 3  # once a submission, without
    calls.clear()
    with settings_serialized_once():
        contexts = [serialize_context() for _ in range(5)]
        assert SettingsContext.get().serialize(include_secrets=False)  # not kept
    assert calls == [True, False]  # once for the five, and once more without secrets
    assert all(context["settings_context"] == expected[0] for context in contexts)
    settings = SettingsContext.get().settings
    with hydrated_context(contexts[-1]):
        assert SettingsContext.get().settings == settings


async def task_run_names_of_the_newest_flow_run() -> list[str]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        newest = (await client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1))[0]
        task_runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[newest.id])))
    return [run.name for run in task_runs]


def test_a_run_settles_the_inputs_with_a_complete_part_without_a_task_each(
        prefect_api: None, tmp_path: Path) -> None:
    """A second run over the same inputs and one more submits one task, for the new one:
    the two with a complete part are looked up by the flow (a task each cost 0.03-0.09 s
    an input: over an hour for a crawl's 90,000), reported first, and counted as reused;
    the graph holds all three."""
    from flows.build import progress

    settings = load_settings({"data_dir": str(tmp_path / "data"), "workers": 2}, environ={})
    inputs = sample_inputs()[:3]
    first = run_build(inputs[:2], settings)
    assert (first.processed, first.reused) == (2, 0)
    seen: list[tuple[int, int, str, bool]] = []
    with progress(lambda done, total, item: seen.append(
            (done, total, item.input, item.reused)) if hasattr(item, "reused") else None):
        second = run_build(inputs, settings)
    assert (second.processed, second.reused, second.failures) == (1, 2, [])
    assert seen == [(1, 3, inputs[0].uri, True), (2, 3, inputs[1].uri, True),
                    (3, 3, inputs[2].uri, False)]
    deadline = time.monotonic() + 60
    while True:  # (the API records the task runs a moment after they happen)
        names = asyncio.run(task_run_names_of_the_newest_flow_run())
        if any(name.startswith("publish") for name in names) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert any(name.startswith("publish") for name in names), names
    assert [name for name in names if name.startswith("process ")] == [
        f"process {Path(inputs[2].uri).name}"]

    alone = run_build(inputs, load_settings({"data_dir": str(tmp_path / "alone"),
                                             "workers": 2}, environ={}))
    assert second.graph is not None and alone.graph is not None
    assert (second.graph.pages, second.graph.links, second.graph.host_edges) == (
        alone.graph.pages, alone.graph.links, alone.graph.host_edges)

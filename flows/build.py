"""The Prefect flow: list inputs, one task per input file that needs it, then aggregate
and publish.

Prefect orchestrates; the work is done by plain functions in ``pipeline/`` that the tasks
wrap. Per-file tasks run on a process pool sized to the cores. Network faults are retried
inside the task (remote.py: resume, backoff); a file whose retry budget ran out is started
again up to ``file_retries`` times; a corrupt file fails at once and is reported. With ``PREFECT_API_URL`` set the
flow reports to that server; without it, ``temporary_api`` starts one local Prefect server
for the run that the worker processes share.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import SettingsContext
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from pydantic import PrivateAttr

from flows.server import TemporaryServer
from pipeline.config import Settings
from pipeline.counters import recorded
from pipeline.errors import ConfigError, InputUnavailable
from pipeline.graph.aggregate import (
    AggregationPlan,
    GraphOptions,
    GraphSummary,
    current_graph,
    finish_aggregation,
    plan_aggregation,
    rank_graph,
    recorded_parts,
    reduce_domains,
    reduce_hosts,
    reduce_links,
    reduce_pages,
    write_referrals,
)
from pipeline.parts.layout import check_layout, data_layout, growth_note
from pipeline.parts.part import sweep_temporary
from pipeline.parts.process import InputResult, already_processed, process_input
from pipeline.publish.database import publish
from pipeline.read.sources import InputFile, InputListing, listed, local_bytes
from pipeline.runs import InputFailure, RunRecord, RunSummary, load_runs, save_run
from pipeline.storage import DataStore, Folder


@dataclass(frozen=True)
class Step:
    """Progress of one aggregation step: ``done`` of ``total`` partitions (or tasks)."""

    name: str
    done: int
    total: int


ProgressListener = Callable[[int, int, "InputResult | InputFailure | Step | str"], None]
_listeners: list[ProgressListener] = []


@contextmanager
def progress(listener: ProgressListener) -> Iterator[None]:
    """Call ``listener(done, total, item)`` during the block: as each input finishes (an
    InputResult or InputFailure), as an aggregation step advances (a Step), and with a
    message (a str) as the run moves on (aggregating, publishing)."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def _report(done: int, total: int, result: InputResult | InputFailure | Step | str) -> None:
    for listener in list(_listeners):
        listener(done, total, result)


def _report_step(step: str, done: int, total: int) -> None:
    """The aggregation's progress hook: step ``step`` (pages, links, hosts, domains...) has
    ``done`` of its ``total`` partitions reduced. Call it with done=0 when a step starts and
    after each partition (or group of partitions) finishes; the CLI shows a bar per step."""
    _report(done, total, Step(step, done, total))


# Inputs up to this size in all run their tasks in threads (see small_local_run).
SMALL_RUN_BYTES = 32 << 20


def _retry_on_transient_io(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a per-file task only when its failure was a transient IO error."""
    try:
        state.result()
    except InputUnavailable:
        return True
    except Exception:
        return False
    return False


@task(
    name="process-input",
    task_run_name="process {source.name}",
    retries=2,
    retry_delay_seconds=[10, 20],  # build_graph sets both from the settings
    retry_condition_fn=_retry_on_transient_io,
)
def process_input_task(source: InputFile, settings: Settings) -> InputResult:
    return process_input(source, settings)


# never cached, as the ranks' tasks below: each call writes its slice of a new plan
@task(name="plan-aggregation", task_run_name="plan {label}", cache_policy=NO_CACHE)
def plan_slice_task(call: Callable[[], Any], label: str) -> Any:
    """One slice of the plan's parts (``plan_aggregation``): their part.json files read,
    their ranges and records written."""
    return call()


def plan_slices(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """The plan's map function in a flow: each slice of the parts a task on the run's task
    runner (a crawl's 90,000 part.json files are about 4 minutes of CPU in one process)."""
    return _each_a_task(plan_slice_task, calls,
                        [f"parts slice {number}" for number in range(len(calls))])


@task(name="reduce-partitions", task_run_name="reduce {step} {first}-{last}")
def reduce_task(plan: AggregationPlan, step: str, partitions: list[int], first: int,
                last: int, options: GraphOptions) -> int:
    """One step of the aggregation for a group of partitions; the sub-buckets reduced."""
    if step == "pages":
        return reduce_pages(plan, partitions, options)
    if step == "links":
        return reduce_links(plan, partitions, options)
    if step == "hosts":
        reduce_hosts(plan, partitions)
    elif step == "domains":
        reduce_domains(plan, partitions)
    else:
        write_referrals(plan, partitions, options)
    return len(partitions)


# never cached (Prefect caches only with results persisted, off here, but a user's Prefect
# settings can turn that on): two searches of one graph run tasks with the same arguments
# (the same frontier file, rewritten between them), and each must run
@task(name="rank-partition", task_run_name="rank {label}", cache_policy=NO_CACHE)
def rank_round_task(call: Callable[[], Any], label: str) -> Any:
    """One task of a round of the ranks over partitions (pipeline/graph/rank_tables.py)."""
    return call()


def on_task_runner(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """The ranks' map function in a flow: each call of a round a task on the run's task
    runner."""
    return _each_a_task(rank_round_task, calls, [_call_label(call) for call in calls])


def _each_a_task(runs: Any, calls: Sequence[Callable[[], Any]],
                 labels: Sequence[str]) -> list[Any]:
    """Each call submitted as a task of ``runs`` (a task that calls its callable) with its
    label; the results in order, once all have finished."""
    futures = [runs.submit(call, label) for call, label in zip(calls, labels, strict=True)]
    return [future.result() for future in futures]


def _call_label(call: Callable[[], Any]) -> str:
    function = getattr(call, "func", call)
    return getattr(function, "__name__", "step").replace("_", " ")


@task(name="finish-aggregation")
def finish_task(plan: AggregationPlan, options: GraphOptions, ranked: dict[str, Any],
                buckets: int) -> GraphSummary:
    return finish_aggregation(plan, options, ranked, buckets)


def aggregate_in_partitions(store: DataStore, options: GraphOptions,
                            settings: Settings) -> GraphSummary:
    """Plan, then each step as one task per group of partitions (on the run's task runner,
    so in parallel and each in its own process), the ranks, the referrals (another step:
    they take the ranked domains' authority), then finish. A step starts when the one
    before it has finished everywhere: it reads the pieces that step wrote."""
    plan = plan_aggregation(store, options, map_fn=plan_slices)
    buckets = 0
    try:
        for step in ("pages", "links", "hosts", "domains"):
            buckets += _run_step(plan, step, options, settings)
        ranked = rank_graph(plan, options, settings, map_fn=on_task_runner,
                            report=lambda text: _report(0, 0, text))
        _run_step(plan, "referrals", options, settings)
    except BaseException:
        plan.graph.delete_all()
        raise
    return finish_task(plan, options, ranked, buckets)


def _run_step(plan: AggregationPlan, step: str, options: GraphOptions,
              settings: Settings) -> int:
    """One step as a task per group of partitions, reported as they finish; the links
    step's sub-buckets reduced (0 for the others)."""
    groups = plan.groups(step, settings.worker_count)
    _report_step(step, 0, plan.partitions)
    futures = [reduce_task.submit(plan, step, group, group[0], group[-1], options)
               for group in groups]
    done = buckets = 0
    for group, future in zip(groups, futures, strict=True):
        reduced = future.result()  # a failed task fails the run; the next starts anew
        if step == "links":
            buckets += reduced
        done += len(group)
        _report_step(step, done, plan.partitions)
    return buckets


@task(name="publish")
def publish_task(store: DataStore, graph_folder: str, db_path: Path, database: str) -> Path:
    return publish(Folder(store, graph_folder), load_runs(store), db_path, database)


def _collect(
    submitted: dict[Any, tuple[PrefectFuture[InputResult], str]],
    results: list[InputResult], total: int,
) -> list[InputFailure]:
    """Wait for the per-file tasks, adding their results to ``results`` and reporting
    progress (of ``total`` inputs, those in ``results`` done already); a failure is kept,
    not raised."""
    failures: list[InputFailure] = []
    futures = [future for future, _ in submitted.values()]
    for future in as_completed(futures):
        outcome = future.result(raise_on_failure=False)
        item: InputResult | InputFailure
        if isinstance(outcome, InputResult):
            item = outcome
            results.append(outcome)
        else:
            message = str(outcome) if isinstance(outcome, BaseException) else repr(outcome)
            item = InputFailure(input=submitted[future.task_run_id][1], message=message)
            failures.append(item)
        _report(len(results) + len(failures), total, item)
    return failures


class _SettingsSerializedOnce(SettingsContext):
    """Prefect's settings context, serialized once: a Dask submission serializes the
    current context for its worker (prefect_dask's client, each task), and the settings
    took 82 ms of the 108 ms each submission cost this process (cProfile of a run of 300
    small files), so one process could submit no more than about nine tasks a second
    however many workers wait. Prefect's own process pool serializes the context once a
    runner; this does the same for the settings, which do not change during the flow."""

    _serialized: dict[str, Any] | None = PrivateAttr(None)

    def serialize(self, include_secrets: bool = True) -> dict[str, Any]:
        if not include_secrets:
            return super().serialize(include_secrets=False)
        if self._serialized is None:
            self._serialized = super().serialize(include_secrets=True)
        return self._serialized


@contextmanager
def settings_serialized_once() -> Iterator[None]:
    """The block under ``_SettingsSerializedOnce`` of the current settings: every task
    submitted in it carries the settings serialized once."""
    current = SettingsContext.get()
    if current is None:
        yield
        return
    with _SettingsSerializedOnce(profile=current.profile, settings=current.settings):
        yield


@flow(name="build-backlink-graph", validate_parameters=False)
def build_graph(listing: InputListing, settings: Settings) -> RunSummary:
    """Process every input into a part, then aggregate all parts and publish the database.
    The inputs come as a listing (``listed``), not as a parameter: Prefect would store the
    list in its API and serialize it again for every task."""
    with settings_serialized_once():
        return _build_graph(listing, settings)


def _build_graph(listing: InputListing, settings: Settings) -> RunSummary:
    inputs = listing.read()
    started_clock = time.perf_counter()
    started = datetime.now(UTC)
    store = settings.data_store()
    store.prepare("")
    sweep_temporary(store)
    input_bytes = local_bytes(inputs)
    layout = data_layout(store, settings.partitions, input_bytes)  # before any part
    note = growth_note(layout, input_bytes)

    per_file = process_input_task.with_options(
        retries=settings.file_retries,
        retry_delay_seconds=[
            settings.retry_initial_seconds * 10 * 2**attempt
            for attempt in range(settings.file_retries)
        ],
    )
    # the inputs with a complete part are settled here, looked up side by side (those the
    # current graph was built from by its records); a task each only for the others,
    # submitted as they are found
    results: list[InputResult] = []
    submitted = {}
    for source, reused in already_processed(inputs, settings, layout.partitions,
                                            recorded_parts(store)):
        if reused is None:
            future = per_file.submit(source, settings)
            submitted[future.task_run_id] = (future, source.uri)
        else:
            results.append(reused)
            _report(len(results), len(inputs), reused)
    failures = _collect(submitted, results, len(inputs))

    counters: Counter[str] = Counter()
    for result in results:
        if not result.reused:
            counters.update(result.counters)
    fresh = [result for result in results if not result.reused]
    run = RunRecord(
        run_id=_run_id(started),
        started=started,
        finished=datetime.now(UTC),
        status=run_status(len(results), len(failures)),
        inputs=len(inputs),
        inputs_reused=len(results) - len(fresh),
        records=sum(result.records for result in fresh),
        pages=sum(result.pages for result in fresh),
        links=sum(result.links for result in fresh),
        failed_inputs=[f"{failure.input}: {failure.message}" for failure in failures],
        skipped=recorded(counters),
        settings=settings.to_dict(),
    )

    graph: GraphSummary | None = None
    db_path: Path | None = None
    unchanged = False
    options = GraphOptions.from_settings(settings)
    found = current_graph(store) if results and not fresh else None
    current = found if found is not None and found.is_current(options) else None
    if current is not None and settings.db_path.is_file():
        # nothing new: the graph holds exactly these parts, and the database is published
        unchanged = True
        graph, db_path = current.summary(), settings.db_path
        _report(len(inputs), len(inputs), "nothing new: the graph and database are current")
    elif results:
        save_run(store, run)
        if current is None:
            _report(len(inputs), len(inputs), "aggregating all parts")
            graph = aggregate_in_partitions(store, options, settings)
        else:
            graph = current.summary()
        _report(len(inputs), len(inputs), f"publishing {settings.db_path}")
        db_path = publish_task(store, graph.folder, settings.db_path, settings.database)
    return RunSummary(
        run_id=run.run_id,
        inputs=len(inputs),
        processed=len(fresh),
        reused=run.inputs_reused,
        failures=failures,
        records=run.records,
        pages=run.pages,
        links=run.links,
        counters=dict(sorted(counters.items())),
        seconds=time.perf_counter() - started_clock,
        graph=graph,
        db_path=db_path,
        damaged={result.input: result.damage for result in results if result.damage},
        unchanged=unchanged,
        notes=[note] if note else [],
    )


def run_status(succeeded: int, failed: int) -> str:
    """complete (no input failed), partial (some failed, the others are in the graph) or
    failed (every input failed: nothing new is in the graph)."""
    if not failed:
        return "complete"
    return "partial" if succeeded else "failed"


def _run_id(started: datetime) -> str:
    return f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


@contextmanager
def temporary_api(server: TemporaryServer | None = None) -> Iterator[str]:
    """Use the configured Prefect API (PREFECT_API_URL); without one, a temporary local
    server: ``server`` if the CLI started it early (flows/server.py), else a new one.

    Prefect's own ephemeral mode would start a server in every worker process of the pool;
    one server whose address the workers inherit through the environment is several times
    faster. Worker processes read the API address from the environment, so it is set there
    for the duration of the run.
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )

    previous = os.environ.get("PREFECT_API_URL")
    configured = PREFECT_API_URL.value()
    if configured and server is not None:
        server.stop()
        server = None
    if not configured:
        server = server or TemporaryServer().start()
        try:
            if not server.ready():
                _report(0, 0, "starting a temporary Prefect server (set PREFECT_API_URL to use "
                        "your own)")
            configured = server.wait()
        except BaseException:
            server.stop()
            raise
    os.environ["PREFECT_API_URL"] = configured
    updates: dict[Any, Any] = {PREFECT_API_URL: configured}
    if server is not None:
        # Heartbeats tell a lasting server that a run crashed; a temporary one goes with the
        # run. Without them the flow also ends up to 1 s sooner (the heartbeat thread sleeps
        # in 1 s steps and the flow waits for it to stop).
        updates[PREFECT_FLOWS_HEARTBEAT_FREQUENCY] = None
    try:
        with temporary_settings(updates):
            yield configured
            if server is not None:  # send the run's last log lines before the server stops
                from prefect.logging.handlers import APILogHandler

                APILogHandler().flush()
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        if server is not None:
            server.stop()


def task_runner(settings: Settings) -> Any:
    """The runner of the per-file tasks: a local process pool, or Dask (an existing
    scheduler, or a temporary LocalCluster of ``workers`` processes, one thread each)."""
    if settings.runner != "dask":
        return ProcessPoolTaskRunner(max_workers=settings.worker_count)
    from prefect_dask.task_runners import DaskTaskRunner

    if settings.dask_scheduler:
        _check_scheduler(settings.dask_scheduler, settings.timeout_seconds)
        return DaskTaskRunner(address=settings.dask_scheduler)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": settings.worker_count, "threads_per_worker": 1,
                        "processes": True, "dashboard_address": None},
    )


def _check_scheduler(address: str, timeout: float) -> None:
    """Fail early, and clearly, when the Dask scheduler cannot be reached."""
    from distributed import Client

    try:
        with Client(address, timeout=timeout):  # type: ignore[no-untyped-call]
            pass
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(
            f"cannot reach the Dask scheduler at {address!r} ({exc}); start it "
            "(`dask scheduler`, then `dask worker ADDRESS` on each machine) or fix --scheduler"
        ) from exc


def small_local_run(inputs: list[InputFile], settings: Settings) -> bool:
    """A run on the local runner whose inputs are all local files of SMALL_RUN_BYTES or less
    in all: its tasks run in threads of this process, since starting worker processes (each
    imports Prefect and the pipeline, about 3 s of CPU) would cost more than they save."""
    if settings.runner != "local":
        return False
    total = local_bytes(inputs)
    return total is not None and total <= SMALL_RUN_BYTES


def run_build(
    inputs: list[InputFile], settings: Settings, server: TemporaryServer | None = None
) -> RunSummary:
    """Run the flow with the settings' task runner (the CLI's entry point). ``server``: a
    temporary Prefect server the caller started early (it is stopped in any case)."""
    try:
        if small_local_run(inputs, settings):
            runner: Any = ThreadPoolTaskRunner(max_workers=settings.worker_count)
        else:
            runner = task_runner(settings)
        settings.db_path  # noqa: B018 - a missing --db for S3 data fails before any work
        store = settings.data_store()
        with store.lock():
            check_layout(store, settings.partitions)  # another split fails before any server
            with temporary_api(server), listed(inputs) as listing:
                return build_graph.with_options(task_runner=runner)(listing, settings)
    finally:
        if server is not None:
            server.stop()

"""Inputs that already have a complete part are settled by looking them up side by side
(``already_processed``), not by a task each: the lookups against a real data folder and a
local HTTP server in Common Crawl's layout."""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import FAST_RETRIES
from http_server import FaultPlan, RangeFileServer

from pipeline.parts.layout import data_layout
from pipeline.parts.process import InputResult, already_processed, process_input
from pipeline.read.sources import InputFile, sample_inputs
from pipeline.storage import LocalData


def test_inputs_with_a_complete_part_are_found_in_order_and_a_failed_lookup_is_tried_once(
        tmp_path: Path) -> None:
    """The inputs come back in their order, each with its part's result when the part is
    complete and of the input's current version, else None: a new input, a local file
    written again since its part, and a remote input whose server fails (tried once
    here, whatever the retry budget: its task retries it and says why). A caller that
    stops at the first None leaves no lookup running."""
    settings = replace(FAST_RETRIES, data_dir=str(tmp_path / "data"), retry_seconds=30.0)
    samples = sample_inputs()[:4]
    copied = tmp_path / "copied.warc.gz"
    copied.write_bytes(Path(samples[3].uri).read_bytes())
    done = [process_input(source, settings) for source in [*samples[:3], InputFile(str(copied))]]
    assert not any(result.reused for result in done)
    copied.write_bytes(copied.read_bytes())  # the same bytes written again: a new version

    plan = FaultPlan()
    with RangeFileServer(Path(samples[0].uri).parent, plan) as server:
        remote = InputFile(f"{server.base_url}{Path(samples[0].uri).name}")
        inputs = [samples[0], remote, samples[1], InputFile(str(copied)), samples[2]]
        partitions = data_layout(LocalData(settings.data_path), settings.partitions).partitions
        plan.reset(fail_next=1000)
        found = list(already_processed(inputs, settings, partitions))
        assert plan.requests == 1  # tried once, with 30 s of retries allowed
    assert [source for source, _ in found] == inputs
    reused = [result for _, result in found]
    assert [result is not None for result in reused] == [True, False, True, False, True]
    assert reused[0] == replace(done[0], reused=True, seconds=0.0)
    assert reused[4] is not None and reused[4].links == done[2].links

    threads = threading.active_count()
    walk = already_processed([InputFile(str(tmp_path / "new.warc.gz")), *samples[:3]],
                             settings, partitions)
    assert next(walk)[1] is None
    walk.close()
    assert threading.active_count() == threads


def test_inputs_the_current_graph_was_built_from_are_settled_from_its_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the current graph's records of its parts, an input whose part one listing shows
    as recorded (every file's bytes and version) is settled without reading its part.json,
    to the same result as reading it; a part whose file was written again since, or an
    input of a new version, goes back to its part.json."""
    from pipeline.graph.aggregate import aggregate, recorded_parts
    from pipeline.parts import part

    folder = tmp_path / "inputs"
    folder.mkdir()
    samples = []
    for source in sample_inputs()[:3]:  # copies: the inputs are written again below
        shutil.copy2(source.uri, folder / Path(source.uri).name)
        samples.append(InputFile(str(folder / Path(source.uri).name)))
    settings = replace(FAST_RETRIES, data_dir=str(tmp_path / "data"))
    done = [process_input(source, settings) for source in samples]
    store = LocalData(settings.data_path)
    partitions = data_layout(store, settings.partitions).partitions
    assert recorded_parts(store) == {}  # no graph yet
    aggregate(store)
    recorded = recorded_parts(store)
    assert sorted(recorded) == sorted(result.key for result in done)

    reads: list[str] = []
    read_part_info = part.read_part_info
    monkeypatch.setattr(part, "read_part_info", lambda store, key: (
        reads.append(key), read_part_info(store, key))[1])

    def look_up(records: dict[str, Any] | None) -> list[InputResult | None]:
        return [result for _, result in already_processed(samples, settings, partitions,
                                                          records)]
    from_records = look_up(recorded)
    assert reads == []
    from_part_json = look_up(None)
    assert sorted(reads) == sorted(result.key for result in done)
    assert from_records == from_part_json
    assert all(result is not None and result.reused for result in from_records)

    reads.clear()
    written = part.part_path(store, done[1].key) / "links.partitions"
    before = written.stat().st_mtime_ns
    written.write_bytes(written.read_bytes())  # the same bytes, written again
    os.utime(written, ns=(before + 1000, before + 1000))
    assert look_up(recorded) == from_records
    assert reads == [done[1].key]  # read, and its file found unchanged by its SHA-256

    reads.clear()
    touched = Path(samples[2].uri)
    before = touched.stat().st_mtime_ns
    os.utime(touched, ns=(before + 1000, before + 1000))  # a new version of the input
    assert look_up(recorded)[2] is None
    assert sorted(reads) == sorted([done[1].key, done[2].key])  # (1: its file, above)

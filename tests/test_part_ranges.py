"""The parts' ranges of each partition, written transposed by the plan (part_ranges.py):
every reduce task reads those of its own partitions, not every part's part.json, and the
plan that goes to every task holds no part."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from test_aggregate import assert_same_tables, link, page, write, write_sites

from pipeline.errors import GraphError
from pipeline.graph import aggregate as steps
from pipeline.graph import part_ranges
from pipeline.graph.aggregate import GraphOptions, aggregate, plan_aggregation
from pipeline.graph.part_ranges import PartRanges, ranges_kind
from pipeline.parts.part import (
    complete_parts,
    listed_parts,
    part_path,
    partition_ranges,
    parts_digest,
)
from pipeline.storage import LocalData

PARTITIONS = 8


def _targets(n: int) -> list[tuple[str, str]]:
    return [(f"t{m}.org", f"t{m}.org") for m in range(n % 7 + 1)]


def _write_parts(data: Path, keys: list[str], partitions: int = PARTITIONS) -> None:
    """A part a key, each with a page of 30 sites linking to ``_targets``."""
    for key in keys:
        rows = []
        for n in range(30):
            src, host = f"https://site{n}.example/{key}", f"site{n}.example"
            rows.append((page("c1", src, host, host),
                         [link("c1", src, host, host, *target) for target in _targets(n)]))
        write(data, key, rows, partitions=partitions)


class _TextCounting(LocalData):
    """A local data folder noting each text file it reads (part.json, the manifest)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.texts: list[str] = []

    def read_text(self, name: str) -> str | None:
        self.texts.append(name)
        return super().read_text(name)


@pytest.mark.parametrize(("per_file", "files"), [(1, 3), (20, 2),
                                                 (part_ranges.RANGES_PER_FILE, 1)])
def test_each_partition_has_every_parts_range_in_the_parts_order(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_file: int, files: int) -> None:
    """Whatever the ranges a file holds (one part's, a few parts', all), a partition's ranges
    are those part.json gives, of every part that has rows there, in the parts' order (the
    ordinal is the part's place among them, sorted by key)."""
    monkeypatch.setattr(part_ranges, "RANGES_PER_FILE", per_file)
    write_sites(tmp_path, 30, PARTITIONS, _targets)
    store = LocalData(tmp_path)
    plan = plan_aggregation(store)
    try:
        infos = [info for _, info in complete_parts(store)]
        # a part has 11 to 16 ranges: a file each, two parts in one, or all in one
        assert len(store.files(plan.work.name_of(ranges_kind("links")))) == files
        for table in ("pages", "links"):
            task = PartRanges.read(plan.work, table, range(PARTITIONS), PARTITIONS)
            found = 0
            for partition in range(PARTITIONS):
                expected = [(ordinal, *span) for ordinal, info in enumerate(infos)
                            if (span := partition_ranges(info, table).get(partition))]
                found += len(expected)
                assert task.of(partition).rows() == expected
                alone = PartRanges.read(plan.work, table, [partition], PARTITIONS)
                assert alone.of(partition).rows() == expected
            assert found == sum(len(partition_ranges(info, table)) for info in infos) > 3
    finally:
        plan.graph.delete_all()


def test_the_plan_holds_no_part(tmp_path: Path) -> None:
    """The plan goes to every task: it names no part and does not grow with them (before,
    every part's part.json went with it: 27.5 KB a part pickled at 1,500 partitions)."""
    sizes = {}
    for parts in (2, 12):
        _write_parts(tmp_path / str(parts), [f"key{number}" for number in range(parts)])
        plan = plan_aggregation(LocalData(tmp_path / str(parts)))
        try:
            assert plan.parts == parts
            pickled = pickle.dumps(plan)
            assert b"key1" not in pickled and b"parts/" not in pickled
            sizes[parts] = len(pickled)
        finally:
            plan.graph.delete_all()
    assert sizes[12] - sizes[2] < 100  # some counts grow a byte or two; nothing per part


def test_a_reduce_task_reads_no_part_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    """The plan reads each part.json once; the steps' tasks read their partitions' ranges
    from the work folder, and the tables are those of one aggregation (with one range a
    file, so that a task reads several files)."""
    write_sites(tmp_path / "reference", 30, PARTITIONS, _targets)
    aggregate(LocalData(tmp_path / "reference"))
    write_sites(tmp_path / "data", 30, PARTITIONS, _targets)
    monkeypatch.setattr(part_ranges, "RANGES_PER_FILE", 1)
    store = _TextCounting(tmp_path / "data")
    options = GraphOptions(aggregate_buckets=2)
    plan = steps.plan_aggregation(store, options)
    planned = [name for name in store.texts if name.endswith("/part.json")]
    assert len(planned) == len(set(planned)) == 3
    store.texts.clear()
    for group in ([0, 1, 2], [3], [4, 5, 6, 7]):
        steps.reduce_pages(plan, group, options)
    for group in ([0], [1, 2, 3, 4], [5, 6, 7]):
        steps.reduce_links(plan, group, options)
    steps.reduce_hosts(plan, range(PARTITIONS))
    steps.reduce_domains(plan, range(PARTITIONS))
    ranked = steps.rank_graph(plan, options)
    steps.write_referrals(plan, range(PARTITIONS), options)
    assert not [name for name in store.texts if name.startswith("parts/")]
    summary = steps.finish_aggregation(plan, options, ranked)
    assert summary.parts == 3
    assert_same_tables(tmp_path / "data", tmp_path / "reference")


def _call(call: Callable[[], object]) -> object:
    return call()


def test_the_plan_in_slices_gives_the_tables_of_the_plan_in_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan reads the parts in slices, each a call of its map function (a task in a
    flow; here each in a process of its own), each writing its own ranges files and
    records: the ranges keep the parts' order across slices, the manifest records every
    part in order, and the tables are those of a plan in one slice. Parts of two splits in
    two slices are refused, as in one."""
    write_sites(tmp_path / "reference", 30, PARTITIONS, _targets)
    aggregate(LocalData(tmp_path / "reference"))
    monkeypatch.setattr(steps, "PLAN_SLICE_PARTS", 2)
    write_sites(tmp_path / "data", 30, PARTITIONS, _targets)
    store = LocalData(tmp_path / "data")
    slices: list[int] = []
    # (spawned: a forked child of a process that ran Polars can hang on its locks)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        def in_processes(calls: Sequence[Callable[[], object]]) -> list[object]:
            slices.append(len(calls))
            return list(pool.map(_call, calls))
        plan = plan_aggregation(store, map_fn=in_processes)
    assert slices == [2] and plan.parts == 3
    assert sorted(plan.work.files("parts-")) == ["parts-00000.jsonl", "parts-00001.jsonl"]
    assert {name.split("-")[0] for name in store.files(
        plan.work.name_of(ranges_kind("links")))} == {"00000", "00001"}
    infos = [info for _, info in complete_parts(store)]
    ranges = PartRanges.read(plan.work, "links", range(PARTITIONS), PARTITIONS)
    for partition in range(PARTITIONS):
        assert ranges.of(partition).rows() == [
            (ordinal, *span) for ordinal, info in enumerate(infos)
            if (span := partition_ranges(info, "links").get(partition))]
    options = GraphOptions()
    steps.reduce_pages(plan, range(PARTITIONS), options)
    steps.reduce_links(plan, range(PARTITIONS), options)
    steps.reduce_hosts(plan, range(PARTITIONS))
    steps.reduce_domains(plan, range(PARTITIONS))
    ranked = steps.rank_graph(plan, options)
    steps.write_referrals(plan, range(PARTITIONS), options)
    assert steps.finish_aggregation(plan, options, ranked).parts == 3
    assert_same_tables(tmp_path / "data", tmp_path / "reference")
    manifest = json.loads((tmp_path / "data" / "graph" / steps.MANIFEST).read_text())
    assert [record["key"] for record in manifest["parts"]] == [info.key for info in infos]
    # a slice's records lost from the work folder: the finish step refuses to record less
    plan = plan_aggregation(store)
    store.local_path(plan.work.name_of("parts-00001.jsonl")).unlink()
    with pytest.raises(GraphError, match=r"record 2 of its 3 parts; run again"):
        steps.finish_aggregation(plan, options, ranked)
    assert not list((tmp_path / "data").glob(".graph-*"))

    write_sites(tmp_path / "split", 30, PARTITIONS, _targets)  # a slice of 2, then of
    _write_parts(tmp_path / "split", ["zy"])  # the third and this one, then one of
    _write_parts(tmp_path / "split", ["zz"], partitions=PARTITIONS * 2)  # this one alone
    with pytest.raises(GraphError, match=r"split into \[8, 16\] partitions"):
        plan_aggregation(LocalData(tmp_path / "split"))
    assert not list((tmp_path / "split").glob(".graph-*"))


def test_the_manifest_records_each_parts_files_without_their_ranges(tmp_path: Path) -> None:
    """The manifest names every part with its files' bytes, rows and SHA-256, in the
    parts' order; the ranges of their partitions stay in part.json (about 40 KB a part at
    1,500 partitions, which made a whole crawl's manifest gigabytes)."""
    import json

    write_sites(tmp_path, 30, PARTITIONS, _targets)
    store = LocalData(tmp_path)
    aggregate(store)
    manifest = json.loads((tmp_path / "graph" / steps.MANIFEST).read_text())
    infos = [info for _, info in complete_parts(store)]
    assert [part["key"] for part in manifest["parts"]] == [info.key for info in infos]
    for part, info in zip(manifest["parts"], infos, strict=True):
        assert set(part["files"]) == set(info.files)
        for name, described in part["files"].items():
            assert "partitions" not in described
            assert described == {key: value for key, value in info.files[name].items()
                                 if key != "partitions"}
    # the graph is current for those parts, found from one listing of their part.json files
    assert steps.graph_is_current(store, GraphOptions()) is not None
    assert manifest["parts_listed"] == parts_digest(listed_parts(store))
    # a manifest of an earlier version (without the listing's digest) is not: the next run
    # builds the graph once more (docs/robustness.md)
    path = tmp_path / "graph" / steps.MANIFEST
    written = path.read_text()
    older = json.loads(written)
    del older["parts_listed"]
    path.write_text(json.dumps(older))
    assert steps.graph_is_current(store, GraphOptions()) is None
    path.write_text(written)
    assert steps.graph_is_current(store, GraphOptions()) is not None
    # a part written again (its part.json with a new modification time) makes it not
    # current, and so does one more part
    rewritten = part_path(store, infos[1].key) / "part.json"
    before = rewritten.stat().st_mtime_ns
    rewritten.write_text(rewritten.read_text())
    os.utime(rewritten, ns=(before + 1000, before + 1000))  # (whatever the clock's grain)
    assert steps.graph_is_current(store, GraphOptions()) is None
    aggregate(store)
    assert steps.graph_is_current(store, GraphOptions()) is not None
    _write_parts(tmp_path, ["zz"])
    assert steps.graph_is_current(store, GraphOptions()) is None

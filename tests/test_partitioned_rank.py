"""Ranks over edge partitions against the in-memory ranks of rank.py: PageRank to 1e-12
(the issue asks 1e-9) on graphs of every shape, weighted and not, however the edges are
split; harmonic centrality identical (same sources, same search); tasks run in other
processes through a map function, as Prefect runs them."""

from __future__ import annotations

import multiprocessing
import operator
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_rank import SHAPES as RANK_SHAPES

from pipeline.graph import partitioned_rank as parted
from pipeline.graph import rank


def power_law_graph(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, m), (n * rng.power(0.3, m)).astype(np.int64).clip(0, n - 1)


# test_rank.py's graphs (its random one has dangling nodes and parallel edges), and a
# larger power-law one
SHAPES = {**RANK_SHAPES, "power law, 3,000 nodes": (*power_law_graph(3000, 30_000, 3), 3000)}
SPLITS = [("dst", 3), ("src", 4), ("edge", 5)]


@pytest.mark.parametrize("split", SPLITS, ids=[f"by {by}, {k}" for by, k in SPLITS])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("shape", SHAPES)
def test_pagerank_equals_the_in_memory_pagerank(
    shape: str, weighted: bool, split: tuple[str, int], tmp_path: Path
) -> None:
    src, dst, n = SHAPES[shape]
    by, parts = split
    weights = (np.arange(len(src)) % 4 + 1).astype(np.float64) if weighted else None
    partitions = parted.write_partitions(src, dst, n, tmp_path / "edges", parts, by=by,
                                         weights=weights, files_per_part=2)
    result = parted.pagerank(partitions, n, tmp_path / "work", weighted=weighted, batch_rows=97)
    expected = rank.pagerank(src, dst, n, weights=weights)
    assert np.abs(result.values - expected).max() < 1e-12
    assert result.values.sum() == pytest.approx(1.0)
    assert result.edges == len(src) and result.iterations >= 1


@pytest.mark.parametrize("shape", [s for s in SHAPES if not s.startswith("power law")])
def test_exact_harmonic_centrality_is_the_in_memory_one(shape: str, tmp_path: Path) -> None:
    src, dst, n = SHAPES[shape]
    partitions = parted.write_partitions(src, dst, n, tmp_path / "edges", 3, by="edge")
    ours = parted.harmonic_centrality(partitions, n, tmp_path / "work", batch_rows=5)
    assert (ours == rank.harmonic_centrality(src, dst, n)).all()


@pytest.mark.parametrize("sources_per_round", [64, 100, 256])
def test_sampled_harmonic_centrality_is_the_in_memory_estimate(
    sources_per_round: int, tmp_path: Path
) -> None:
    """Above the exact limit both draw the same sources and run the same search: the same
    values, bit for bit, however many sources a round carries."""
    src, dst, n = *power_law_graph(3000, 30_000, 4), 3000
    partitions = parted.write_partitions(src, dst, n, tmp_path / "edges", 4, by="src")
    ours = parted.harmonic_centrality(partitions, n, tmp_path / "work", samples=200, seed=7,
                                      sources_per_round=sources_per_round, batch_rows=4_000)
    expected = rank.harmonic_centrality(src, dst, n, samples=200, seed=7)
    assert n > rank.EXACT_LIMIT and np.abs(ours - expected).max() <= 1e-9 * expected.max()


def test_tasks_run_in_other_processes_through_the_map_function(tmp_path: Path) -> None:
    """Every call in another process, as a task runner does: the calls must pickle (spawned
    workers, since forking a process with Polars' threads can hang)."""
    src, dst, n = SHAPES["random, dangling nodes"]
    partitions = parted.write_partitions(src, dst, n, tmp_path / "edges", 3, by="dst")
    rounds: list[int] = []
    pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn"))

    def counted(calls: Sequence[Callable[[], Any]]) -> list[Any]:
        rounds.append(len(calls))
        return list(pool.map(operator.call, calls))

    result = parted.pagerank(partitions, n, tmp_path / "work", map_fn=counted)
    assert np.abs(result.values - rank.pagerank(src, dst, n)).max() < 1e-12
    assert rounds == [3] * (1 + result.iterations)  # the scan, then one round an iteration
    rounds.clear()
    harmonic = parted.harmonic_centrality(partitions, n, tmp_path / "work", map_fn=counted)
    pool.shutdown()
    assert (harmonic == rank.harmonic_centrality(src, dst, n)).all()
    assert rounds and set(rounds) == {3}  # one round a level


def test_work_folder_keeps_only_the_results(tmp_path: Path) -> None:
    src, dst, n = SHAPES["power law, 3,000 nodes"]
    partitions = parted.write_partitions(src, dst, n, tmp_path / "edges", 2)
    parted.pagerank(partitions, n, tmp_path / "work")
    parted.harmonic_centrality(partitions, n, tmp_path / "work")
    left = sorted(str(p.relative_to(tmp_path / "work")) for p in (tmp_path / "work").rglob("*"))
    assert left == ["harmonic", "pagerank", "pagerank/out-weight.npy", "pagerank/pagerank.npy"]


def test_a_partition_step_is_a_pure_function_of_its_files(tmp_path: Path) -> None:
    """Rerun (a retried task) or run in any order, a step writes the same slice."""
    src, dst, n = SHAPES["power law, 3,000 nodes"]
    partitions = parted.write_partitions(src, dst, n, tmp_path / "edges", 3, by="dst")
    vector = str(tmp_path / "x.npy")
    np.save(vector, np.random.default_rng(0).random(n))
    first = parted.partition_step(partitions[1], vector, str(tmp_path / "a.npy"))
    again = parted.partition_step(partitions[1], vector, str(tmp_path / "b.npy"), batch_rows=10)
    assert first is not None and again is not None
    assert (first.start, first.stop) == (again.start, again.stop)
    assert np.abs(np.load(first.path) - np.load(again.path)).max() < 1e-12
    # partitioned by destination: the slice covers that partition's ids only
    assert n // 3 <= first.start and first.stop <= 2 * n // 3 + 1


def test_empty_graphs_and_empty_partitions(tmp_path: Path) -> None:
    assert parted.pagerank([], 0, tmp_path / "w").values.size == 0
    assert parted.harmonic_centrality([], 0, tmp_path / "w").size == 0
    none = np.array([], dtype=np.int64)
    partitions = parted.write_partitions(none, none, 3, tmp_path / "e", 2)
    assert parted.pagerank(partitions, 3, tmp_path / "w").values.tolist() == pytest.approx([1 / 3] * 3)
    assert parted.harmonic_centrality(partitions, 3, tmp_path / "w").tolist() == [0.0] * 3


def test_ids_outside_the_node_count_are_refused(tmp_path: Path) -> None:
    src, dst = np.array([0, 1, 5]), np.array([1, 2, 0])
    partitions = parted.write_partitions(src, dst, 6, tmp_path / "edges", 2)
    with pytest.raises(ValueError, match=r"node ids 0\.\.5, outside 0\.\.4"):
        parted.pagerank(partitions, 5, tmp_path / "work")

"""PageRank and harmonic centrality over edge partitions: ranks of a graph that does not fit
one process, as a series of rounds of tasks any map function can run.

The graph is a list of partitions, each a list of Parquet files of edges with integer
columns ``src`` and ``dst`` (node ids ``0..n-1``) and, for weighted PageRank, a numeric
``weight``; every edge is in exactly one partition. Partitioning by destination id ranges
is best (each PageRank contribution is then a slice of its range); by source ranges, or any
split at all, gives the same answer. The values are those of rank.py: :func:`pagerank`
equals ``rank.pagerank`` (to 1e-12 in the tests, same iterations and stopping rule) and
:func:`harmonic_centrality` equals ``rank.harmonic_centrality`` with the same seed (same
sources, same search).

A round is one call of ``map_fn`` on a list of zero-argument callables (functools.partial
of the module's step functions, picklable), each reading one partition; the driver
combines their outputs between rounds. The default, :func:`run_here`, calls them in this
process; a Prefect flow passes a function that submits each as a task on the run's task
runner (process pool or Dask). Vectors travel as ``.npy`` files in ``work_dir``, which every
task must see (local disk for the local runner, a shared filesystem for a Dask cluster of
several machines); tasks memory-map them.

Memory of a task: its edges one batch at a time (``batch_rows``), the vector it reads
(memory-mapped: only the pages of the nodes its edges touch are loaded, at most 8 bytes x
nodes for PageRank's rank vector, 8 x ceil(sources / 64) bytes x nodes for a search
frontier plus 1 byte x nodes for the frontier's mask) and its output (8 bytes x the span of
its destination ids for PageRank; 8 x (1 + words) bytes per destination reached for a
search). The driver holds the combined vector: 8 bytes x nodes while combining PageRank (the
sum of the contributions; old and new ranks are read and written in chunks), and for a
search 2 x 8 x words bytes x nodes (bits reached, bits arriving) plus the harmonic sums.

PageRank rounds: one scan of the partitions (out-weights of their sources), then one round
per iteration (:func:`partition_step`: each edge u -> v adds w(u, v) * rank(u) / out(u) to
v) and :func:`combine_step` (the contributions summed, plus the dangling and teleport
shares; the L1 change decides when to stop). Harmonic rounds: one per level of each
bit-parallel breadth-first search (:func:`frontier_step`: the OR of the frontier bits of
every edge's source, by destination), absorbed by ``rank.Reached`` as in memory.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl
from numpy.typing import NDArray

from pipeline.graph.rank import (
    DAMPING,
    EXACT_LIMIT,
    SAMPLES,
    SOURCES_PER_PASS,
    Reached,
    harmonic_sources,
)

T = TypeVar("T")
MapFn = Callable[[Sequence[Callable[[], T]]], list[T]]
BATCH_ROWS = 1 << 20  # edges a task reads at a time: 16-24 MiB of columns
_CHUNK = 1 << 22  # nodes the driver combines at a time
_CHUNK_NODES = 1 << 18  # nodes whose arrivals a search absorbs at a time


def run_here(calls: Sequence[Callable[[], T]]) -> list[T]:
    """The default map function: every call in this process, one after the other."""
    return [call() for call in calls]


@dataclass(frozen=True)
class Slice:
    """Part of a vector of node values, written by one task: ``values[start:stop]`` in the
    ``.npy`` file at ``path`` (float64)."""

    path: str
    start: int
    stop: int


@dataclass(frozen=True)
class Scan:
    """What the first pass over a partition found: the out-weights of its sources and its
    edge count."""

    out_weight: Slice | None
    edges: int
    lowest: int = 0  # the smallest and largest node id of its edges (0, -1 when none)
    highest: int = -1


@dataclass(frozen=True)
class PageRankResult:
    values: NDArray[np.float64]
    iterations: int
    edges: int


# -- reading a partition ---------------------------------------------------------------------


def edge_batches(
    files: Sequence[str], *, weighted: bool = False, batch_rows: int = BATCH_ROWS,
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64] | None]]:
    """The edges of one partition, ``batch_rows`` at a time: (src, dst, weight or None)."""
    if not files:
        return
    columns = [pl.col("src").cast(pl.Int64), pl.col("dst").cast(pl.Int64)]
    if weighted:
        columns.append(pl.col("weight").cast(pl.Float64))
    scan = pl.scan_parquet(list(files), glob=False).select(columns)
    for batch in scan.collect_batches(chunk_size=batch_rows):
        if batch.height == 0:
            continue
        yield (batch["src"].to_numpy(), batch["dst"].to_numpy(),
               batch["weight"].to_numpy() if weighted else None)


class _Sums:
    """Sums of float values by node id over a span of ids that grows as ids arrive."""

    def __init__(self) -> None:
        self.start = 0
        self.values: NDArray[np.float64] = np.zeros(0)

    def add(self, ids: NDArray[np.int64], values: NDArray[np.float64] | None) -> None:
        if len(ids) == 0:
            return
        low, high = int(ids.min()), int(ids.max()) + 1
        if len(self.values) == 0:
            self.start, self.values = low, np.zeros(high - low)
        elif low < self.start or high > self.start + len(self.values):
            start = min(low, self.start)
            grown = np.zeros(max(high, self.start + len(self.values)) - start)
            grown[self.start - start : self.start - start + len(self.values)] = self.values
            self.start, self.values = start, grown
        self.values += np.bincount(ids - self.start, weights=values, minlength=len(self.values))

    def save(self, out_file: str) -> Slice | None:
        if len(self.values) == 0:
            return None
        _save(out_file, self.values)
        return Slice(out_file, self.start, self.start + len(self.values))


def _save(path: str, array: NDArray[Any]) -> None:
    """Write a .npy file whole, then rename it into place (a retried task rewrites it)."""
    partial = f"{path}.partial.npy"
    np.save(partial, array)
    Path(partial).replace(path)


def _open(path: str | Path) -> NDArray[Any]:
    """A vector file, memory-mapped read-only: pages are read as they are touched."""
    mapped: NDArray[Any] = np.load(path, mmap_mode="r")
    return mapped


# -- PageRank ---------------------------------------------------------------------------------


def scan_step(
    files: Sequence[str], out_file: str, *, weighted: bool = False, batch_rows: int = BATCH_ROWS,
) -> Scan:
    """The first pass over a partition: the out-weight (edge count, or weight sum) of each of
    its sources, written as a slice over their id span."""
    sums, edges, lowest, highest = _Sums(), 0, np.iinfo(np.int64).max, -1
    for src, dst, weight in edge_batches(files, weighted=weighted, batch_rows=batch_rows):
        sums.add(src, weight)
        edges += len(src)
        lowest = min(lowest, int(src.min()), int(dst.min()))
        highest = max(highest, int(src.max()), int(dst.max()))
    return Scan(sums.save(out_file), edges, lowest if edges else 0, highest)


def partition_step(
    files: Sequence[str], ranks_vector_file: str, out_file: str, *, weighted: bool = False,
    batch_rows: int = BATCH_ROWS,
) -> Slice | None:
    """One PageRank iteration over one partition: the sum, for every destination v of its
    edges, of w(u, v) * x(u), x read from ``ranks_vector_file`` (float64 [n]: rank(u) /
    out(u), 0 for a dangling u); written to ``out_file`` as a slice over the destinations'
    span. Pure: the same files give the same output, so a failed task can be rerun."""
    scaled = _open(ranks_vector_file)
    sums = _Sums()
    for src, dst, weight in edge_batches(files, weighted=weighted, batch_rows=batch_rows):
        values = scaled[src]
        sums.add(dst, values if weight is None else weight * values)
    return sums.save(out_file)


def combine_step(
    contributions: Sequence[Slice | None], rank_file: str, out_weight_file: str,
    next_rank_file: str, next_vector_file: str, *, damping: float = DAMPING,
) -> float:
    """The contributions of every partition summed into the next ranks,
    damping * (sum + dangling rank / n) + (1 - damping) / n, written to ``next_rank_file``
    with the vector the next round reads (rank / out-weight) to ``next_vector_file``;
    returns the L1 change. Holds one vector (8 bytes x nodes); the rest in chunks."""
    rank = _open(rank_file)
    out_weight = _open(out_weight_file)
    n = len(rank)
    total = np.zeros(n)
    for piece in contributions:
        if piece is not None:
            total[piece.start : piece.stop] += _open(piece.path)
    dangling = 0.0
    for start in range(0, n, _CHUNK):
        chunk = slice(start, start + _CHUNK)
        dangling += float(rank[chunk][out_weight[chunk] == 0].sum())
    spread = damping * dangling / n + (1.0 - damping) / n
    next_rank = np.lib.format.open_memmap(f"{next_rank_file}.partial.npy", "w+", np.float64, (n,))
    vector = np.lib.format.open_memmap(f"{next_vector_file}.partial.npy", "w+", np.float64, (n,))
    change = 0.0
    for start in range(0, n, _CHUNK):
        chunk = slice(start, start + _CHUNK)
        updated = damping * total[chunk] + spread
        change += float(np.abs(updated - rank[chunk]).sum())
        next_rank[chunk] = updated
        vector[chunk] = _scaled(updated, out_weight[chunk])
    next_rank.flush()
    vector.flush()
    del next_rank, vector
    for path in (next_rank_file, next_vector_file):
        Path(f"{path}.partial.npy").replace(path)
    return change


def _scaled(rank: NDArray[np.float64], out_weight: NDArray[np.float64]) -> NDArray[np.float64]:
    dangling = out_weight == 0
    return np.divide(rank, out_weight, out=np.zeros(len(rank)), where=~dangling)


def pagerank(
    partitions: Sequence[Sequence[str]], n: int, work_dir: str | Path, *,
    weighted: bool = False, damping: float = DAMPING, tolerance: float = 1e-10,
    max_iterations: int = 1000, map_fn: MapFn[Any] = run_here, batch_rows: int = BATCH_ROWS,
) -> PageRankResult:
    """PageRank of the n-node graph whose edges are the partitions' Parquet files (see the
    module docstring); ``work_dir`` (created, then emptied of its round files) holds the
    vectors, and ``pagerank.npy`` at the end."""
    folder = Path(work_dir) / "pagerank"
    folder.mkdir(parents=True, exist_ok=True)
    if n == 0:
        return PageRankResult(np.zeros(0), 0, 0)
    scans: list[Scan] = map_fn([
        functools.partial(scan_step, list(files), str(folder / f"out-weight-{i:05d}.npy"),
                          weighted=weighted, batch_rows=batch_rows)
        for i, files in enumerate(partitions)
    ])
    for files, scan in zip(partitions, scans, strict=True):
        if scan.edges and (scan.lowest < 0 or scan.highest >= n):
            raise ValueError(f"edges of {list(files)} name node ids {scan.lowest}..{scan.highest}, "
                             f"outside 0..{n - 1}")
    out_weight = np.zeros(n)
    for scan in scans:
        if scan.out_weight is not None:
            out_weight[scan.out_weight.start : scan.out_weight.stop] += _open(scan.out_weight.path)
            Path(scan.out_weight.path).unlink()
    out_weight_file = str(folder / "out-weight.npy")
    _save(out_weight_file, out_weight)
    rank = np.full(n, 1.0 / n)
    rank_file, vector_file = str(folder / "rank-0.npy"), str(folder / "vector-0.npy")
    _save(rank_file, rank)
    _save(vector_file, _scaled(rank, out_weight))
    del rank, out_weight
    for iteration in range(1, max_iterations + 1):
        round_folder = folder / f"round-{iteration:05d}"
        round_folder.mkdir(exist_ok=True)
        contributions: list[Slice | None] = map_fn([
            functools.partial(partition_step, list(files), vector_file,
                              str(round_folder / f"part-{i:05d}.npy"), weighted=weighted,
                              batch_rows=batch_rows)
            for i, files in enumerate(partitions)
        ])
        next_rank_file = str(folder / f"rank-{iteration}.npy")
        next_vector_file = str(folder / f"vector-{iteration}.npy")
        change = combine_step(contributions, rank_file, out_weight_file, next_rank_file,
                              next_vector_file, damping=damping)
        shutil.rmtree(round_folder)
        Path(rank_file).unlink()
        Path(vector_file).unlink()
        rank_file, vector_file = next_rank_file, next_vector_file
        if change < n * tolerance:
            final = folder / "pagerank.npy"
            Path(rank_file).replace(final)
            Path(vector_file).unlink()
            return PageRankResult(np.load(final), iteration, sum(s.edges for s in scans))
    raise ArithmeticError(f"PageRank did not converge in {max_iterations} iterations")


# -- harmonic centrality ------------------------------------------------------------------------


def frontier_step(
    files: Sequence[str], frontier_file: str, active_file: str, out_file: str, *,
    batch_rows: int = BATCH_ROWS,
) -> str | None:
    """One level of a bit-parallel search over one partition: for every destination of an
    edge out of the frontier, the OR of the frontier bits of its sources. The frontier is
    ``frontier_file`` (uint64 [n, words]) and ``active_file`` (bool [n]: nodes with bits);
    the output, one row per destination (its id, then its words), goes to ``out_file``
    (None when no edge leaves the frontier)."""
    bits = _open(frontier_file)
    active = _open(active_file)
    found: list[NDArray[np.uint64]] = []
    for src, dst, _weight in edge_batches(files, batch_rows=batch_rows):
        picked = np.flatnonzero(active[src] & (src != dst))
        if len(picked) == 0:
            continue
        order = np.argsort(dst[picked], kind="stable")
        found.append(_or_by_target(dst[picked][order], np.take(bits, src[picked][order], axis=0)))
    if not found:
        return None
    rows = found[0] if len(found) == 1 else _merge_rows(np.concatenate(found))
    _save(out_file, rows)
    return out_file


def _or_by_target(sorted_dst: NDArray[np.int64], bits: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """Rows (target id, OR of the bits of its edges) for edges sorted by target."""
    starts = np.flatnonzero(np.r_[True, sorted_dst[1:] != sorted_dst[:-1]])
    rows = np.empty((len(starts), 1 + bits.shape[1]), dtype=np.uint64)
    rows[:, 0] = sorted_dst[starts]
    rows[:, 1:] = np.bitwise_or.reduceat(bits, starts, axis=0)
    return rows


def _merge_rows(rows: NDArray[np.uint64]) -> NDArray[np.uint64]:
    order = np.argsort(rows[:, 0], kind="stable")
    rows = rows[order]
    return _or_by_target(rows[:, 0].astype(np.int64), rows[:, 1:])


def harmonic_centrality(
    partitions: Sequence[Sequence[str]], n: int, work_dir: str | Path, *,
    exact_limit: int = EXACT_LIMIT, samples: int = SAMPLES, seed: int = 0,
    map_fn: MapFn[Any] = run_here, batch_rows: int = BATCH_ROWS,
    sources_per_round: int = SOURCES_PER_PASS,
) -> NDArray[np.float64]:
    """Harmonic centrality (incoming) of every node, over the partitions: the sources of
    ``rank.harmonic_sources`` (exact up to ``exact_limit`` nodes, else ``samples`` drawn with
    ``seed``), searched ``sources_per_round`` at a time (256: 32 bytes of frontier a node;
    64: 8 bytes), one round of tasks per level."""
    folder = Path(work_dir) / "harmonic"
    folder.mkdir(parents=True, exist_ok=True)
    if n == 0:
        return np.zeros(0)
    sources, scale = harmonic_sources(n, exact_limit=exact_limit, samples=samples, seed=seed)
    total = np.zeros(n)
    for first in range(0, len(sources), sources_per_round):
        _search(partitions, n, sources[first : first + sources_per_round], total, folder,
                map_fn, batch_rows)
    if scale != 1.0:
        total *= scale
    return total


def _search(
    partitions: Sequence[Sequence[str]], n: int, sources: NDArray[np.int64],
    total: NDArray[np.float64], folder: Path, map_fn: MapFn[Any], batch_rows: int,
) -> None:
    """One bit-parallel search, a round of tasks a level. The driver holds the bits that
    have reached each node and the bits arriving at this level (8 x words bytes a node
    each); the next frontier goes straight into its file, ``_CHUNK_NODES`` nodes at a time."""
    reached = Reached(n, sources, total)
    arriving = np.zeros_like(reached.visited)
    touched = np.zeros(n, dtype=bool)
    frontier_file, active_file = str(folder / "frontier.npy"), str(folder / "active.npy")
    frontier, active = _new_frontier(frontier_file, n, reached.words)
    frontier[sources] = reached.visited[sources]
    active[sources] = True
    has_frontier = len(sources) > 0
    level = 0
    while has_frontier:
        level += 1
        _close_frontier(frontier_file, frontier, active_file, active)
        del frontier
        round_folder = folder / f"level-{level:05d}"
        round_folder.mkdir(exist_ok=True)
        outputs: list[str | None] = map_fn([
            functools.partial(frontier_step, list(files), frontier_file, active_file,
                              str(round_folder / f"part-{i:05d}.npy"), batch_rows=batch_rows)
            for i, files in enumerate(partitions)
        ])
        for output in outputs:
            if output is not None:
                rows = _open(output)
                ids = rows[:, 0].astype(np.int64)
                arriving[ids] |= rows[:, 1:]
                touched[ids] = True
                del rows, ids
        shutil.rmtree(round_folder)
        frontier, active = _new_frontier(frontier_file, n, reached.words)
        has_frontier = False
        dsts = np.flatnonzero(touched)
        for first in range(0, len(dsts), _CHUNK_NODES):
            chunk = dsts[first : first + _CHUNK_NODES]
            nodes, bits = reached.absorb(level, chunk, arriving[chunk])
            frontier[nodes] = bits
            active[nodes] = True
            has_frontier = has_frontier or len(nodes) > 0
            arriving[chunk] = 0
        touched[dsts] = False
        del dsts
    del frontier
    for name in ("frontier.npy", "active.npy", "frontier.npy.partial.npy",
                 "active.npy.partial.npy"):
        (folder / name).unlink(missing_ok=True)


def _new_frontier(frontier_file: str, n: int,
                  words: int) -> tuple[np.memmap[Any, Any], NDArray[np.bool_]]:
    """An empty frontier (bits of no node) being written beside ``frontier_file``."""
    frontier = np.lib.format.open_memmap(f"{frontier_file}.partial.npy", "w+", np.uint64,
                                         (n, words))
    return frontier, np.zeros(n, dtype=bool)


def _close_frontier(frontier_file: str, frontier: np.memmap[Any, Any], active_file: str,
                    active: NDArray[np.bool_]) -> None:
    """The frontier being written made the one the level's tasks read."""
    frontier.flush()
    Path(f"{frontier_file}.partial.npy").replace(frontier_file)
    _save(active_file, active)


# -- edge files for tests and benchmarks ------------------------------------------------------


def write_partitions(
    src: NDArray[np.int64], dst: NDArray[np.int64], n: int, folder: str | Path, parts: int, *,
    by: str = "dst", weights: NDArray[np.float64] | None = None, files_per_part: int = 1,
) -> list[list[str]]:
    """Edges split into ``parts`` partitions of equal id ranges of ``by`` (``src``, ``dst``,
    or ``edge``: round robin, no order at all), each in ``files_per_part`` Parquet files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if by == "edge":
        part_of = np.arange(len(src)) % parts
    elif by in ("src", "dst"):
        ids = src if by == "src" else dst
        part_of = np.minimum(ids * parts // max(n, 1), parts - 1)
    else:
        raise ValueError(f"partition by src, dst or edge, not {by!r}")
    partitions: list[list[str]] = []
    for part in range(parts):
        picked = np.flatnonzero(part_of == part)
        files = []
        for piece, rows in enumerate(np.array_split(picked, files_per_part)):
            columns: dict[str, Any] = {"src": src[rows], "dst": dst[rows]}
            if weights is not None:
                columns["weight"] = weights[rows]
            path = folder / f"edges-{part:04d}-{piece:03d}.parquet"
            pl.DataFrame(columns, schema_overrides={"src": pl.Int64, "dst": pl.Int64}) \
                .write_parquet(path)
            files.append(str(path))
        partitions.append(files)
    return partitions

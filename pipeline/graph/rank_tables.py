"""The authority columns of the ``hosts`` and ``domains`` tables, three ways.

- **In this process** (rank.py through ``tables.with_ranks``) when the graph's estimated
  memory (:func:`in_memory_mb`) fits ``aggregate_memory_mb``: every graph of the bundled
  sample and of the tests, and the answers every earlier release published.
- **Over partitions** (partitioned_rank.py) when it does not, or when ``rank_method`` is
  ``partitions``: no task holds the graph. The nodes get integer ids without a global sort:
  the hosts of node partition q (the table's file ``hosts/p000q.parquet``, sorted by name)
  get ``offset(q) + their row number``, so every partition's ids are one contiguous range.
  Three rounds of tasks then turn the named edges into id edges partitioned by their
  destination's range, as partitioned_rank.py reads best: (1) each edge file split by its
  source's node partition, (2) each node partition names its sources' ids and splits the
  edges again by their destination's partition, (3) each node partition names its
  destinations' ids. PageRank and harmonic centrality run as rounds of tasks over those
  edges; the driver holds vectors of the nodes (about 200 bytes a node at its peak, in the
  search: the bits that reached each node, the bits arriving, the next frontier), never an
  edge; positions and authority come from the combined vectors, and (4) each node
  partition writes its table file back with its slice. Every round reads its edges in
  batches sized from ``aggregate_memory_mb`` (:func:`batch_rows`).
- **From Common Crawl's ranks files** (ranks_file.py) when ``ranks_file`` is set.

PageRank over partitions equals the in-memory PageRank to about 1e-12 (same iterations and
stopping rule, a different order of summation). Harmonic centrality is the same function of
the same graph, but the estimate above ``harmonic_exact_nodes`` draws its sources by node
id, and the ids differ from the in-memory ones (sorted names): the same estimator with
other sampled sources. Exact (small) graphs agree to about 1e-12.

Every round is a list of zero-argument calls given to ``map_fn`` (partitioned_rank.run_here
in this process; the flow submits each as a task on the run's task runner). The work files
live in a local folder every task must see (``work_dir``).
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipeline.config import Settings
from pipeline.graph import partitioned_rank
from pipeline.graph.partitioned_rank import MapFn, run_here
from pipeline.graph.rank import authority, rank_positions
from pipeline.graph.ranks_file import ranks_from_file
from pipeline.graph.tables import GraphOptions, with_ranks
from pipeline.partitions import PARTITION_COLUMN, partition_name, partition_series
from pipeline.storage import Folder

RANK_COLUMNS = ("pagerank", "harmonic", "pagerank_position", "harmonic_position", "authority")
RANK_METHODS = ("auto", "memory", "partitions")
# Peak memory of the in-memory ranks above the process's own, edges read from Parquet
# (measured from 50k hosts and 500k edges to 1M and 10M: 49 MiB + 104 bytes an edge + 156
# a node, +-50 MiB; bench/ranks.py --tables): rounded up.
IN_MEMORY_BASE_MB = 96
IN_MEMORY_BYTES_PER_EDGE = 128
IN_MEMORY_BYTES_PER_NODE = 256
# Edges one task of a round takes (read in batches): consecutive files or node partitions
# are grouped until a group has this many, so a small graph does not pay a task per
# partition. Sets the task count only; the batches set a task's memory.
EDGES_PER_TASK = 4_000_000
# A task's memory: a worker's Python, numpy, Polars and the pipeline (98 MiB measured),
# rounded up, then per edge of a batch: with host names (rounds 1-3; 410 bytes measured at
# 624k edges) and with ids (PageRank and the searches), rounded up. bench/ranks.py --tables.
TASK_BASE_MB = 128
NAMED_EDGE_BYTES = 512
ID_EDGE_BYTES = 256
MIN_BATCH_ROWS = 1_000


def batch_rows(memory_mb: int, edge_bytes: int) -> int:
    """Edges a task of a round reads at a time so that it stays within ``memory_mb``."""
    return max(MIN_BATCH_ROWS, (memory_mb - TASK_BASE_MB) * 2**20 // edge_bytes)


@dataclass(frozen=True)
class RankedTable:
    """A table of nodes ranked over the graph of an edges table."""

    table: str
    key: str
    edges: str
    src: str
    dst: str


HOSTS = RankedTable("hosts", "host", "host_edges", "src_host", "dst_host")
DOMAINS = RankedTable("domains", "domain", "domain_edges", "src_domain", "dst_domain")


def in_memory_mb(nodes: int, edges: int) -> float:
    """The estimated peak memory (MiB) of ranking a graph in this process."""
    return (IN_MEMORY_BASE_MB + (IN_MEMORY_BYTES_PER_EDGE * edges
                                 + IN_MEMORY_BYTES_PER_NODE * nodes) / 2**20)


def choose_rank_method(method: str, nodes: int, edges: int, memory_mb: int) -> str:
    """``memory`` or ``partitions``: as ``method`` says, or for ``auto`` memory when
    :func:`in_memory_mb` of the graph fits ``memory_mb``."""
    if method not in RANK_METHODS:
        raise ValueError(f"rank_method must be auto, memory or partitions, not {method!r}")
    if method != "auto":
        return method
    return "memory" if in_memory_mb(nodes, edges) <= memory_mb else "partitions"


def table_files(graph: Folder, table: str) -> list[str]:
    """The files of ``table`` in a graph folder, relative to it, in partition order."""
    return [f"{table}/{name}" for name in sorted(graph.store.files(graph.name_of(table)))
            if name.endswith(".parquet") and "/" not in name]


def _rows(graph: Folder, files: list[str]) -> int:
    if not files:
        return 0
    return int(graph.scan(files).select(pl.len()).collect().item())


def rank_table(
    graph: Folder, spec: RankedTable, options: GraphOptions, partitions: int, work_dir: Path,
    *, ranks_file: str = "", settings: Settings | None = None, map_fn: MapFn[Any] = run_here,
    report: Callable[[str], None] | None = None,
) -> tuple[str, int]:
    """Rank the nodes of ``spec.table`` and write them back, partition by partition. Returns
    how (``memory``, ``partitions`` or ``file``) and the nodes left unranked (those a ranks
    file does not name; 0 otherwise). ``report`` hears a line when ranking over partitions
    begins (it takes a while: a round of tasks per PageRank iteration and search level)."""
    files = table_files(graph, spec.table)
    if ranks_file:
        nodes = _nodes(graph, files, spec.key)
        ranked, unranked = ranks_from_file(nodes, spec.key, ranks_file,
                                           settings or Settings.defaults())
        ranked = ranked.select(*nodes.columns, *(c for c in ranked.columns
                                                if c not in nodes.columns))
        _write_back(graph, files, spec.key, ranked)
        return "file", unranked
    edge_files = table_files(graph, spec.edges)
    auto = options.rank_method == "auto"  # only auto needs the graph's size
    method = choose_rank_method(options.rank_method, _rows(graph, files) if auto else 0,
                                _rows(graph, edge_files) if auto else 0,
                                options.aggregate_memory_mb)
    if method == "memory":
        nodes = _nodes(graph, files, spec.key)
        ranked = with_ranks(nodes, spec.key, graph.scan(edge_files), spec.src, spec.dst,
                            options)
        _write_back(graph, files, spec.key, ranked)
    else:
        rank_over_partitions(graph, spec, options, partitions, work_dir / spec.table,
                             map_fn=map_fn, report=report)
    return method, 0


def _nodes(graph: Folder, files: list[str], key: str) -> pl.DataFrame:
    return graph.scan(files).drop(*RANK_COLUMNS).collect().sort(key)


def _write_back(graph: Folder, files: list[str], key: str, ranked: pl.DataFrame) -> None:
    for name in files:
        names = graph.scan(name).select(key).collect()[key]
        graph.write(ranked.filter(pl.col(key).is_in(names.implode())), name,
                    compression="zstd")


# -- over partitions ------------------------------------------------------------------------


def node_file(spec: RankedTable, partition: int) -> str:
    return f"{spec.table}/{partition_name(partition)}.parquet"


def rank_over_partitions(
    graph: Folder, spec: RankedTable, options: GraphOptions, partitions: int, work_dir: Path,
    *, map_fn: MapFn[Any] = run_here, edges_per_task: int = EDGES_PER_TASK,
    report: Callable[[str], None] | None = None,
) -> None:
    """The ranks of ``spec.table`` without holding its graph (see the module docstring);
    ``work_dir`` is emptied and removed at the end. Each task takes consecutive files or
    node partitions holding about ``edges_per_task`` edges (a small graph: a task a round)."""
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    named_rows = batch_rows(options.aggregate_memory_mb, NAMED_EDGE_BYTES)
    id_rows = min(partitioned_rank.BATCH_ROWS,
                  batch_rows(options.aggregate_memory_mb, ID_EDGE_BYTES))
    counts = [_rows(graph, [node_file(spec, q)]) for q in range(partitions)]
    offsets = [int(offset) for offset in np.concatenate([[0], np.cumsum(counts)])]
    n = offsets[-1]
    edge_files = table_files(graph, spec.edges)
    file_edges = [_rows(graph, [name]) for name in edge_files]
    expected = sum(file_edges)
    if report is not None:
        report(f"ranking {n:,} {spec.table} and {expected:,} {spec.edges.replace('_', ' ')} "
               "over partitions: a round of tasks per PageRank iteration and search level")
    map_fn([functools.partial(split_by_source, graph, spec, [edge_files[i] for i in group],
                              partitions, str(work_dir), named_rows)
            for group in consecutive_groups(file_edges, edges_per_task)])
    # node partitions grouped by their share of the edges (by their share of the nodes)
    node_groups = consecutive_groups([expected * count / max(n, 1) for count in counts],
                                     edges_per_task)
    named = map_fn([functools.partial(name_sources, graph, spec, group,
                                      [offsets[q] for q in group], partitions, str(work_dir),
                                      named_rows)
                    for group in node_groups])
    edges = [count for counts_of_group in map_fn([
        functools.partial(name_destinations, graph, spec, group, [offsets[q] for q in group],
                          str(work_dir), named_rows)
        for group in node_groups]) for count in counts_of_group]
    if sum(named) != expected or sum(edges) != expected:
        raise ValueError(f"{spec.edges}: {expected:,} edges, but {sum(named):,} sources and "
                         f"{sum(edges):,} destinations are nodes of {spec.table}")
    groups = [[file for q in group for file in _pieces(work_dir / "edges" / partition_name(q))]
              for group in edge_groups(edges, edges_per_task)]
    page_rank = partitioned_rank.pagerank(groups, n, work_dir, weighted=options.rank_weighted,
                                          map_fn=map_fn, batch_rows=id_rows).values
    harmonic = partitioned_rank.harmonic_centrality(
        groups, n, work_dir, exact_limit=options.harmonic_exact_nodes,
        samples=options.harmonic_samples, map_fn=map_fn, batch_rows=id_rows)
    vectors = work_dir / "ranks"
    vectors.mkdir()
    for name, values in (("pagerank", page_rank), ("harmonic", harmonic),
                         ("pagerank_position", rank_positions(page_rank)),
                         ("harmonic_position", rank_positions(harmonic)),
                         ("authority", authority(harmonic))):
        np.save(vectors / f"{name}.npy", values)
    del page_rank, harmonic
    map_fn([functools.partial(write_ranks, graph, spec, group, [offsets[q] for q in group],
                              str(vectors))
            for group in node_groups])
    shutil.rmtree(work_dir)


def consecutive_groups(weights: Sequence[float], target: float) -> list[list[int]]:
    """The indexes of ``weights`` in order, cut into groups that each close once they hold
    ``target`` (every index in one group; none when there are no weights)."""
    groups: list[list[int]] = []
    held = target
    for index, weight in enumerate(weights):
        if held >= target:
            groups.append([])
            held = 0
        groups[-1].append(index)
        held += weight
    return groups


def edge_groups(edges: Sequence[int], edges_per_task: int) -> list[list[int]]:
    """Consecutive node partitions with edges into them, grouped by
    :func:`consecutive_groups`: each group's id edges are a partition PageRank and the
    searches run over."""
    with_edges = [q for q, count in enumerate(edges) if count]
    return [[with_edges[i] for i in group]
            for group in consecutive_groups([edges[q] for q in with_edges], edges_per_task)]


def _split_write(frame: pl.DataFrame, column: str, partitions: int, folder: Path,
                 name: str) -> None:
    # every file name sorts in the order of its rows: the next round reads them in order
    """``frame`` split by the node partition of ``column``: ``folder/p000q/name``."""
    if frame.height == 0:
        return
    split = frame.with_columns(partition_series(frame[column], partitions))
    for (partition,), rows in split.partition_by(PARTITION_COLUMN, as_dict=True).items():
        target = folder / partition_name(int(partition))
        target.mkdir(parents=True, exist_ok=True)
        rows.drop(PARTITION_COLUMN).write_parquet(target / name)


def split_by_source(graph: Folder, spec: RankedTable, edge_files: list[str], partitions: int,
                    work_dir: str, rows: int) -> None:
    """Round 1, for some files of the edges table: their edges (names and link counts) split
    by their source's node partition, ``rows`` at a time."""
    for edges_file in edge_files:
        batches = graph.scan(edges_file).select(
            pl.col(spec.src).alias("src"), pl.col(spec.dst).alias("dst"),
            pl.col("links").cast(pl.Float64).alias("weight"),
        ).collect_batches(chunk_size=rows)
        stem = edges_file.removesuffix(".parquet").replace("/", "-")
        for number, batch in enumerate(batches):
            _split_write(batch, "src", partitions, Path(work_dir) / "by-src",
                         f"{stem}-{number:06d}.parquet")


def _ids(graph: Folder, spec: RankedTable, partition: int, offset: int) -> pl.DataFrame:
    """The ids of node partition ``partition``: ``offset`` + row number in name order."""
    names = graph.scan(node_file(spec, partition)).select(spec.key).collect().sort(spec.key)
    return names.with_row_index("id", offset).with_columns(pl.col("id").cast(pl.Int64))


def _named(pieces: list[str], ids: pl.DataFrame, column: str, key: str,
           rows: int) -> Iterator[pl.DataFrame]:
    """The edges of ``pieces``, ``rows`` at a time, with ``column`` replaced by its id (in
    the pieces' order: the same edge order every time, so the same sums)."""
    for batch in pl.scan_parquet(pieces, glob=False).collect_batches(chunk_size=rows):
        yield (batch.join(ids, left_on=column, right_on=key, maintain_order="left")
               .with_columns(pl.col("id").alias(column)).select("src", "dst", "weight"))


def _pieces(folder: Path) -> list[str]:
    return sorted(str(path) for path in folder.glob("*.parquet")) if folder.is_dir() else []


def name_sources(graph: Folder, spec: RankedTable, node_partitions: list[int],
                 offsets: list[int], partitions: int, work_dir: str, rows: int) -> int:
    """Round 2, for some node partitions: the ids of the sources of their edges; the edges
    split again by their destination's node partition. Returns the edges named."""
    return sum(_name_sources(graph, spec, partition, offset, partitions, work_dir, rows)
               for partition, offset in zip(node_partitions, offsets, strict=True))


def _name_sources(graph: Folder, spec: RankedTable, partition: int, offset: int,
                  partitions: int, work_dir: str, rows: int) -> int:
    pieces = _pieces(Path(work_dir) / "by-src" / partition_name(partition))
    if not pieces:
        return 0
    named = 0
    ids = _ids(graph, spec, partition, offset)
    for number, batch in enumerate(_named(pieces, ids, "src", spec.key, rows)):
        _split_write(batch, "dst", partitions, Path(work_dir) / "by-dst",
                     f"{partition_name(partition)}-{number:06d}.parquet")
        named += batch.height
    return named


def name_destinations(graph: Folder, spec: RankedTable, node_partitions: list[int],
                      offsets: list[int], work_dir: str, rows: int) -> list[int]:
    """Round 3, for some node partitions: the ids of the destinations of the edges into
    each, written to ``edges/p000q/`` (integer ``src``, ``dst``, float ``weight``), ``rows``
    at a time. Returns the edges of each."""
    return [_name_destinations(graph, spec, partition, offset, work_dir, rows)
            for partition, offset in zip(node_partitions, offsets, strict=True)]


def _name_destinations(graph: Folder, spec: RankedTable, partition: int, offset: int,
                       work_dir: str, rows: int) -> int:
    pieces = _pieces(Path(work_dir) / "by-dst" / partition_name(partition))
    if not pieces:
        return 0
    named = 0
    target = Path(work_dir) / "edges" / partition_name(partition)
    target.mkdir(parents=True, exist_ok=True)
    ids = _ids(graph, spec, partition, offset)
    for number, batch in enumerate(_named(pieces, ids, "dst", spec.key, rows)):
        batch.write_parquet(target / f"{number:06d}.parquet")
        named += batch.height
    return named


def write_ranks(graph: Folder, spec: RankedTable, node_partitions: list[int],
                offsets: list[int], vectors: str) -> None:
    """Round 4, for some node partitions: each table file with its slice of the rank
    vectors."""
    for partition, offset in zip(node_partitions, offsets, strict=True):
        name = node_file(spec, partition)
        nodes = graph.scan(name).drop(*RANK_COLUMNS).collect().sort(spec.key)
        span = slice(offset, offset + nodes.height)
        columns = [pl.Series(column, np.load(Path(vectors) / f"{column}.npy", mmap_mode="r")[span])
                   for column in RANK_COLUMNS]
        graph.write(nodes.with_columns(columns), name, compression="zstd")

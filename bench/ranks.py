"""Rank computation time and peak memory on a generated host graph (default 1 million
hosts, 10 million edges, targets drawn from a power law), and the sampled harmonic
centrality against the exact one where both run.

    python3 -m uv run --frozen --extra bench python bench/ranks.py [--hosts N] [--edges M]
        [--samples K] [--compare N] [--versus N]
    ... bench/ranks.py --scaling [--sizes 2000,20000,200000,1000000]
    ... bench/ranks.py --versus-exact 20000 [--seeds 3]
    ... bench/ranks.py --partitioned 1000000 [--parts 16]
    ... bench/ranks.py --tables 1000000 [--parts 16] [--memory-mb 384]

Default: the bare functions on integer ids; ``graph_ranks`` as aggregation runs it (host
names joined to ids with Polars, PageRank, harmonic centrality, positions, authority) with
the default settings; and, on an N-node graph (default 20,000), the sampled estimate
against the exact values. ``--versus N`` (needs ``--extra test`` for networkx) times
networkx on an N-node graph against the same functions, the measurement behind choosing
scipy.sparse. Prints one table: seconds and peak RSS (VmHWM, of this process so far) per
measurement.

``--scaling``: ``graph_ranks`` with the default settings on graphs of 2k, 20k, 200k and 1M
hosts (10 edges a host): seconds per host, wall and CPU, and each size's CPU cost per host
against the smallest's (the issue's target: within 1.5x).

``--versus-exact N``: on an N-node graph, the exact harmonic centrality against the
estimates from 64, 256 and 1,024 sources of the in-memory search (rank.py), of the search
over edge partitions (partitioned_rank.py) and of the previous estimator (scipy, one
search per source); error over the 100 most central nodes and in authority points, the
mean over ``--seeds`` draws of the sources.

``--partitioned N``: PageRank and harmonic centrality over ``--parts`` edge partitions
(Parquet, by destination id range) against the in-memory functions: time, largest
difference, and the peak RSS of the largest task (run in worker processes) beside the peak
of ranking in one process.

``--tables N``: the product's finish step (rank_tables.py) on a graph folder of N named
hosts and 10 N host edges in ``--parts`` partitions, once with ``rank_method = memory`` and
once with ``partitions`` (tasks in 2 worker processes, ``--memory-mb`` the memory setting),
each in a fresh process: seconds, the in-memory estimate against the setting, peak RSS of
the in-memory ranking, of the largest task and of the driver, and the largest difference of
the two PageRanks.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.sparse.csgraph import shortest_path

from pipeline.graph import partitioned_rank
from pipeline.graph.rank import (
    EXACT_LIMIT,
    SAMPLES,
    adjacency,
    authority,
    graph_ranks,
    harmonic_centrality,
    harmonic_sources,
    pagerank,
)


def peak_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(measure: str, seconds: float, note: str = "") -> None:
    print(f"| {measure} | {seconds:.2f} | {peak_mib():.0f} | {note} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--compare", type=int, default=20_000)
    parser.add_argument("--versus", type=int, default=0)
    parser.add_argument("--scaling", action="store_true")
    parser.add_argument("--sizes", default="2000,20000,200000,1000000")
    parser.add_argument("--versus-exact", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--partitioned", type=int, default=0)
    parser.add_argument("--parts", type=int, default=16)
    parser.add_argument("--tables", type=int, default=0)
    parser.add_argument("--memory-mb", type=int, default=384)
    args = parser.parse_args()
    if args.tables:
        tables(args.tables, args.parts, args.memory_mb)
        return
    if args.scaling:
        scaling([int(size) for size in args.sizes.split(",")])
        return
    if args.versus_exact:
        versus_exact(args.versus_exact, args.seeds)
        return
    if args.partitioned:
        partitioned(args.partitioned, args.parts)
        return
    print("| measure | seconds | peak MiB | notes |")
    print("|---|---:|---:|---|")
    if args.versus:
        versus(args.versus)
        return
    n, m = args.hosts, args.edges
    started = time.perf_counter()
    src, dst = power_law_graph(n, m, seed=7)
    row("generated graph", time.perf_counter() - started, f"{n:,} hosts, {len(src):,} edges")
    started = time.perf_counter()
    ranks = pagerank(src, dst, n)
    row("pagerank", time.perf_counter() - started, f"sum {ranks.sum():.6f}")
    started = time.perf_counter()
    harmonic_centrality(src, dst, n, exact_limit=0, samples=args.samples)
    row(f"harmonic centrality, {args.samples} sampled sources", time.perf_counter() - started)
    names, edges = named_graph(n, src, dst)
    started = time.perf_counter()
    table = graph_ranks(names, edges)
    row(f"graph_ranks (names, pagerank, harmonic with {SAMPLES} samples, positions, "
        "authority)", time.perf_counter() - started, f"{table.height:,} rows")
    compare(args.compare)


def power_law_graph(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """m edges from uniform sources to power-law targets (a few hosts get most links)."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, m)
    dst = (n * rng.power(0.3, m)).astype(np.int64).clip(0, n - 1)
    keep = src != dst
    return src[keep], dst[keep]


def named_graph(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[pl.Series, pl.DataFrame]:
    """Host names and the edge frame between them, as aggregation hands graph_ranks."""
    names = pl.Series("name", [f"h{i}.site{i % 250_000}.example" for i in range(n)])
    edges = pl.DataFrame({"src": names.gather(src), "dst": names.gather(dst),
                          "weight": np.ones(len(src), dtype=np.int64)})
    return names, edges


def compare(n: int) -> None:
    """Sampled against exact harmonic centrality on an n-node graph with 10 edges a node."""
    src, dst = power_law_graph(n, 10 * n, seed=11)
    started = time.perf_counter()
    exact = harmonic_centrality(src, dst, n, exact_limit=n)
    row("exact harmonic centrality", time.perf_counter() - started,
        f"{n:,} nodes, {len(src):,} edges")
    k = min(100, n)
    top = np.argsort(-exact)[:k]
    for samples in (64, 256, 1024):
        started = time.perf_counter()
        estimate = harmonic_centrality(src, dst, n, exact_limit=0, samples=samples)
        error = np.abs(estimate[top] - exact[top]) / exact[top]
        overlap = len(set(np.argsort(-estimate)[:k]) & set(top))
        row(f"sampled harmonic centrality, {samples:,} samples",
            time.perf_counter() - started,
            f"relative error of the top {k}: mean {error.mean():.2%}, max {error.max():.2%}; "
            f"top-{k} overlap {overlap / k:.0%}")


def versus(n: int) -> None:
    """networkx against pipeline.graph.rank on the same n-node graph (10 edges a node)."""
    import networkx as nx

    src, dst = power_law_graph(n, 10 * n, seed=5)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    for label, run in (
        ("pagerank, pipeline.graph.rank", lambda: pagerank(src, dst, n)),
        ("pagerank, networkx", lambda: nx.pagerank(graph, tol=1e-10)),
        ("harmonic exact, pipeline.graph.rank", lambda: harmonic_centrality(src, dst, n, exact_limit=n)),
        ("harmonic exact, networkx", lambda: nx.harmonic_centrality(graph)),
    ):
        started = time.perf_counter()
        run()
        row(label, time.perf_counter() - started, f"{n:,} nodes, {len(src):,} edges")


# -- --scaling ----------------------------------------------------------------------------------


def scaling(sizes: Sequence[int]) -> None:
    """graph_ranks with the default settings: cost per host from the smallest size up."""
    print(f"graph_ranks with the defaults (exact harmonic centrality up to {EXACT_LIMIT:,} "
          f"nodes, else {SAMPLES} sampled sources); 10 edges a host; best of the repeats")
    print()
    print("| hosts | edges | repeats | wall s | CPU s | wall µs / host | CPU µs / host "
          "| CPU per host vs the smallest |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    first = 0.0
    for n in sizes:
        src, dst = power_law_graph(n, 10 * n, seed=7)
        names, edges = named_graph(n, src, dst)
        repeats = 7 if n <= 20_000 else 3 if n <= 200_000 else 2
        wall, cpu = float("inf"), float("inf")
        for _ in range(repeats):
            started, started_cpu = time.perf_counter(), time.process_time()
            graph_ranks(names, edges)
            wall = min(wall, time.perf_counter() - started)
            cpu = min(cpu, time.process_time() - started_cpu)
        per_host = cpu / n
        first = first or per_host
        print(f"| {n:,} | {len(src):,} | {repeats} | {wall:.3f} | {cpu:.3f} | "
              f"{wall / n * 1e6:.2f} | {per_host * 1e6:.2f} | {per_host / first:.2f}x |",
              flush=True)


# -- --versus-exact ----------------------------------------------------------------------------


def previous_estimator(src: np.ndarray, dst: np.ndarray, n: int, sources: np.ndarray) -> np.ndarray:
    """The estimator rank.py had before the bit-parallel search: scipy's shortest paths,
    64 sources at a time, one search per source (the same sums from the same sources)."""
    matrix = adjacency(src, dst, n)
    total = np.zeros(n)
    for start in range(0, len(sources), 64):
        distances = shortest_path(matrix, method="D", unweighted=True,
                                  indices=sources[start : start + 64])
        with np.errstate(divide="ignore"):
            np.reciprocal(distances, out=distances)
        distances[np.isinf(distances)] = 0.0
        total += distances.sum(axis=0)
    return total


def versus_exact(n: int, seeds: int) -> None:
    src, dst = power_law_graph(n, 10 * n, seed=11)
    started = time.perf_counter()
    exact = harmonic_centrality(src, dst, n, exact_limit=n)
    exact_seconds = time.perf_counter() - started
    exact_authority = authority(exact)
    top = np.argsort(-exact)[:100]
    folder = Path(tempfile.mkdtemp(prefix="ranks-versus-"))
    partitions = partitioned_rank.write_partitions(src, dst, n, folder / "edges", 4, by="dst")
    print(f"{n:,} nodes, {len(src):,} edges; exact (bit-parallel, every source) "
          f"{exact_seconds:.2f} s; the estimates over {seeds} draws of the sources (mean); "
          "partitioned: 4 partitions by destination, tasks in this process")
    print()
    print("| estimator | sources | seconds | top-100 mean relative error | top-100 max "
          "relative error | top-100 overlap | authority: mean / max abs difference |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    estimators: list[tuple[str, Callable[[int, int], np.ndarray]]] = [
        ("in memory (rank.py)",
         lambda k, seed: harmonic_centrality(src, dst, n, exact_limit=0, samples=k, seed=seed)),
        ("partitioned (partitioned_rank.py)",
         lambda k, seed: partitioned_rank.harmonic_centrality(
             partitions, n, folder / "work", exact_limit=0, samples=k, seed=seed)),
        ("previous (scipy, a search per source)",
         lambda k, seed: previous_estimator(src, dst, n, harmonic_sources(
             n, exact_limit=0, samples=k, seed=seed)[0]) * (n / k)),
    ]
    for samples in (64, 256, 1024):
        results: dict[str, list[np.ndarray]] = {}
        for label, estimate in estimators:
            metrics = []
            for seed in range(seeds):
                started = time.perf_counter()
                values = estimate(samples, seed)
                seconds = time.perf_counter() - started
                results.setdefault(label, []).append(values)
                error = np.abs(values[top] - exact[top]) / exact[top]
                overlap = len(set(np.argsort(-values)[:100].tolist()) & set(top.tolist()))
                points = np.abs(authority(values) - exact_authority)
                metrics.append((seconds, error.mean(), error.max(), overlap, points.mean(),
                                points.max()))
            mean = np.mean(metrics, axis=0)
            print(f"| {label} | {samples:,} | {mean[0]:.2f} | {mean[1]:.2%} | {mean[2]:.2%} | "
                  f"{mean[3]:.0f} | {mean[4]:.2f} / {mean[5]:.1f} |", flush=True)
        same = [np.abs(a - b).max() / np.abs(a).max()
                for a, b in zip(results[estimators[0][0]], results[estimators[1][0]], strict=True)]
        print(f"| (in memory vs partitioned: largest relative difference {max(same):.1e}) "
              "| | | | | | |")
    shutil.rmtree(folder)


# -- --partitioned ---------------------------------------------------------------------------


def _measured(call: Callable[[], Any]) -> tuple[Any, float]:
    """Run one task in a worker process: its result and its peak RSS (the worker's peak
    mark is reset first where Linux allows, so earlier tasks do not count)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass
    result = call()
    return result, peak_mib()


def _name(call: Callable[[], Any]) -> str:
    return getattr(getattr(call, "func", call), "__name__", "task")


def partitioned(n: int, parts: int) -> None:
    src, dst = power_law_graph(n, 10 * n, seed=7)
    folder = Path(tempfile.mkdtemp(prefix="ranks-partitioned-"))
    started = time.perf_counter()
    partitions = partitioned_rank.write_partitions(src, dst, n, folder / "edges", parts, by="dst")
    written = time.perf_counter() - started
    size = sum(os.path.getsize(path) for files in partitions for path in files)
    print(f"{n:,} hosts, {len(src):,} edges in {parts} Parquet partitions by destination "
          f"({size / 2**20:,.0f} MiB, written in {written:.1f} s); vectors: 8 bytes x nodes = "
          f"{8 * n / 2**20:,.1f} MiB")
    print()
    print("| measure | seconds | peak RSS MiB | notes |")
    print("|---|---:|---:|---|")
    started = time.perf_counter()
    expected = pagerank(src, dst, n)
    row("pagerank, in memory (rank.py)", time.perf_counter() - started, "this process")
    started = time.perf_counter()
    result = partitioned_rank.pagerank(partitions, n, folder / "work")
    difference = np.abs(result.values - expected).max()
    row("pagerank, partitioned, tasks in this process", time.perf_counter() - started,
        f"{result.iterations} iterations; largest difference {difference:.1e}")
    samples = min(SAMPLES, n)
    started = time.perf_counter()
    harmonic = harmonic_centrality(src, dst, n, exact_limit=0, samples=samples)
    row(f"harmonic centrality, in memory, {samples} sources", time.perf_counter() - started,
        "this process")
    started = time.perf_counter()
    ours = partitioned_rank.harmonic_centrality(partitions, n, folder / "work", exact_limit=0,
                                                samples=samples)
    row(f"harmonic centrality, partitioned, {samples} sources", time.perf_counter() - started,
        f"largest relative difference {np.abs(ours - harmonic).max() / harmonic.max():.1e}")
    del src, dst, expected, harmonic, ours
    peaks: list[float] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        def in_workers(calls: Sequence[Callable[[], Any]]) -> list[Any]:
            done = list(pool.map(_measured, calls))
            peaks.extend(peak for _, peak in done)
            return [value for value, _ in done]

        idle = pool.submit(_resident_mib).result()  # a worker up, nothing run yet
        started = time.perf_counter()
        result = partitioned_rank.pagerank(partitions, n, folder / "work", map_fn=in_workers)
        row("pagerank, partitioned, tasks in 2 worker processes", time.perf_counter() - started,
            f"largest task peak RSS {max(peaks):,.0f} MiB (a worker's Python, numpy and "
            "Polars included)")
        peaks.clear()
        started = time.perf_counter()
        partitioned_rank.harmonic_centrality(partitions, n, folder / "work", exact_limit=0,
                                             samples=samples, map_fn=in_workers)
        row(f"harmonic centrality, partitioned, {samples} sources, 2 worker processes",
            time.perf_counter() - started, f"largest task peak RSS {max(peaks):,.0f} MiB")
    print(f"\nAn idle worker (Python, numpy, Polars imported): {idle:,.0f} MiB. The driver's "
          "peak is this process's (it also built the graph and ran the in-memory ranks).")
    shutil.rmtree(folder)


def write_graph_folder(n: int, parts: int, folder: Path) -> int:
    """A graph folder of the hosts and host_edges tables (as aggregation leaves them before
    the ranks) of a power-law graph of n named hosts; returns its edge count."""
    from pipeline.graph.tables import NO_RANKS
    from pipeline.partitions import PARTITION_COLUMN, partition_column, partition_name

    src, dst = power_law_graph(n, 10 * n, seed=7)
    names, edges = named_graph(n, src, dst)
    edges = edges.unique(["src", "dst"]).rename({"src": "src_host", "dst": "dst_host",
                                                  "weight": "links"})
    hosts = pl.DataFrame({"host": names})
    for table, frame, key in (("hosts", hosts, "host"), ("host_edges", edges, "dst_host")):
        (folder / table).mkdir(parents=True)
        split = frame.with_columns(partition_column(frame, key, parts))
        for part in range(parts):
            rows = split.filter(pl.col(PARTITION_COLUMN) == part).drop(PARTITION_COLUMN)
            if table == "hosts":
                rows = rows.sort("host").with_columns(*NO_RANKS)
            rows.write_parquet(folder / table / f"{partition_name(part)}.parquet")
    return edges.height


def _rank_hosts(folder: str, parts: int, method: str, memory_mb: int, out: str) -> dict[str, float]:
    """In a fresh process: rank_table of the hosts, with tasks in 2 workers for partitions;
    the host ranks saved to ``out``; seconds and peaks."""
    from pipeline.graph.rank_tables import HOSTS, rank_table
    from pipeline.graph.tables import GraphOptions
    from pipeline.storage import Folder, LocalData

    graph = Folder(LocalData(Path(folder)), "")
    options = GraphOptions(rank_method=method, aggregate_memory_mb=memory_mb)
    baseline = _resident_mib()
    peaks: dict[str, float] = {"": 0.0}
    started = time.perf_counter()
    if method == "memory":
        rank_table(graph, HOSTS, options, parts, Path(folder) / "work")
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
            def in_workers(calls: Sequence[Callable[[], Any]]) -> list[Any]:
                done = list(pool.map(_measured, calls))
                for call, (_, peak) in zip(calls, done, strict=True):
                    peaks[_name(call)] = max(peaks.get(_name(call), 0.0), peak)
                return [value for value, _ in done]

            rank_table(graph, HOSTS, options, parts, Path(folder) / "work", map_fn=in_workers)
    seconds = time.perf_counter() - started
    pl.read_parquet(Path(folder) / "hosts" / "*.parquet").select("host", "pagerank") \
        .write_parquet(out)
    print("largest task by kind (MiB): " + ", ".join(
        f"{name} {peak:,.0f}" for name, peak in peaks.items() if name), flush=True)
    return {"seconds": seconds, "baseline": baseline, "peak": peak_mib(),
            "task": max(peaks.values())}


def tables(n: int, parts: int, memory_mb: int) -> None:
    from pipeline.graph.rank_tables import in_memory_mb

    root = Path(tempfile.mkdtemp(prefix="ranks-tables-"))
    started = time.perf_counter()
    edges = write_graph_folder(n, parts, root / "memory")
    shutil.copytree(root / "memory", root / "partitions")
    print(f"{n:,} named hosts, {edges:,} host edges in {parts} partitions (written in "
          f"{time.perf_counter() - started:.1f} s); in-memory estimate "
          f"{in_memory_mb(n, edges):,.0f} MiB, memory setting {memory_mb:,} MiB")
    print()
    print("| rank_method | seconds | peak RSS MiB (process before: MiB) | largest task MiB |")
    print("|---|---:|---:|---:|")
    context = multiprocessing.get_context("spawn")
    results = {}
    for method in ("memory", "partitions"):
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as one:
            found = one.submit(_rank_hosts, str(root / method), parts, method, memory_mb,
                               str(root / f"{method}.parquet")).result()
        results[method] = found
        task = f"{found['task']:,.0f}" if method == "partitions" else "-"
        print(f"| {method} | {found['seconds']:.3f} | {found['peak']:,.0f} "
              f"({found['baseline']:,.0f}) | {task} |", flush=True)
    joined = pl.read_parquet(root / "memory.parquet").join(
        pl.read_parquet(root / "partitions.parquet"), on="host", suffix="_partitions")
    difference = (joined["pagerank"] - joined["pagerank_partitions"]).abs().max()
    print(f"\nPageRank, partitions against memory: largest difference {difference:.1e} "
          f"(values up to {joined['pagerank'].max():.1e}); a task's peak includes its "
          "worker's Python, numpy and Polars")
    shutil.rmtree(root)


def _resident_mib() -> float:
    """The RSS of a fresh worker process with the modules a task imports."""
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    main()

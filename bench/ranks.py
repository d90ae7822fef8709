"""Rank computation time and peak memory on a generated host graph (default 1 million
hosts, 10 million edges, targets drawn from a power law), and the sampled harmonic
centrality against the exact one where both run.

    python3 -m uv run --frozen --extra bench python bench/ranks.py [--hosts N] [--edges M]
        [--samples K] [--compare N] [--versus N]

Three measurements: the bare functions on integer ids; ``graph_ranks`` as aggregation
runs it (host names joined to ids with Polars, PageRank, harmonic centrality, positions,
authority) with the default 256 samples; and, on an N-node graph (default 20,000, the
exact limit), the sampled estimate against the exact values. ``--versus N`` (needs
``--extra test`` for networkx) times networkx on an N-node graph against the same functions,
the measurement behind choosing scipy.sparse. Prints one table: seconds and peak RSS
(VmHWM, of this process so far) per measurement.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import polars as pl

from pipeline.graph.rank import SAMPLES, graph_ranks, harmonic_centrality, pagerank


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
    args = parser.parse_args()
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
    names = pl.Series("name", [f"h{i}.site{i % 250_000}.example" for i in range(n)])
    edges = pl.DataFrame({"src": names.gather(src), "dst": names.gather(dst),
                          "weight": np.ones(len(src), dtype=np.int64)})
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


if __name__ == "__main__":
    main()

"""Rank computation time and peak memory on a generated host graph (default 1 million
hosts, 10 million edges, targets drawn from a power law), and the sampled harmonic
centrality against the exact one where both run.

    python3 -m uv run --frozen --extra bench python bench/ranks.py [--hosts N] [--edges M]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from pipeline.rank import harmonic_centrality, pagerank


def peak_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    n, m = args.hosts, args.edges
    src = rng.integers(0, n, m)
    dst = (n * rng.power(0.3, m)).astype(np.int64).clip(0, n - 1)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    print(f"graph: {n:,} hosts, {len(src):,} edges; peak so far {peak_mib():.0f} MiB")
    started = time.perf_counter()
    ranks = pagerank(src, dst, n)
    print(f"pagerank: {time.perf_counter() - started:.1f} s, sum {ranks.sum():.6f}, "
          f"peak {peak_mib():.0f} MiB")
    started = time.perf_counter()
    harmonic_centrality(src, dst, n, exact_limit=0, samples=args.samples)
    print(f"harmonic centrality, {args.samples} sampled sources: "
          f"{time.perf_counter() - started:.1f} s, peak {peak_mib():.0f} MiB")


if __name__ == "__main__":
    main()

"""The ranks of the hosts and domains tables over partitions (rank_tables.py) against the
ranks in one process: the same tables but for the last bits of the rank values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from test_aggregate import link, page

from pipeline.graph.aggregate import GraphOptions, aggregate, graph_dir, read_table
from pipeline.graph.rank_tables import (
    HOSTS,
    IN_MEMORY_BASE_MB,
    NAMED_EDGE_BYTES,
    TASK_BASE_MB,
    batch_rows,
    choose_rank_method,
    consecutive_groups,
    edge_groups,
    in_memory_mb,
    rank_over_partitions,
)
from pipeline.parts.part import PartWriter
from pipeline.storage import DataStore, Folder, LocalData

RANKS = ("pagerank", "harmonic", "pagerank_position", "harmonic_position", "authority")


def random_crawl(store: DataStore, partitions: int, hosts: int = 700, seed: int = 7) -> None:
    """Three parts of pages of ``hosts`` hosts (under about 150 registered domains), each
    page linking to a few hosts drawn with a skew, so that some are far more central."""
    rng = np.random.default_rng(seed)
    names = [f"h{i}.d{i % 150}.example" for i in range(hosts)]
    for number in range(3):
        rows = []
        for i in rng.choice(hosts, size=hosts // 2, replace=False):
            src_host, src_domain = names[i], names[i].split(".", 1)[1]
            url = f"https://{src_host}/{number}"
            targets = np.minimum(rng.zipf(1.6, size=rng.integers(1, 7)) - 1, hosts - 1)
            rows.append((page("c1", url, src_host, src_domain),
                         [link("c1", url, src_host, src_domain, names[t], names[t].split(".", 1)[1])
                          for t in targets if names[t] != src_host]))
        with PartWriter(store, f"part{number}", partitions=partitions) as writer:
            for page_row, link_rows in rows:
                writer.add(page_row, link_rows)
            writer.commit({"input": f"part{number}", "size": 1, "version": "1", "crawl": "c1",
                           "records": 1, "counters": {}, "seconds": 0.0})


def ranked_tables(tmp_path: Path, name: str, partitions: int,
                  options: GraphOptions) -> dict[str, pl.DataFrame]:
    data = tmp_path / name
    random_crawl(LocalData(data), partitions)
    summary = aggregate(LocalData(data), options)
    assert summary.partitions == partitions
    return {t: read_table(data, t) for t in ("hosts", "domains", "referrals", "host_edges")}


def assert_same_ranks(memory: pl.DataFrame, partitioned: pl.DataFrame, key: str,
                      untied: int = 40) -> None:
    assert memory.schema == partitioned.schema
    # every other column, and the order of the rows in every file, the same
    assert memory.drop(*RANKS).equals(partitioned.drop(*RANKS))
    for column in ("pagerank", "harmonic"):
        expected, found = memory[column].to_numpy(), partitioned[column].to_numpy()
        assert expected.max() > 0
        np.testing.assert_allclose(found, expected, rtol=1e-9, atol=0)
    # positions the same, except among values equal to their last bits (ties, broken either
    # way by another order of summation): a node may move only within its group of those
    for column, value in (("pagerank_position", "pagerank"), ("harmonic_position", "harmonic")):
        close = near_ties(memory[value].to_numpy())
        assert (close == 1).sum() >= untied, f"{key}: too few untied {value}s to compare"
        moved = np.abs(memory[column].to_numpy() - partitioned[column].to_numpy())
        assert (moved < close).all(), column
    close = near_ties(memory["harmonic"].to_numpy())
    moved = np.abs(memory["authority"].to_numpy() - partitioned["authority"].to_numpy())
    assert (moved <= np.round(100 * (close - 1) / (len(close) - 1), 1) + 1e-9).all()


def near_ties(values: np.ndarray) -> np.ndarray:
    """For each value, how many values (itself included) are equal to it to 1e-12."""
    ordered = np.sort(values)
    low = np.searchsorted(ordered, values - 1e-12 * np.abs(values), side="left")
    high = np.searchsorted(ordered, values + 1e-12 * np.abs(values), side="right")
    return high - low

@pytest.mark.parametrize("partitions", [1, 5])
def test_ranks_over_partitions_are_the_ranks_in_one_process(tmp_path: Path,
                                                            partitions: int) -> None:
    options = GraphOptions(harmonic_exact_nodes=5_000)  # exact: the same function of the graph
    memory = ranked_tables(tmp_path, "memory", partitions, replace(options, rank_method="memory"))
    partitioned = ranked_tables(tmp_path, "partitions", partitions,
                                replace(options, rank_method="partitions"))
    assert memory["hosts"].height > 600 and memory["host_edges"].height > 1_000
    assert_same_ranks(memory["hosts"], partitioned["hosts"], "host")
    assert_same_ranks(memory["domains"], partitioned["domains"], "domain")
    # the referrals carry the referring domains' authority from the ranked domains
    assert memory["referrals"].equals(partitioned["referrals"])
    manifest = (graph_dir(tmp_path / "partitions") / "manifest.json").read_text()
    assert '"hosts": "partitions"' in manifest and '"domains": "partitions"' in manifest
    # nothing of the ranks' work is left in the graph
    assert not (graph_dir(tmp_path / "partitions") / "work").exists()
    # the same graph ranked again gives the same values, to the last bit
    again = ranked_tables(tmp_path, "again", partitions, replace(options, rank_method="partitions"))
    assert again["hosts"].equals(partitioned["hosts"])
    assert again["domains"].equals(partitioned["domains"])


def test_a_small_memory_setting_reads_every_round_in_small_batches(tmp_path: Path) -> None:
    """With the memory setting just above a task's base every round reads a couple of
    thousand edges at a time (many files between the rounds): the same ranks."""
    options = GraphOptions(harmonic_exact_nodes=5_000, rank_method="partitions")
    data = tmp_path / "data"
    random_crawl(LocalData(data), 3)
    aggregate(LocalData(data), options)
    before = read_table(data, "hosts")
    written = {path: path.stat().st_mtime_ns for path in (graph_dir(data) / "hosts").iterdir()}
    small = replace(options, aggregate_memory_mb=TASK_BASE_MB + 1)
    assert batch_rows(small.aggregate_memory_mb, NAMED_EDGE_BYTES) < 2_500
    graph = Folder(LocalData(data), "graph")
    work = tmp_path / "work"
    rank_over_partitions(graph, HOSTS, small, 3, work, edges_per_task=1_000)
    after = read_table(data, "hosts")
    assert all(path.stat().st_mtime_ns > mtime for path, mtime in written.items())
    assert_same_ranks(before, after, "host")
    assert not work.exists()


def test_the_harmonic_estimate_over_partitions_is_close_to_exact(tmp_path: Path) -> None:
    exact = ranked_tables(tmp_path, "exact", 4,
                          GraphOptions(harmonic_exact_nodes=5_000, rank_method="partitions"))
    estimate = ranked_tables(tmp_path, "estimate", 4,
                             GraphOptions(harmonic_exact_nodes=100, harmonic_samples=256,
                                          rank_method="partitions"))
    joined = exact["hosts"].join(estimate["hosts"], on="host", suffix="_estimate")
    top = joined.sort("harmonic", descending=True).head(20)
    error = ((top["harmonic_estimate"] - top["harmonic"]).abs() / top["harmonic"]).mean()
    assert 0 < error < 0.15  # an estimate (not the exact values), and a close one
    # PageRank does not depend on the harmonic setting
    np.testing.assert_allclose(joined["pagerank_estimate"], joined["pagerank"], rtol=1e-12)


def test_auto_ranks_in_memory_only_what_fits_the_memory_setting() -> None:
    assert in_memory_mb(0, 0) == IN_MEMORY_BASE_MB
    assert in_memory_mb(1_000_000, 10_000_000) > in_memory_mb(1_000_000, 1_000_000)
    assert choose_rank_method("auto", 1_000, 10_000, 2048) == "memory"
    assert choose_rank_method("auto", 10_000_000, 100_000_000, 2048) == "partitions"
    big = 10_000_000
    assert choose_rank_method("memory", big, 10 * big, 512) == "memory"  # as told
    assert choose_rank_method("partitions", 10, 10, 512) == "partitions"
    with pytest.raises(ValueError, match="rank_method must be auto, memory or partitions"):
        choose_rank_method("fast", 10, 10, 512)


def test_edge_groups_hold_consecutive_partitions_of_about_the_edges_per_task() -> None:
    assert consecutive_groups([5, 0, 3, 4, 0, 9, 1], 6) == [[0, 1, 2], [3, 4, 5], [6]]
    assert consecutive_groups([7, 7, 7], 6) == [[0], [1], [2]]
    assert consecutive_groups([], 6) == []
    # partitions without edges into them are no partition of the ranks
    assert edge_groups([5, 0, 3, 4, 0, 9, 1], edges_per_task=6) == [[0, 2], [3, 5], [6]]
    assert edge_groups([0, 0], edges_per_task=6) == []

"""Aggregate parts into the graph tables, one partition per task, each byte read once.

Inputs: every complete part of the data location, its rows already split into the
location's P partitions (pipeline/partitions.py: links by the target's registered domain,
pages by host). Outputs, in the graph folder (``graph/`` locally, ``graphs/<id>/`` in S3),
each table a folder of one Parquet file per partition (``links/p0007.parquet``):

- ``pages``        one crawled HTML page per (crawl, url): the latest capture wins
- ``links``        one link occurrence between two different hosts, from the kept pages,
                   with its ``sitewide`` and ``dofollow`` flags; partition = target domain
- ``host_edges``   one row per (src_host, dst_host); partition = target domain
- ``domain_edges`` one row per (src_domain, dst_domain), src_domain <> dst_domain
- ``hosts``        one row per host seen as a source or a target; partition = host
- ``domains``      one row per registered domain of those hosts; partition = domain
- ``crawls``       one row per crawl in the graph (one file)
- ``referrals``    one row per (dst_domain, referring domain) of the external links, with
                   the referring domain's authority; partition = target domain
- ``domain_profiles`` one row per registered domain with external links into it (the
                   counts of link_profile); partition = target domain

The steps, each a task per group of partitions (the flow runs them on its task runner):

0. ``plan_aggregation`` (a task a slice of PLAN_SLICE_PARTS parts): every complete part's
   part.json read once; each part's ranges of every partition written to the work folder
   transposed (part_ranges.py), so that a task reads those of its own partitions only, and
   the plan (which goes to every task) keeps counts, not parts.
1. ``reduce_pages`` (partition = host): distinct pages, the captures they supersede, each
   host's crawled pages and per-crawl counts. Two captures of a URL share a host, so meet;
   a partition larger than ``aggregate_memory_mb`` allows is reduced in sub-buckets of its
   hosts (below), a host with more pages than one holds in splits of its URLs.
2. ``reduce_links`` (partition = target domain): the kept links (superseded captures
   dropped: each pages task writes its own in one file, none when there are none, and a
   links partition keeps those of its links' source pages as it reads them), ``sitewide``
   (from the source hosts' page counts, read for the candidate hosts only), host and domain
   edges, domain profiles, the referrals (without authority yet), and the degree pieces
   each host and domain needs, split by the host's or domain's own partition (one file a
   kind per sub-bucket, each partition's rows at their offset in it: pieces.py). A
   partition larger than ``aggregate_memory_mb`` allows is reduced in sub-buckets of its
   target domains (below; the source hosts' page counts read once for all of them: those of
   its source hosts).
3. ``reduce_hosts`` (partition = host), then ``reduce_domains`` (partition = domain).
4. ``rank_graph``: the authority columns of hosts and domains (rank_tables.py: in one
   process when the graph fits ``aggregate_memory_mb``, else rounds of tasks over edge
   partitions, each a task on the flow's task runner).
5. ``write_referrals`` (partition = target domain): each sub-bucket's referrals with the
   referring domains' authority, looked up in a dictionary of the ranked domains that link
   to another, built once a task, in shards of them when it would pass the memory setting.
6. ``finish_aggregation``: the crawls table, the manifest, and the graph made current in
   one step.

Sub-buckets: a partition's keys are hashed into SLOTS slots, counted, and packed by their
rows into sub-buckets within ``aggregate_memory_mb`` (``pack_slots``); a links sub-bucket
over the setting by itself (a target domain more linked than one holds) is split by source
domain, its targets' ``domain_profiles`` made from every split's domain pairs, and one source
domain's links into it over the setting by themselves again by source page
(``_reduce_page_splits``: their tables put together from the splits'). A partition
in SPILL_SUB_BUCKETS sub-buckets or more is read once, each row written to its sub-bucket's
file on the task's disk (spill.py), and each sub-bucket reads its own rows only; with fewer,
each sub-bucket re-reads the partition, in one scan of its files (cheaper then: writing the
sub-buckets' files costs about as much as five such reads).

Bytes read: each part's range of a partition once from the data location (copied to the
task's disk, where the reduce reads it: ``_partition_copy``), plus the small pieces of steps
1-3 (those every links task reads, the sitewide candidates and superseded captures, copied
to its disk once a task: ``_on_task_disk``). No
task holds more than one sub-bucket of its partition (and, for a source domain's links into
a target split by page, the distinct host edges, domain pairs and anchors of its splits),
except the ranks of a graph that fits the memory setting.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from pipeline.config import Settings
from pipeline.errors import ConfigError, GraphError, StorageError, refused_by_the_disk
from pipeline.extract.rows import LINKS_SCHEMA, PAGES_SCHEMA
from pipeline.graph.part_ranges import PartRanges, PartRangesWriter
from pipeline.graph.partitioned_rank import MapFn, run_here
from pipeline.graph.pieces import PieceReader, write_pieces
from pipeline.graph.rank_tables import DOMAINS, HOSTS, rank_table, table_files
from pipeline.graph.ranks_file import ranks_files
from pipeline.graph.spill import Spill, spill_compression
from pipeline.graph.tables import (
    CAPTURE,
    CAPTURE_PART,
    NO_RANKS,
    DomainAuthority,
    GraphOptions,
    authority_shard,
    domain_edges,
    domain_pairs,
    domain_profiles,
    host_edges,
    kept_and_superseded,
    linking_pages,
    links_of_pages,
    merged_domain_pairs,
    merged_host_edges,
    merged_linking_pages,
    merged_pair_anchors,
    pages_by_url,
    pair_anchors,
    pair_hosts,
    referrals,
    with_authority,
)
from pipeline.partitions import PARTITION_COLUMN, partition_column, partition_name
from pipeline.parts.part import (
    ListedFiles,
    copy_ranges,
    each_complete_part,
    listed_parts,
    part_record,
    partition_ranges,
    parts_digest,
)
from pipeline.scratch import new_scratch, scratch_folder
from pipeline.storage import DataStore, Folder, open_store, sha256_of

__all__ = ["GraphOptions"]

_ROW_GROUP = 122_880  # rows per Parquet row group of links (DuckDB's own row group size)
_SUB_BUCKET_SEED = 20_241_122
# A partition to be reduced in sub-buckets has its keys (target domains, hosts) hashed into
# SLOTS slots, counted, and the slots packed into sub-buckets by their rows: a popular
# domain's slot then shares its sub-bucket with few others (hashing domains straight into
# the sub-buckets put 710k rows in one of 11 where the mean was 327k: bench/scale.py).
SLOTS = 4096
# A task's peak memory is about BUCKET_BASE_MB (Python, Polars, the pieces every link task
# reads: hosts that could be sitewide, the superseded captures of its partition's sources)
# plus, per row it reduces at once, LINK_ROW_MEMORY bytes of a link row or PAGE_ROW_MEMORY
# of a page row. Measured on the 50 M link-row input of bench/scale.py (docs/scale.md: one
# link sub-bucket of 269k rows held 710 MiB above Python's own 85, one of 640k rows 1,450;
# a pages partition of 3.1 M rows 855, or 870-885 when every URL was captured twice:
# tables.kept_and_superseded), rounded up.
# Sub-buckets are sized from them, by the rows part.json records: a row count, unlike
# compressed bytes, does not depend on how well the strings compress.
BUCKET_BASE_MB = 400
LINK_ROW_MEMORY = 2_000
PAGE_ROW_MEMORY = 400
# The referrals step looks the referring domains' authority up in a dictionary of every
# domain that links to another (tables.DomainAuthority): 114-148 bytes a domain above the
# names and authority as read (18-19), measured with 98 k and 1.56 M domains (bench/scale.py's
# 3.1 M and 50 M link rows), rounded up. Built in shards when it needs more than half of a
# task's share of the memory setting (``authority_shards``).
AUTHORITY_DOMAIN_MEMORY = 170
# The superseded captures a links task holds for all its partitions, up to this many bytes
# of files: 2 bytes a capture in them at the most compressible (bench/aggregate_memory.py's
# URLs) and 50-100 in memory, so at most about 50 MB held. Beyond, each partition keeps
# those of its own links' source pages (``_SupersededCaptures``), at the cost of a pass
# over its source URLs (3-4% of the links step: docs/scale.md).
SUPERSEDED_HELD_BYTES = 1 << 20
# A partition in this many sub-buckets or more is read once and its rows sorted into them on
# the task's disk (spill.py); with fewer, each sub-bucket re-reads it and keeps its share.
# A 3.3 M-row links partition (bench/scale.py, 50 M rows): 4 sub-buckets 32.3 s spilled
# against 31.8 s re-read, 6: 32.3 against 33.7, 11: 31 against 38; 3.1 M pages in 3: 7.8
# against 6.7-7.2 s.
SPILL_SUB_BUCKETS = 5
# Partitions grouped into one task until the group holds this many compressed bytes: a task
# costs a fixed overhead (a process pool or Dask round trip), worth paying for real work.
TASK_BYTES = 32 * 2**20
MANIFEST = "manifest.json"  # in the graph folder: the parts it was built from
# in the work folder: the manifest's record of each part, a file a slice of the plan
# (``parts-00000.jsonl``, ...)
PARTS_RECORDS = "parts-"
# The plan reads the parts' part.json files in slices of this many, each a call of its
# ``map_fn`` (a task in a flow): about 2.6 ms a part, so about 10 s a slice.
PLAN_SLICE_PARTS = 4_000
TABLES = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "crawls",
          "referrals", "domain_profiles")
WORK = "work"  # the pieces steps hand on, deleted by the finish step


def graph_dir(data_dir: Path) -> Path:
    """The current graph's folder of a local data folder."""
    return data_dir / "graph"


def read_table(data_dir: Path, table: str) -> pl.DataFrame:
    """A table of the current graph of a local data folder, all partitions (tools, tests)."""
    return pl.read_parquet(sorted((graph_dir(data_dir) / table).glob("*.parquet")), glob=False)


@dataclass(frozen=True)
class GraphSummary:
    folder: str  # of the graph, relative to the data location
    parts: int
    pages: int
    links: int
    host_edges: int
    domain_edges: int
    hosts: int
    domains: int
    buckets: int = 1  # sub-buckets reduced, over all partitions
    partitions: int = 1
    unranked_hosts: int = 0  # hosts a ranks_file does not name (null ranks)
    unranked_domains: int = 0


@dataclass(frozen=True)
class AggregationPlan:
    """An aggregation in progress: the graph being built in ``folder`` (a temporary name in
    the data location) from ``parts``, split into ``partitions``."""

    store: DataStore
    folder: str
    parts: int  # how many: their ranges are in the work folder (part_ranges.py)
    partitions: int
    link_bytes: dict[int, int] = field(default_factory=dict)  # partition -> compressed bytes
    page_bytes: dict[int, int] = field(default_factory=dict)
    link_rows: dict[int, int] = field(default_factory=dict)  # partition -> rows
    page_rows: dict[int, int] = field(default_factory=dict)
    rows: dict[str, pl.LazyFrame] | None = None  # write_graph: raw rows instead of parts
    # the task's copy of one partition's ranges (``_partition_copy``), where its rows are read
    parts_store: DataStore | None = None
    # the parts' ranges of a task's partitions (``reading``), or of the copy's partition
    part_ranges: PartRanges | None = None
    # ``parts_digest`` of the parts as listed when the plan began: the manifest records it
    parts_listed: str = ""

    @property
    def graph(self) -> Folder:
        return Folder(self.store, self.folder)

    @property
    def work(self) -> Folder:
        return self.graph.sub(WORK)

    def read_partition(self, table: str, partition: int,
                       keep: pl.Expr | None = None) -> pl.DataFrame:
        """Every part's ``pages`` or ``links`` rows of one partition, from the task's copy
        of them (``_partition_copy``), each file once; with ``keep`` only the rows it
        selects (a sub-bucket), filtered as they are decoded, so that memory never holds the
        whole partition."""
        if self.rows is not None:
            rows = self.rows[table] if keep is None else self.rows[table].filter(keep)
            return rows.with_columns(pl.lit(0, pl.UInt32).alias(CAPTURE_PART)).collect()
        return self._parts_rows(table, list(self._part_files(table, partition)), keep)

    def reading(self, table: str, partitions: Iterable[int]) -> AggregationPlan:
        """This plan for a task of ``partitions`` of ``table``: the parts' ranges of those
        partitions read from the work folder once (part_ranges.py)."""
        if self.rows is not None:
            return self
        return replace(self, part_ranges=PartRanges.read(self.work, table, partitions,
                                                         self.partitions))

    def _ranges_of(self, table: str, partition: int) -> pl.DataFrame:
        """Every part's range of one partition of ``table``, in the parts' order: those
        ``reading`` read, else read for this partition alone."""
        ranges = self.part_ranges
        if ranges is None or not ranges.covers(table, partition):
            ranges = PartRanges.read(self.work, table, [partition], self.partitions)
        return ranges.of(partition)

    def _part_files(self, table: str, partition: int) -> list[_PartCopy]:
        """Each part that has rows of ``table`` in this partition: its ordinal (the
        CAPTURE_PART of its rows), the name of its copy of the partition's rows
        (``_copy_name``) and their number."""
        ranges = self._ranges_of(table, partition)
        return [_PartCopy(ordinal, _copy_name(ordinal, table, partition), rows)
                for ordinal, rows in zip(ranges["ordinal"], ranges["rows"], strict=True)]

    def _partition_copy(self, table: str, partition: int, folder: Path) -> AggregationPlan:
        """This plan reading one partition's rows from a copy on the task's disk, under
        ``folder`` (the caller's to remove): each part's range of the partition (from the
        work folder's ranges: part_ranges.py) read from the data location once (local
        ``pread``s, or S3 ranged GETs side by side) into a Parquet file of its own. The
        reduce scans them as whole files however many sub-buckets read them, and the data
        location keeps a part in three files."""
        found = self._ranges_of(table, partition)
        ranges = list(zip(found["name"], found["start"], found["stop"], strict=True))
        names = [_copy_name(ordinal, table, partition) for ordinal in found["ordinal"]]
        copy = open_store(folder)
        size = sum(stop - start for _, start, stop in ranges)
        _copy_to_task_disk(self.store, ranges, copy, names,
                           f"partition {partition} of the {table}", str(folder.parent),
                           f": a task copies its partition's compressed bytes there "
                           f"({size / 1e6:,.1f} MB here) before reducing it")
        return replace(self, parts_store=copy,
                       part_ranges=PartRanges(table, None, {partition: found}))

    def _part_batches(self, table: str, partition: int, rows: int,
                      ) -> Iterator[tuple[list[_PartCopy], bool]]:
        """The parts of ``_part_files`` in runs, in order, each run's rows of the partition
        (by part.json) within ``rows``, to be read in one scan, with True; a part with more
        rows than that is a run by itself, with False."""
        batch: list[_PartCopy] = []
        held = 0
        for part in self._part_files(table, partition):
            share = part.rows
            if batch and held + share > rows:
                yield batch, held <= rows
                batch, held = [], 0
            batch.append(part)
            held += share
        if batch:
            yield batch, held <= rows

    def _parts_rows(self, table: str, parts: list[_PartCopy],
                    keep: pl.Expr | None = None) -> pl.DataFrame:
        """Some parts' files of a partition read in one scan (the rows ``keep`` selects),
        each row marked with its part's ordinal."""
        ordinals = pl.Series(CAPTURE_PART, [part.ordinal for part in parts], dtype=pl.UInt32)
        rows = self._parts_from.read_parquet([part.name for part in parts],
                                             _rows_schema(table), keep,
                                             file_column=CAPTURE_PART)
        return rows.with_columns(ordinals.gather(rows[CAPTURE_PART]))

    def _part_windows(self, part: _PartCopy, table: str, rows: int,
                      keep: pl.Expr | None) -> Iterator[pl.DataFrame]:
        """One part's file of a partition read ``rows`` rows at a time, each window's rows
        that ``keep`` selects, marked with the part's ordinal: for a share of a part too
        large to hold at once."""
        schema = _rows_schema(table)
        file = self._parts_from.scan_parquet([part.name])
        height = file.select(pl.len()).collect().item()
        for offset in range(0, height, rows):
            window = file.slice(offset, rows)
            yield ((window if keep is None else window.filter(keep)).collect().cast(schema)
                   .with_columns(pl.lit(part.ordinal, pl.UInt32).alias(CAPTURE_PART)))

    @property
    def _parts_from(self) -> DataStore:
        if self.parts_store is None:
            raise RuntimeError("a partition's rows are read from its copy: _partition_copy")
        return self.parts_store

    def _partition_names(self, table: str, partition: int) -> list[str]:
        """The names of every part's copy of one partition of ``table``."""
        return [part.name for part in self._part_files(table, partition)]

    def _column(self, table: str, partition: int, column: str,
                keep: pl.Expr | None = None) -> pl.LazyFrame:
        """One column of one partition's rows (those ``keep`` selects), read alone."""
        if self.rows is not None:
            source = self.rows[table]
        elif names := self._partition_names(table, partition):
            source = self._parts_from.scan_parquet(names)
        else:
            return pl.LazyFrame(schema={column: pl.String()})
        return (source if keep is None else source.filter(keep)).select(column)

    def slot_rows(self, table: str, partition: int, key: str,
                  keep: pl.Expr | None = None) -> dict[int, int]:
        """Rows per slot of ``key`` (``slot_of``) in one partition (of its rows ``keep``
        selects)."""
        return slot_counts(self._column(table, partition, key, keep), key)

    def distinct(self, table: str, partition: int, column: str) -> pl.Series:
        """The distinct values of ``column`` in one partition."""
        return (self._column(table, partition, column).unique().collect(engine="streaming")
                .to_series())

    @contextmanager
    def sub_bucket_rows(self, table: str, partition: int,
                        options: GraphOptions) -> Iterator[SubBucketRows]:
        """The rows of one partition of ``table`` in its sub-buckets (``_packed``), read
        from the task's copy of the partition (``_partition_copy``: each part's range leaves
        the data location once), in one scratch folder with the sub-buckets' files. One is
        read when it is reduced; at least SPILL_SUB_BUCKETS of them are read once and sorted
        into their sub-buckets on the task's disk (spill.py); fewer re-read the copy, each
        keeping its share."""
        capacity = _capacity(options, _key_and_row_memory(table)[1])
        if self.rows is not None:
            yield SubBucketRows(self, table, partition, _packed(self, table, partition, options),
                                capacity=capacity)
            return
        with scratch_folder("partition") as scratch:
            reader = self._partition_copy(table, partition, scratch / "copy")
            shares = _packed(reader, table, partition, options)
            spill = None
            if len(shares) >= SPILL_SUB_BUCKETS:
                (scratch / "spill").mkdir()
                spill = _spill(reader, table, partition, shares, options, scratch / "spill")
            yield SubBucketRows(reader, table, partition, shares, spill, capacity)

    def bytes_of(self, table: str) -> dict[int, int]:
        """The compressed bytes of each partition of ``pages`` or ``links``."""
        return self.page_bytes if table == "pages" else self.link_bytes

    def groups(self, step: str, workers: int = 1) -> list[list[int]]:
        """The partitions of ``step``, in order, grouped into tasks of about TASK_BYTES each,
        or of a ``workers``-th of the step's bytes when that is less (a small step still
        keeps every worker busy). The referrals step in a task a worker: each of its tasks
        reads every domain's authority and builds their lookup first, and its memory does
        not grow with its partitions (one file of referrals at a time)."""
        sizes = self.bytes_of(step)
        total = sum(sizes.get(partition, 0) for partition in range(self.partitions))
        budget = max(1, math.ceil(total / max(1, workers)))
        if step != "referrals":
            budget = min(TASK_BYTES, budget)
        groups: dict[int, list[int]] = {}
        leading: list[int] = []  # empty partitions before the first one with bytes
        before, group = 0, None
        for partition in range(self.partitions):  # each in the group its middle byte falls in
            size = sizes.get(partition, 0)
            if size:  # (an empty one goes with the one before it)
                group = int((before + size / 2) // budget)
            if group is None:
                leading.append(partition)
            else:
                groups.setdefault(group, []).append(partition)
            before += size
        tasks = list(groups.values()) or [[]]
        tasks[0][:0] = leading
        return tasks


class _PartCopy(NamedTuple):
    """A part's rows of one partition in a task's copy of the partition: the part's
    ordinal, the name of its file in the copy, and its rows."""

    ordinal: int
    name: str
    rows: int


def _copy_name(ordinal: int, table: str, partition: int) -> str:
    """The name of the ``ordinal``-th part's rows of one partition in a task's copy of the
    partition (all in one folder: a folder a part cost a tenth of the copy's time at 256
    partitions)."""
    return f"{ordinal:06d}.{table}-{partition_name(partition)}.parquet"


def slot_of(key: str) -> pl.Expr:
    """The sub-bucket slot of each row's ``key`` (a stable hash within one Polars version,
    which is all a task needs: every sub-bucket of a partition is read by the same task)."""
    return (pl.col(key).hash(seed=_SUB_BUCKET_SEED) % SLOTS).alias("slot")


def slot_counts(rows: pl.LazyFrame, key: str) -> dict[int, int]:
    """Rows per slot of ``key`` (``slot_of``)."""
    counted = (rows.select(key).group_by(slot_of(key)).agg(pl.len())
               .collect(engine="streaming"))
    return dict(zip(counted["slot"].to_list(), counted["len"].to_list(), strict=True))


def _rows_schema(table: str) -> pl.Schema:
    return PAGES_SCHEMA if table == "pages" else LINKS_SCHEMA


def pack_slots(slot_rows: dict[int, int], capacity: int, bins: int = 0) -> list[list[int]]:
    """The slots packed into sub-buckets: with ``bins``, exactly that many, each slot (the
    largest first) into the one holding the fewest rows; without, first fit, largest first,
    into as many as keep every sub-bucket within ``capacity`` rows. A slot over
    ``capacity`` by itself gets a sub-bucket of its own. Each sub-bucket's slots in order."""
    largest_first = sorted(slot_rows.items(), key=lambda item: (-item[1], item[0]))
    packed: list[list[int]] = [[] for _ in range(bins)]
    held = [0] * bins
    for slot, rows in largest_first:
        if bins:
            target = min(range(bins), key=lambda index: (held[index], index))
        else:
            target = next((index for index, load in enumerate(held)
                           if load + rows <= capacity), len(held))
            if target == len(held):
                packed.append([])
                held.append(0)
        packed[target].append(slot)
        held[target] += rows
    return [sorted(slots) for slots in packed] or [[]]


def _key_and_row_memory(table: str) -> tuple[str, int]:
    return ("dst_domain", LINK_ROW_MEMORY) if table == "links" else ("host", PAGE_ROW_MEMORY)


def sub_bucket_estimate(plan: AggregationPlan, table: str, partition: int,
                        options: GraphOptions) -> int:
    """The sub-buckets a partition needs by the rows part.json records (or the forced
    count), before any is packed: 1 when it is reduced whole."""
    rows = plan.link_rows if table == "links" else plan.page_rows
    return options.aggregate_buckets or sub_bucket_count(
        rows.get(partition, 0), options.aggregate_memory_mb, _key_and_row_memory(table)[1])


@dataclass(frozen=True)
class Share:
    """One sub-bucket of a partition: its slots of the partition's key (None: the whole
    partition) and their rows."""

    key: str
    slots: list[int] | None
    rows: int

    @property
    def keep(self) -> pl.Expr | None:
        """The filter that keeps the sub-bucket's rows (None: every row)."""
        return None if self.slots is None else slot_of(self.key).is_in(self.slots)


def _packed(plan: AggregationPlan, table: str, partition: int,
            options: GraphOptions) -> list[Share]:
    """The sub-buckets of one partition of ``table`` (links by target domain, pages by
    host): ``[Share(key, None, 0)]`` when the partition is reduced whole, else sized from
    the rows part.json records, then packed by the rows of each slot, read from the
    partition's key column."""
    key, row_memory = _key_and_row_memory(table)
    if sub_bucket_estimate(plan, table, partition, options) == 1:
        return [Share(key, None, 0)]
    slots = plan.slot_rows(table, partition, key)
    return [Share(key, packed, sum(slots.get(slot, 0) for slot in packed))
            for packed in pack_slots(slots, _capacity(options, row_memory),
                                     options.aggregate_buckets)]


@dataclass
class SubBucketRows:
    """The rows of one partition of ``table`` in its sub-buckets (``shares``), read from
    ``plan``'s parts, or from ``spill`` (spill.py) when there are several of them."""

    plan: AggregationPlan
    table: str
    partition: int
    shares: list[Share]
    spill: Spill | None = None
    capacity: int = 0  # the rows of a sub-bucket within the memory setting

    def __len__(self) -> int:
        return len(self.shares)

    def read(self, index: int, split: pl.Expr | None = None) -> pl.DataFrame:
        """Sub-bucket ``index``'s rows (of them, those ``split`` selects)."""
        if self.spill is not None:
            return self.spill.read(index, split)
        return self.plan.read_partition(self.table, self.partition, self._keep(index, split))

    def slot_rows(self, index: int, key: str, split: pl.Expr | None = None) -> dict[int, int]:
        """Rows per slot of ``key`` in sub-bucket ``index`` (of them, those ``split``
        selects)."""
        if self.spill is None:
            return self.plan.slot_rows(self.table, self.partition, key, self._keep(index, split))
        spilled = self.spill.scan(index)
        return slot_counts(spilled if split is None else spilled.filter(split), key)

    @contextmanager
    def split_into(self, index: int,
                   splits: list[pl.Expr]) -> Iterator[list[Callable[[], pl.DataFrame]]]:
        """Sub-bucket ``index``'s rows that ``splits`` select (disjoint filters, each within
        the memory setting), read once a piece at a time and sorted into a file of each
        split's on this machine's disk: one read of each split's own rows for each call."""
        which = pl.coalesce([pl.when(split).then(pl.lit(number, pl.UInt32))
                             for number, split in enumerate(splits)])
        with scratch_folder("spill") as folder:
            sorted_rows = Spill(folder, len(splits),
                                pl.Schema({**_rows_schema(self.table), CAPTURE_PART: pl.UInt32()}),
                                spill_compression(shutil.disk_usage(folder).free,
                                                  self.plan.bytes_of(self.table).get(
                                                      self.partition, 0)))
            for piece in self._pieces(index, pl.any_horizontal(splits)):
                sorted_rows.add(piece, piece.select(which.alias("split")).to_series())
            yield [partial(sorted_rows.read, number) for number in range(len(splits))]

    def _pieces(self, index: int, keep: pl.Expr) -> Iterator[pl.DataFrame]:
        """Sub-bucket ``index``'s rows that ``keep`` selects, a piece at a time, none more
        than a sub-bucket holds."""
        if self.spill is not None:
            yield from self.spill.pieces(index, keep)
            return
        selected = self._keep(index, keep)
        if self.plan.rows is not None:
            yield self.plan.read_partition(self.table, self.partition, selected)
            return
        for batch, fits in self.plan._part_batches(self.table, self.partition, self.capacity):
            if fits:
                yield self.plan._parts_rows(self.table, batch, selected)
            else:
                yield from self.plan._part_windows(batch[0], self.table, self.capacity,
                                                   selected)

    def _keep(self, index: int, split: pl.Expr | None) -> pl.Expr | None:
        """The filter of sub-bucket ``index``'s rows (of them, those ``split`` selects) in
        the partition's files."""
        share = self.shares[index].keep
        if split is None:
            return share
        return split if share is None else share & split

    def done(self, index: int) -> None:
        """Sub-bucket ``index`` is reduced: its spilled rows are let go."""
        if self.spill is not None:
            self.spill.drop(index)


def _spill(plan: AggregationPlan, table: str, partition: int, shares: list[Share],
           options: GraphOptions, folder: Path) -> Spill:
    """The partition's rows, each part's files read once (in the parts' order, as
    ``read_partition`` reads them, in runs of parts that together hold no more than a
    sub-bucket) and sorted into the sub-buckets of ``shares`` under ``folder``. A part whose
    rows in this partition are more than a sub-bucket holds is read once per sub-bucket
    instead, keeping that sub-bucket's share: memory never holds more than one sub-bucket's
    rows."""
    key, row_memory = _key_and_row_memory(table)
    capacity = _capacity(options, row_memory)
    bucket_of_slot = [0] * SLOTS
    for index, share in enumerate(shares):
        for slot in share.slots or ():
            bucket_of_slot[slot] = index
    lookup = pl.Series("bucket", bucket_of_slot, dtype=pl.UInt32)
    size = plan.bytes_of(table).get(partition, 0)
    spill = Spill(folder, len(shares),
                  pl.Schema({**_rows_schema(table), CAPTURE_PART: pl.UInt32()}),
                  spill_compression(shutil.disk_usage(folder).free, size))
    for batch, fits in plan._part_batches(table, partition, capacity):
        if fits:
            rows = plan._parts_rows(table, batch)
            spill.add(rows, lookup.gather(rows.select(slot_of(key))["slot"]))
            del rows
        else:
            for index, share in enumerate(shares):
                if share.rows <= capacity:
                    spill.add_to(index, plan._parts_rows(table, batch, share.keep))
                    continue
                # a sub-bucket over the setting by itself (one target's links, split when
                # it is reduced): this part's share of it a window of rows at a time
                for window in plan._part_windows(batch[0], table, capacity, share.keep):
                    spill.add_to(index, window)
    return spill


def link_sub_buckets(rows: SubBucketRows,
                     options: GraphOptions) -> list[list[list[pl.Expr | None]]]:
    """The splits of each sub-bucket of a links partition, in groups: one (no filter), or,
    for a sub-bucket over the memory setting by itself (its slot's target domains have more
    links than one sub-bucket holds), its links split by source domain, each split within
    the setting, a group of one; and for the links of a source domain into it that are over
    the setting by themselves, a group of splits by source page (``_reduce_page_splits``
    puts their tables together)."""
    capacity = rows.capacity
    splits: list[list[list[pl.Expr | None]]] = []
    for index, share in enumerate(rows.shares):
        if share.slots is None or share.rows <= capacity or options.aggregate_buckets:
            splits.append([[None]])
            continue
        by_source = rows.slot_rows(index, "src_domain")
        groups: list[list[pl.Expr | None]] = []
        for slots in pack_slots(by_source, capacity):
            source = slot_of("src_domain").is_in(slots)
            if sum(by_source.get(slot, 0) for slot in slots) <= capacity:
                groups.append([source])
                continue
            by_page = rows.slot_rows(index, "src_url", source)
            groups.append([source & slot_of("src_url").is_in(pages)
                           for pages in pack_slots(by_page, capacity)])
        splits.append(groups)
    return splits


def _capacity(options: GraphOptions, row_memory: int) -> int:
    """The rows of one sub-bucket within the memory setting."""
    return (options.aggregate_memory_mb - BUCKET_BASE_MB) * 2**20 // row_memory


def sub_bucket_count(rows: int, memory_mb: int, row_memory: int = LINK_ROW_MEMORY) -> int:
    """Sub-buckets enough that reducing one fits in ``memory_mb`` (see BUCKET_BASE_MB):
    ``rows`` link rows (or page rows, with ``row_memory=PAGE_ROW_MEMORY``)."""
    if memory_mb <= BUCKET_BASE_MB + 64:
        raise ConfigError(
            f"aggregate_memory_mb must be more than {BUCKET_BASE_MB + 64}, got {memory_mb}: "
            f"a task needs about {BUCKET_BASE_MB} MiB before its share of the rows"
        )
    usable = (memory_mb - BUCKET_BASE_MB) * 2**20
    return max(1, math.ceil(rows * row_memory / usable))


def plan_aggregation(
    store: DataStore, options: GraphOptions = GraphOptions(),  # noqa: B008
    map_fn: MapFn[Any] = run_here,
) -> AggregationPlan:
    """Start an aggregation: find the parts, check they share one split, size the tasks.

    The parts are listed once and their part.json files read in slices of
    PLAN_SLICE_PARTS, each a call given to ``map_fn`` (a task each in a flow: a crawl's
    90,000 are about 4 minutes of CPU in one process): each part's ranges go to the work
    folder, transposed (part_ranges.py), and its record for the manifest to a file of its
    slice there. The plan keeps the parts' count and the rows and bytes of each partition,
    so that it stays small whatever the number of parts (it goes to every task)."""
    sub_bucket_count(0, options.aggregate_memory_mb)  # a bad memory setting fails first
    folder = store.new_graph_folder()
    for table in (*TABLES, WORK):
        store.prepare(f"{folder}/{table}")
    graph = Folder(store, folder)
    try:
        listed = listed_parts(store)
        if not listed:
            raise GraphError(f"no complete parts in {store.location!r}; run `backlinks run` "
                             "on some input first")
        keys = list(listed)
        slices: list[tuple[int, dict[tuple[str, str], dict[int, int]]]] = map_fn([
            partial(_index_parts, store, graph.sub(WORK), number, first,
                    {key: listed[key] for key in keys[first:first + PLAN_SLICE_PARTS]})
            for number, first in enumerate(range(0, len(keys), PLAN_SLICE_PARTS))])
        partitions = _one_split(store, {split for split, _ in slices})
        sums: dict[tuple[str, str], dict[int, int]] = {}
        for _, measured in slices:
            for measure, by_partition in measured.items():
                total = sums.setdefault(measure, {})
                for partition, value in by_partition.items():
                    total[partition] = total.get(partition, 0) + value
    except BaseException:
        graph.delete_all()
        raise
    return AggregationPlan(
        store, folder, len(keys), partitions,
        link_bytes=sums.get(("links", "bytes"), {}), page_bytes=sums.get(("pages", "bytes"), {}),
        link_rows=sums.get(("links", "rows"), {}), page_rows=sums.get(("pages", "rows"), {}),
        parts_listed=parts_digest(listed))


def _one_split(store: DataStore, splits: set[int]) -> int:
    """The one partition count of the parts (``splits``: those found); GraphError when
    there are two."""
    if len(splits) > 1:
        raise GraphError(
            f"the parts of {store.location!r} are split into {sorted(splits)} partitions; "
            "delete the parts of the other split (or the data location) and run again")
    return splits.pop()


def _index_parts(store: DataStore, work: Folder, number: int, first: int,
                 listed: Mapping[str, ListedFiles],
                 ) -> tuple[int, dict[tuple[str, str], dict[int, int]]]:
    """Slice ``number`` of the plan: read the part.json of every part ``listed`` (the
    plan's parts from the ``first``-th) once, in order; write its ranges
    (``PartRangesWriter``, its files named for the slice) and its manifest record
    (PARTS_RECORDS) to ``work``. Returns the parts' partition count and the bytes and rows
    of each partition of each table."""
    sums: dict[tuple[str, str], dict[int, int]] = {
        (table, measure): {} for table in ("links", "pages") for measure in ("bytes", "rows")}
    records: list[str] = []
    writer: PartRangesWriter | None = None
    for ordinal, (_, info) in enumerate(each_complete_part(store, list(listed)), start=first):
        if writer is None:
            writer = PartRangesWriter(work, info.partitions, f"{number:05d}-")
        elif info.partitions != writer.partitions:
            _one_split(store, {writer.partitions, info.partitions})
        for table in ("links", "pages"):
            ranges = partition_ranges(info, table)
            sizes, rows = sums[(table, "bytes")], sums[(table, "rows")]
            for partition, (_, start, stop, count) in ranges.items():
                sizes[partition] = sizes.get(partition, 0) + stop - start
                rows[partition] = rows.get(partition, 0) + count
            writer.add(ordinal, table, ranges)
        writer.part_done()
        records.append(json.dumps(part_record(info, listed[info.key]), sort_keys=True))
    if writer is None:
        raise GraphError(
            f"no complete parts in {store.location!r}; run `backlinks run` on some input first"
        )
    writer.close()
    work.write_text(f"{PARTS_RECORDS}{number:05d}.jsonl",
                    "".join(f"{record}\n" for record in records))
    return writer.partitions, sums


def _piece(kind: str, stem: str, partition: int) -> str:
    """The name of a piece in the work folder, addressed to ``partition`` by a sub-bucket
    (``stem``, or none): ``crawled/p0003-s001-p0003.parquet``. (The pieces a writer
    addresses to every partition are one file a kind: pieces.py.)"""
    return f"{kind}/{stem + '-' if stem else ''}{partition_name(partition)}.parquet"


def _write_split(work: Folder, frame: pl.DataFrame, kind: str, key_column: str,
                 stem: str, partitions: int) -> None:
    """Write ``frame`` split by the partition of ``key_column``, in one file of ``kind``
    pieces (pieces.py): the task of partition q reads the bytes addressed to q only."""
    split = frame.with_columns(partition_column(frame, key_column, partitions)).partition_by(
        PARTITION_COLUMN, as_dict=True, include_key=False)
    write_pieces(work, kind, stem, {int(partition): piece
                                    for (partition,), piece in split.items()}, partitions)


def _pieces(work: Folder, *kinds: str) -> dict[str, list[str]]:
    """The names of the pieces of each kind, listed once for all the partitions of a task
    (a listing per partition cost more than reducing a small partition)."""
    return {kind: list(work.store.files(work.name_of(kind))) for kind in kinds}


def _piece_reader(plan: AggregationPlan, kind: str, partitions: list[int]) -> PieceReader:
    """The ``kind`` pieces of a task's partitions (consecutive ones in a flow:
    ``AggregationPlan.groups``; the offsets of those between are read too)."""
    first, last = (min(partitions), max(partitions)) if partitions else (0, -1)
    return PieceReader(plan.work, kind, first, last, plan.partitions)


def _scan_pieces(work: Folder, pieces: dict[str, list[str]], kind: str, partition: int,
                 schema: pl.Schema) -> pl.LazyFrame:
    """Every ``kind`` piece addressed to ``partition`` (the last key of its name)."""
    suffix = f"{partition_name(partition)}.parquet"
    names = [f"{kind}/{name}" for name in pieces[kind]
             if name == suffix or name.endswith(f"-{suffix}")]
    return work.scan(names, schema) if names else pl.LazyFrame(schema=schema)


class _Written:
    """The rows one task wrote to each graph table, recorded in the work folder for the
    finish step, which would otherwise read every table's files again to count them (over
    S3 that is all of a small file: bench/scale.py --s3)."""

    def __init__(self, work: Folder, step: str, partitions: Iterable[int]) -> None:
        self.work, self.step = work, step
        self.partitions = list(partitions)
        self.rows: dict[str, int] = {}

    def add(self, table: str, rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows

    def record(self) -> None:
        if self.partitions:  # named by the task's first partition: tasks' groups are disjoint
            self.work.write(
                pl.DataFrame({"table": list(self.rows), "rows": list(self.rows.values())},
                             schema={"table": pl.String(), "rows": pl.Int64()}),
                f"counts/{self.step}-{partition_name(self.partitions[0])}.parquet")


def _written_rows(work: Folder) -> dict[str, int]:
    """The rows written to each table by the steps' tasks (their ``_Written`` records)."""
    files = work.files_in("counts")
    if not files:
        return {}
    counted = work.scan(files).group_by("table").agg(pl.col("rows").sum()).collect()
    return dict(zip(counted["table"].to_list(), counted["rows"].to_list(), strict=True))


def reduce_pages(plan: AggregationPlan, partitions: Iterable[int],
                 options: GraphOptions = GraphOptions()) -> int:  # noqa: B008
    """Step 1 for some host partitions: kept pages, superseded captures, each host's crawled
    pages (rows, and distinct URLs for ``sitewide``) and per-crawl page counts; return the
    sub-buckets reduced. A partition whose pages need more than ``aggregate_memory_mb`` is
    reduced in sub-buckets of its hosts (``sub_bucket_rows``): every capture of a URL, and
    every page of a host, meet in one sub-bucket; a host with more pages than one holds is
    reduced in splits of its URLs (``_reduce_url_splits``)."""
    written = _Written(plan.work, "pages", partitions)
    plan = plan.reading("pages", written.partitions)
    reduced = 0
    with scratch_folder("superseded") as scratch:
        task = _PagesTaskFiles(scratch)
        for partition in written.partitions:
            with plan.sub_bucket_rows("pages", partition, options) as rows:
                groups = page_sub_buckets(rows, options)
                stems = iter(_stems(partition, sum(max(1, len(group)) for group in groups)))
                for index, group in enumerate(groups):
                    if not group:
                        _reduce_page_bucket(plan, partition, next(stems),
                                            partial(rows.read, index), options, written, task)
                    else:
                        with rows.split_into(index, group) as reads:
                            _reduce_url_splits(plan, partition, [next(stems) for _ in group],
                                               reads, options, written, task)
                    rows.done(index)
                    reduced += max(1, len(group))
        if written.partitions:
            task.publish(plan.work, partition_name(written.partitions[0]))
    written.record()
    return reduced


class _PagesTaskFiles:
    """What a pages task hands to every links task, written once a task (a file a
    sub-bucket made P^2 reads over the links step):

    - ``sitewide_hosts/<task>.parquet``: the hosts that could be sitewide, with their
      crawled pages (few: those with ``sitewide_min_pages`` pages or more), held until the
      task ends and written sorted, always (an empty file when there are none);
    - ``superseded/<task>.parquet``: the captures that lost to a later capture of their URL,
      each sub-bucket's written to the task's disk as it is reduced (they are not held: a
      location that re-processed a crawl's files would make them half the pages), and
      gathered into one file at the end, streamed; no file when there are none, so that a
      links step finds nothing to read in the usual case of a URL fetched once a crawl."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder  # the task's scratch folder, for its superseded captures
        self.candidates: list[pl.DataFrame] = []
        self._held: list[Path] = []

    def add_superseded(self, stem: str, superseded: pl.DataFrame) -> None:
        if superseded.height:
            path = self.folder / f"{stem}.parquet"
            self._on_disk(f"the superseded captures of {stem}", path,
                          partial(superseded.write_parquet, path, compression="lz4"))
            self._held.append(path)

    def publish(self, work: Folder, name: str) -> None:
        work.write(pl.concat(self.candidates).sort("host") if self.candidates
                   else pl.DataFrame(schema=_SITEWIDE_HOSTS), f"sitewide_hosts/{name}.parquet")
        if self._held:
            gathered = self.folder / "superseded.parquet"
            self._on_disk("the task's superseded captures", gathered,
                          partial(pl.scan_parquet(self._held).sink_parquet, gathered))
            work.store.put_file(gathered, work.name_of(f"superseded/{name}.parquet"),
                                sha256_of(gathered))

    def _on_disk(self, what: str, path: Path, write: Callable[[], object]) -> None:
        try:
            write()
        except (OSError, pl.exceptions.ComputeError) as exc:
            if not refused_by_the_disk(exc):
                raise
            raise GraphError(
                f"could not write {what} to the task's disk ({str(path)!r}: {exc}); free "
                f"space under {str(self.folder.parent)!r} or set TMPDIR to a larger disk"
            ) from exc


def page_sub_buckets(rows: SubBucketRows, options: GraphOptions) -> list[list[pl.Expr]]:
    """The splits of each sub-bucket of a pages partition: none (it is reduced whole), or,
    for one over the memory setting by itself (a host with more pages than a sub-bucket
    holds), its pages split by URL, each split within the setting."""
    splits: list[list[pl.Expr]] = []
    for index, share in enumerate(rows.shares):
        if share.slots is None or share.rows <= rows.capacity or options.aggregate_buckets:
            splits.append([])
        else:
            splits.append([slot_of("url").is_in(slots)
                           for slots in pack_slots(rows.slot_rows(index, "url"), rows.capacity)])
    return splits


def _reduce_page_bucket(plan: AggregationPlan, partition: int, stem: str,
                        read: Callable[[], pl.DataFrame], options: GraphOptions,
                        written: _Written, task: _PagesTaskFiles) -> None:
    kept = _kept_pages(plan, stem, read, written, task)
    crawled, crawl_pages = _host_and_crawl_pages(kept)
    _write_page_pieces(plan, partition, stem, crawled, crawl_pages, options, task)


def _reduce_url_splits(plan: AggregationPlan, partition: int, stems: list[str],
                       reads: list[Callable[[], pl.DataFrame]], options: GraphOptions,
                       written: _Written, task: _PagesTaskFiles) -> None:
    """The pages of a host (or of hosts sharing a slot) over the memory setting by
    themselves, in splits by URL (``reads``: each split's rows), one at a time. Every
    capture of a URL is in one split, so the hosts' crawled pages and distinct URLs add up
    over the splits; a crawl's hosts are counted from the splits' (crawl, host) pairs.
    Each split's pages go in a file of their own (``stems``), the pieces made from them in
    the first one's."""
    crawled, crawl_pages, crawl_hosts = [], [], []
    for stem, read in zip(stems, reads, strict=True):
        kept = _kept_pages(plan, stem, read, written, task)
        host_counts, crawl_counts = _host_and_crawl_pages(kept)
        crawled.append(host_counts)
        crawl_pages.append(crawl_counts)
        crawl_hosts.append(kept.select("crawl", "host").unique())
        del kept
    merged_crawled = (pl.concat(crawled).group_by("host")
                      .agg(pl.col("domain").first(), pl.col("pages_crawled", "host_pages").sum())
                      .cast(crawled[0].schema))
    hosts = (pl.concat(crawl_hosts).unique().group_by("crawl")
             .agg(pl.len().alias("hosts")))
    merged_crawl_pages = (
        pl.concat(crawl_pages).group_by("crawl")
        .agg(pl.col("pages").sum(), pl.col("first_fetch").min(), pl.col("last_fetch").max())
        .join(hosts, on="crawl", how="left", nulls_equal=True)
        .select(crawl_pages[0].columns).cast(crawl_pages[0].schema)
    )
    _write_page_pieces(plan, partition, stems[0], merged_crawled, merged_crawl_pages, options,
                       task)


def _kept_pages(plan: AggregationPlan, stem: str, read: Callable[[], pl.DataFrame],
                written: _Written, task: _PagesTaskFiles) -> pl.DataFrame:
    """The kept captures of the pages ``read`` returns (one row per (crawl, url)), written,
    and the superseded ones handed to ``task``."""
    # one buffer a column (no reference is kept to the rows as read): the sorted frame's
    # strings are then views into it, not a second copy
    raw = read().rechunk()
    ordered = pages_by_url(raw)
    del raw
    kept, superseded = kept_and_superseded(ordered)
    del ordered
    task.add_superseded(stem, superseded)
    del superseded
    plan.graph.write(kept.drop(CAPTURE_PART), f"pages/{stem}.parquet", compression="zstd")
    written.add("pages", kept.height)
    return kept


def _host_and_crawl_pages(kept: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each host's crawled pages and distinct URLs, and each crawl's pages, hosts and
    fetch times, of some kept pages."""
    # kept holds one row per (crawl, url): of one crawl, a host's distinct URLs are its rows
    # and the crawl's hosts are the hosts here, with no distinct count over the strings
    one_crawl = kept["crawl"].n_unique() <= 1
    crawled = kept.group_by("host").agg(
        pl.col("domain").first(),
        pl.len().alias("pages_crawled"),
        (pl.len() if one_crawl else pl.col("url").n_unique()).alias("host_pages"),
    )
    # sub-buckets hold disjoint hosts, so the finish step adds their host counts up
    hosts = (pl.lit(crawled.height, pl.UInt32) if one_crawl
             else pl.col("host").n_unique())
    crawl_pages = kept.group_by("crawl").agg(
        pl.len().alias("pages"),
        hosts.alias("hosts"),
        pl.col("fetch_time").min().alias("first_fetch"),
        pl.col("fetch_time").max().alias("last_fetch"),
    )
    return crawled, crawl_pages


def _write_page_pieces(plan: AggregationPlan, partition: int, stem: str,
                       crawled: pl.DataFrame, crawl_pages: pl.DataFrame,
                       options: GraphOptions, task: _PagesTaskFiles) -> None:
    work = plan.work
    # for the hosts step of this partition (a sub-bucket's piece is addressed to it too)
    work.write(crawled, _piece("crawled", stem, partition))
    # sitewide: only a host with at least sitewide_min_pages pages can link to a domain
    # from that many; every link task reads these, so they are kept small (and written
    # once a task, sorted: _PagesTaskFiles)
    task.candidates.append(crawled.filter(pl.col("host_pages") >= options.sitewide_min_pages)
                           .select("host", "host_pages"))
    work.write(crawl_pages, f"crawl_pages/{stem}.parquet")


_CRAWLED = pl.Schema({"host": pl.String(), "domain": pl.String(),
                      "pages_crawled": pl.UInt32(), "host_pages": pl.UInt32()})
_SITEWIDE_HOSTS = pl.Schema({"host": pl.String(), "host_pages": pl.UInt32()})


def reduce_links(plan: AggregationPlan, partitions: Iterable[int],
                 options: GraphOptions) -> int:
    """Step 2 for some target-domain partitions; return the sub-buckets reduced."""
    work = plan.work
    reduced = 0
    written = _Written(work, "links", partitions)
    plan = plan.reading("links", written.partitions)
    with ExitStack() as task:
        # every pages task's sitewide candidates, read by each partition (each sub-bucket,
        # lazily): from the task's disk, so that they leave the data location once a task
        candidates = work.sizes_in("sitewide_hosts")
        crawled = _on_task_disk(work, candidates, task, "the sitewide candidates").scan(
            sorted(candidates))
        superseded_captures = _SupersededCaptures(work, task)
        for partition in written.partitions:
            reduced += _reduce_link_partition(plan, partition, superseded_captures, crawled,
                                              options, written)
    written.record()
    return reduced


def _reduce_link_partition(plan: AggregationPlan, partition: int,
                           superseded_captures: _SupersededCaptures, crawled: pl.LazyFrame,
                           options: GraphOptions, written: _Written) -> int:
    """One links partition, in its sub-buckets; return how many."""
    reduced = 0
    with plan.sub_bucket_rows("links", partition, options) as rows:
        # read once for all the sub-buckets
        superseded = superseded_captures.of_partition(rows.plan, partition)
        splits = link_sub_buckets(rows, options)
        stems = iter(_stems(partition, sum(len(group) for groups in splits
                                           for group in groups)))
        sources = crawled
        if len(splits) > 1:  # every host partition's candidates read once, not per share
            sources = crawled.filter(pl.col("host").is_in(
                rows.plan.distinct("links", partition, "src_host").implode())
            ).collect().lazy()
        for index, groups in enumerate(splits):
            # a target split by source domain: its profiles add up from every split's
            profiled: list[tuple[pl.LazyFrame, pl.LazyFrame]] | None = (
                [] if sum(len(group) for group in groups) > 1 else None)
            first = ""
            for group in groups:
                if len(group) == 1:
                    stem = next(stems)
                    _reduce_link_bucket(plan, stem, rows.read(index, group[0]).lazy(),
                                        superseded, sources, options, written, profiled)
                else:
                    with rows.split_into(index, [s for s in group if s is not None]
                                         ) as reads:
                        stem = _reduce_page_splits(
                            plan, [next(stems) for _ in group], reads, superseded,
                            sources, options, written, profiled)
                first = first or stem
                reduced += len(group)
            rows.done(index)
            if profiled is not None:
                _write_profiles(plan.graph, first, written,
                                pl.concat([pairs for pairs, _ in profiled]),
                                pl.concat([anchors for _, anchors in profiled]))
    return reduced


class _SupersededCaptures:
    """The superseded captures a links task drops: every pages task's file of them (none
    when no capture lost to another, the usual case of a URL fetched once a crawl). Up to
    SUPERSEDED_HELD_BYTES of files they are read once and held for all its partitions;
    beyond, the files are copied to the task's disk once (``_on_task_disk``) and each
    partition keeps those of its links' source pages as it reads them there (a semi-join on
    the source URL, streamed), so that a task holds no more of them than its partition has
    sources. A page's links go to many partitions, so the captures cannot be split by them
    beforehand."""

    def __init__(self, work: Folder, task: ExitStack) -> None:
        sizes = work.sizes_in("superseded")
        self.files, self.held, self.local = sorted(sizes), None, work
        if self.files and sum(sizes.values()) <= SUPERSEDED_HELD_BYTES:
            self.held = work.scan(self.files).collect()
        elif self.files:
            self.local = _on_task_disk(work, sizes, task, "the superseded captures")

    def of_partition(self, plan: AggregationPlan, partition: int) -> pl.DataFrame:
        """Those that can match a link of ``partition`` (``plan``: where its rows are)."""
        if not self.files:
            return pl.DataFrame()
        if self.held is not None:
            return self.held
        sources = plan.distinct("links", partition, "src_url")
        return (self.local.scan(self.files).filter(pl.col("src_url").is_in(sources.implode()))
                .collect(engine="streaming"))


def _on_task_disk(work: Folder, sizes: dict[str, int], task: ExitStack,
                  what: str) -> Folder:
    """A folder on the task's disk (removed when ``task`` ends) holding a copy of the work
    files ``sizes`` names (file -> bytes), under the same names: ranged reads side by side
    (``copy_ranges``), each file leaving the data location once however many of the task's
    partitions then read it."""
    copy = open_store(task.enter_context(scratch_folder("work")))
    ranges = [(work.name_of(file), 0, size) for file, size in sizes.items()]
    _copy_to_task_disk(work.store, ranges, copy, list(sizes),
                       f"{what} ({sum(sizes.values()) / 1e6:,.1f} MB)", copy.location)
    return Folder(copy, "")


def _copy_to_task_disk(source: DataStore, ranges: list[tuple[str, int, int]], copy: DataStore,
                       names: list[str], what: str, where: str, why: str = "") -> None:
    """``copy_ranges`` from ``source`` into the task's scratch store ``copy`` under
    ``names``; a disk that refuses them is a GraphError naming ``what``, ``where`` and the
    fix (reading is the source's: a StorageError)."""
    try:
        copy_ranges(source, ranges, [copy.local_path(name) for name in names])
    except OSError as exc:
        raise GraphError(
            f"could not copy {what} to the task's disk under {where!r} ({exc}){why}; free "
            "space there or set TMPDIR to a larger disk"
        ) from exc


def _stems(partition: int, buckets: int) -> list[str]:
    """The file names (without .parquet) of a partition's sub-buckets in a graph table."""
    if buckets == 1:
        return [partition_name(partition)]
    return [f"{partition_name(partition)}-s{bucket:03d}" for bucket in range(buckets)]


def _write_profiles(graph: Folder, stem: str, written: _Written, pairs: pl.LazyFrame,
                    anchors: pl.LazyFrame) -> None:
    profiles = domain_profiles(pairs, anchors).collect()
    graph.write(profiles, f"domain_profiles/{stem}.parquet", compression="zstd")
    written.add("domain_profiles", profiles.height)


def _reduce_link_bucket(
    plan: AggregationPlan, stem: str, links: pl.LazyFrame, superseded: pl.DataFrame,
    crawled: pl.LazyFrame, options: GraphOptions, written: _Written,
    profiled: list[tuple[pl.LazyFrame, pl.LazyFrame]] | None = None,
) -> None:
    """One sub-bucket of a links partition (``stem`` names its files); with ``profiled``
    (a split of one target's links by source domain) its domain pairs and anchors are
    handed on there for the targets' profiles instead of written as profiles."""
    kept = _kept_links(links, superseded)
    del links  # the partition's rows as read: only the kept ones from here on
    linking = linking_pages(kept.lazy()).collect()  # for the candidates and the flags
    final = links_of_pages(kept.lazy(), _host_pages(linking, crawled, options),
                           linking.lazy(), options).collect()
    del kept, linking
    _write_links(plan, stem, final, written)
    edges = host_edges(final.lazy()).collect()
    pairs = domain_pairs(final.lazy()).collect()  # one grouping for the next three
    anchors = pair_anchors(final.lazy()).collect()
    del final  # each frame is let go once the last table made from it is written
    _write_link_tables(plan, stem, edges, pairs, anchors, written, profiled)


def _reduce_page_splits(
    plan: AggregationPlan, stems: list[str], reads: list[Callable[[], pl.DataFrame]],
    superseded: pl.DataFrame, crawled: pl.LazyFrame, options: GraphOptions,
    written: _Written, profiled: list[tuple[pl.LazyFrame, pl.LazyFrame]] | None,
) -> str:
    """One source domain's links into a sub-bucket's targets, over the memory setting by
    themselves, in splits by source page (``reads``: each split's rows), one at a time.
    Each page is in one split, so its links' ``sitewide`` flags come from the splits'
    linking pages added up (a first pass), and the host edges, domain pairs and anchors from
    the splits' put together (tables.merged_*). Each split's links go in a file of their
    own (``stems``); the tables made from them in the first one's, returned."""
    linking = merged_linking_pages([
        linking_pages(_kept_links(read().lazy(), superseded).lazy()).collect()
        for read in reads])
    host_pages = _host_pages(linking, crawled, options)
    edges, pairs, hosts, anchors = [], [], [], []
    for stem, read in zip(stems, reads, strict=True):
        final = links_of_pages(_kept_links(read().lazy(), superseded).lazy(), host_pages,
                               linking.lazy(), options).collect()
        _write_links(plan, stem, final, written)
        edges.append(host_edges(final.lazy()).collect())
        pairs.append(domain_pairs(final.lazy()).collect())
        hosts.append(pair_hosts(final.lazy()).collect())
        anchors.append(pair_anchors(final.lazy()).collect())
        del final
    _write_link_tables(plan, stems[0], merged_host_edges(edges),
                       merged_domain_pairs(pairs, hosts), merged_pair_anchors(anchors),
                       written, profiled)
    return stems[0]


def _kept_links(links: pl.LazyFrame, superseded: pl.DataFrame) -> pl.DataFrame:
    """The links of the kept captures: those of the ``superseded`` ones dropped."""
    if superseded.height:  # (an anti-join with nothing still hashes every link's capture)
        links = links.join(superseded.lazy(), on=list(CAPTURE), how="anti")
    return links.drop(CAPTURE_PART).collect()


def _host_pages(linking: pl.DataFrame, crawled: pl.LazyFrame,
                options: GraphOptions) -> pl.LazyFrame:
    """The crawled pages of the source hosts that could be sitewide (``linking``: their
    linking pages), the only ones ``sitewide`` needs."""
    candidates = (linking.filter(pl.col("linking_pages") >= options.sitewide_min_pages)
                  .select("src_host").unique())
    return (crawled.filter(pl.col("host").is_in(candidates["src_host"].implode()))
            .select("host", "host_pages").collect().lazy())


def _write_links(plan: AggregationPlan, stem: str, final: pl.DataFrame,
                 written: _Written) -> None:
    plan.graph.write(final, f"links/{stem}.parquet", compression="zstd",
                     row_group_size=_ROW_GROUP)
    written.add("links", final.height)
    plan.work.write(final.group_by("crawl").agg(
        pl.len().alias("links"), pl.col("external").sum().alias("external_links")),
        f"crawl_links/{stem}.parquet")


def _write_link_tables(
    plan: AggregationPlan, stem: str, edges: pl.DataFrame, pairs: pl.DataFrame,
    anchors: pl.DataFrame, written: _Written,
    profiled: list[tuple[pl.LazyFrame, pl.LazyFrame]] | None,
) -> None:
    """The tables made from a sub-bucket's links (its host edges, domain pairs and
    anchors), and the pieces the hosts and domains steps need."""
    graph, work = plan.graph, plan.work
    between = domain_edges(pairs.lazy()).collect()
    graph.write(edges, f"host_edges/{stem}.parquet", compression="zstd")
    graph.write(between, f"domain_edges/{stem}.parquet", compression="zstd")
    if profiled is None:
        _write_profiles(graph, stem, written, pairs.lazy(), anchors.lazy())
    else:
        profiled.append((pairs.lazy(), anchors.lazy()))
    # referring domains per target domain, given their authority by the referrals step
    work.write(referrals(pairs.lazy(), anchors.lazy()).collect(), f"referrals/{stem}.parquet")
    written.add("host_edges", edges.height)
    written.add("domain_edges", between.height)
    # the pieces hosts and domains need, addressed to their own partitions (a piece's name
    # starts with its sub-bucket's stem: p0003 or p0003-s001)
    p = plan.partitions
    _write_split(work, edges.group_by("src_host").agg(
        pl.col("src_domain").first().alias("domain"), pl.len().alias("out_hosts")),
        "out_hosts", "src_host", stem, p)
    _write_split(work, edges.group_by("dst_host").agg(
        pl.col("dst_domain").first().alias("domain"),
        pl.len().alias("in_hosts"),
        pl.col("src_domain").filter(pl.col("src_domain") != pl.col("dst_domain"))
        .n_unique().alias("in_domains")), "in_hosts", "dst_host", stem, p)
    _write_split(work, between.group_by("src_domain").agg(pl.len().alias("out_domains")),
                 "out_domains", "src_domain", stem, p)
    _write_split(work, between.group_by("dst_domain").agg(pl.len().alias("in_domains")),
                 "in_domains", "dst_domain", stem, p)


_OUT_HOSTS = pl.Schema({"src_host": pl.String(), "domain": pl.String(),
                        "out_hosts": pl.UInt32()})
_IN_HOSTS = pl.Schema({"dst_host": pl.String(), "domain": pl.String(), "in_hosts": pl.UInt32(),
                       "in_domains": pl.UInt32()})
_DOMAIN_HOSTS = pl.Schema({"domain": pl.String(), "hosts": pl.UInt32(),
                           "pages_crawled": pl.Int64()})
_OUT_DOMAINS = pl.Schema({"src_domain": pl.String(), "out_domains": pl.UInt32()})
_IN_DOMAINS = pl.Schema({"dst_domain": pl.String(), "in_domains": pl.UInt32()})


def reduce_hosts(plan: AggregationPlan, partitions: Iterable[int]) -> None:
    """Step 3 for some host partitions: one row per host (tables.hosts, from pieces)."""
    graph, work = plan.graph, plan.work
    pieces = _pieces(work, "crawled")
    written = _Written(work, "hosts", partitions)
    out_pieces, in_pieces = (_piece_reader(plan, kind, written.partitions)
                             for kind in ("out_hosts", "in_hosts"))
    for partition in written.partitions:
        name = f"{partition_name(partition)}.parquet"
        crawled = _scan_pieces(work, pieces, "crawled", partition, _CRAWLED).select(
            "host", "domain", "pages_crawled")
        out_degree = (out_pieces.read(partition, _OUT_HOSTS).lazy()
                      .group_by("src_host", maintain_order=True)
                      .agg(pl.col("domain").first(), pl.col("out_hosts").sum()))
        # a target host's in-degree comes in pieces when its domain was split by source
        # domain (disjoint sources: the pieces add up)
        in_degree = (in_pieces.read(partition, _IN_HOSTS).lazy()
                     .group_by("dst_host", maintain_order=True)
                     .agg(pl.col("domain").first(), pl.col("in_hosts").sum(),
                          pl.col("in_domains").sum()))
        names = pl.concat([
            crawled.select("host", "domain"),
            out_degree.select(pl.col("src_host").alias("host"), "domain"),
            in_degree.select(pl.col("dst_host").alias("host"), "domain"),
        ]).unique(subset=["host"], keep="first")
        rows = (
            names.join(crawled.drop("domain"), on="host", how="left")
            .join(out_degree.drop("domain"), left_on="host", right_on="src_host", how="left")
            .join(in_degree.drop("domain"), left_on="host", right_on="dst_host", how="left")
            .select(
                "host", "domain",
                *(pl.col(column).fill_null(0).cast(pl.Int64)
                  for column in ("pages_crawled", "out_hosts", "in_hosts", "in_domains")),
            )
            .sort("host")
            .collect()
        )
        graph.write(rows.with_columns(*NO_RANKS), f"hosts/{name}", compression="zstd")
        written.add("hosts", rows.height)
        _write_split(work, rows.group_by("domain").agg(
            pl.len().alias("hosts"), pl.col("pages_crawled").sum()),
            "domain_hosts", "domain", partition_name(partition), plan.partitions)
    written.record()


def reduce_domains(plan: AggregationPlan, partitions: Iterable[int]) -> None:
    """Step 3b for some domain partitions: one row per registered domain of the hosts."""
    graph, work = plan.graph, plan.work
    written = _Written(work, "domains", partitions)
    per_pieces, out_pieces, in_pieces = (
        _piece_reader(plan, kind, written.partitions)
        for kind in ("domain_hosts", "out_domains", "in_domains"))
    for partition in written.partitions:
        per_domain = (per_pieces.read(partition, _DOMAIN_HOSTS).lazy()
                      .group_by("domain").agg(pl.col("hosts").sum(),
                                              pl.col("pages_crawled").sum()))
        out_degree = (out_pieces.read(partition, _OUT_DOMAINS).lazy()
                      .group_by("src_domain").agg(pl.col("out_domains").sum()))
        in_degree = (in_pieces.read(partition, _IN_DOMAINS).lazy()
                     .group_by("dst_domain").agg(pl.col("in_domains").sum()))
        rows = (
            per_domain.join(out_degree, left_on="domain", right_on="src_domain", how="left")
            .join(in_degree, left_on="domain", right_on="dst_domain", how="left")
            .select(
                "domain",
                *(pl.col(column).fill_null(0).cast(pl.Int64)
                  for column in ("hosts", "pages_crawled", "out_domains", "in_domains")),
            )
            .sort("domain")
            .collect()
        )
        graph.write(rows.with_columns(*NO_RANKS), f"domains/{partition_name(partition)}.parquet",
                    compression="zstd")
        written.add("domains", rows.height)
    written.record()


def scan_table(graph: Folder, table: str) -> pl.LazyFrame:
    return graph.scan(table_files(graph, table))


def _crawls(work: Folder) -> pl.DataFrame:
    per_page = (work.scan(work.files_in("crawl_pages")).group_by("crawl").agg(
        pl.col("pages").sum(), pl.col("hosts").sum(),
        pl.col("first_fetch").min(), pl.col("last_fetch").max()))
    link_files = work.files_in("crawl_links")
    per_link = (work.scan(link_files).group_by("crawl").agg(
        pl.col("links").sum(), pl.col("external_links").sum()) if link_files else
        pl.LazyFrame(schema={"crawl": pl.String(), "links": pl.UInt32(),
                             "external_links": pl.UInt32()}))
    return (
        per_page.join(per_link, on="crawl", how="left")
        .select(
            "crawl",
            *(pl.col(name).fill_null(0).cast(pl.Int64)
              for name in ("pages", "hosts", "links", "external_links")),
            "first_fetch", "last_fetch",
        )
        .sort("crawl")
        .collect()
    )


def _check_complete(plan: AggregationPlan) -> None:
    graph = plan.graph
    for table in ("pages", "links", "hosts", "domains"):
        found = len(table_files(graph, table))
        if found < plan.partitions:
            raise GraphError(
                f"aggregation of {plan.store.location!r} has {found} of {plan.partitions} "
                f"partitions of {table}; run `backlinks run` again"
            )


def rank_graph(plan: AggregationPlan, options: GraphOptions, settings: Settings | None = None,
               map_fn: MapFn[Any] = run_here,
               report: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Step 4a: the authority columns of hosts and domains (rank_tables.py: in this process
    when the graph fits ``aggregate_memory_mb``, else as rounds of tasks given to ``map_fn``,
    or from a ranks file). Returns the nodes a ranks file left unranked and how each table
    was ranked (``ranked``: table -> memory, partitions or file)."""
    _check_complete(plan)
    result: dict[str, Any] = {"unranked_hosts": 0, "unranked_domains": 0, "ranked": {}}
    if not options.ranks:
        return result
    files = ranks_files(options.ranks_file) if options.ranks_file else None
    work_dir, temporary = _rank_work_dir(plan)
    try:
        for spec, ranks_file, counter in ((HOSTS, files.hosts if files else "", "unranked_hosts"),
                                          (DOMAINS, files.domains if files else "",
                                           "unranked_domains")):
            method, unranked = rank_table(plan.graph, spec, options, plan.partitions, work_dir,
                                          ranks_file=ranks_file, settings=settings,
                                          map_fn=map_fn, report=report)
            result[counter] = unranked
            result["ranked"][spec.table] = method
    finally:
        if temporary:
            shutil.rmtree(work_dir, ignore_errors=True)
    return result


def _rank_work_dir(plan: AggregationPlan) -> tuple[Path, bool]:
    """The local folder of the ranks' work files: in the graph's work folder when the data
    location is local (a killed run's is swept with its graph), else a temporary folder
    (removed at the end: True)."""
    try:
        return plan.store.local_path(plan.work.name_of("ranks")), False
    except StorageError:
        return new_scratch("ranks"), True


def _complete_tables(plan: AggregationPlan, ranked: dict[str, Any]) -> dict[str, Any]:
    """After the steps and the ranks (``ranked``: what rank_graph returned): the crawls
    table; the row count of every table."""
    graph, work = plan.graph, plan.work
    _check_complete(plan)
    _check_referrals(plan)
    crawls = _crawls(work)
    graph.write(crawls, "crawls/p0000.parquet", compression="zstd")
    rows = {**_written_rows(work), "crawls": crawls.height}
    work.delete_all()
    return {**{table: rows.get(table, 0) for table in TABLES}, **ranked}


def write_referrals(plan: AggregationPlan, partitions: Iterable[int],
                    options: GraphOptions, shards: int = 0) -> None:
    """Step 5, once the domains are ranked, for some target-domain partitions: each of
    their sub-buckets' referrals with the referring domains' authority, written to the graph
    (named as the sub-bucket's links file). The authority is looked up in a dictionary of
    the ranked domains that link to another (tables.DomainAuthority), built once a task, or
    in ``shards`` of them (by default as many as keep each within the memory setting:
    ``authority_shards``); a task holds one shard and one file of referrals at a time."""
    graph, work = plan.graph, plan.work
    written = _Written(work, "referrals", partitions)
    stems = {partition_name(partition) for partition in written.partitions}
    names = [name for name in work.files_in("referrals")
             if _file_name(name).split("-")[0].removesuffix(".parquet") in stems]
    if names:  # a referring domain links to another domain: out_domains is at least 1
        linking = (scan_table(graph, "domains").filter(pl.col("out_domains") > 0)
                   .select("domain", "authority"))
        shards = shards or authority_shards(linking.select(pl.len()).collect().item(),
                                            options.aggregate_memory_mb)
        with _referral_files(work, names, shards) as files, \
                _referral_authority(files, names, linking, shards) as authority_of:
            for name in names:
                rows = files.scan([name]).collect()
                rows = with_authority(rows, authority_of(name, rows["referring_domain"]))
                graph.write(rows, f"referrals/{_file_name(name)}", compression="zstd",
                            row_group_size=_ROW_GROUP)
                written.add("referrals", rows.height)
    written.record()


def authority_shards(domains: int, memory_mb: int) -> int:
    """The shards the referrals step builds its dictionary of ``domains`` linking domains
    in: as many as keep each within half a task's share of ``memory_mb`` above
    BUCKET_BASE_MB (the other half for one file of referrals)."""
    budget = (memory_mb - BUCKET_BASE_MB) * 2**20 // 2
    return max(1, math.ceil(domains * AUTHORITY_DOMAIN_MEMORY / max(1, budget)))


@contextmanager
def _referral_files(work: Folder, names: list[str], shards: int) -> Iterator[Folder]:
    """Where the referrals files ``names`` are read: in ``work``, or, in several shards
    (each file read once a shard and once more), from a copy on this machine's disk when
    ``work`` is remote, so that each leaves the location once."""
    if shards == 1:
        yield work
        return
    with work.store.read_locally([work.name_of(name) for name in names]) as store:
        yield Folder(store, work.name)


@contextmanager
def _referral_authority(
    work: Folder, names: list[str], linking: pl.LazyFrame, shards: int,
) -> Iterator[Callable[[str, pl.Series], pl.Series]]:
    """A function giving the authority of a referrals file's referring domains (``name`` in
    ``work``, its ``referring_domain`` column). In one shard, every linking domain in one
    dictionary. In several, one shard's dictionary at a time: for each, every file's
    referring domains of that shard are looked up and kept on this machine's disk (row,
    authority); a file's authority is then its shards' put together."""
    if shards == 1:
        every_domain = DomainAuthority(linking.collect())
        yield lambda name, referring: every_domain.of(referring)
        return
    dtype = linking.collect_schema()["authority"]
    with scratch_folder("authority") as scratch:
        for shard in range(shards):
            lookup = DomainAuthority(
                linking.filter(authority_shard("domain", shards) == shard).collect())
            for index, name in enumerate(names):
                mine = (work.scan([name]).select("referring_domain").collect()
                        .with_row_index("row")
                        .filter(authority_shard("referring_domain", shards) == shard))
                pl.DataFrame({"row": mine["row"],
                              "authority": lookup.of(mine["referring_domain"])},
                             schema={"row": pl.UInt32(), "authority": dtype}
                             ).write_ipc(scratch / f"{index}-{shard}.arrow")
            del lookup  # its dictionary freed before the next shard's is built
        order = {name: index for index, name in enumerate(names)}

        def authority_of(name: str, referring: pl.Series) -> pl.Series:
            found = pl.concat([pl.read_ipc(scratch / f"{order[name]}-{shard}.arrow")
                               for shard in range(shards)])
            return (pl.Series("authority", dtype=dtype).extend_constant(None, len(referring))
                    .scatter(found["row"], found["authority"]))

        yield authority_of


def _file_name(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _check_referrals(plan: AggregationPlan) -> None:
    """Every sub-bucket's referrals have been given their authority (write_referrals)."""
    missing = ({_file_name(name) for name in plan.work.files_in("referrals")}
               - {_file_name(name) for name in plan.graph.files_in("referrals")})
    if missing:
        raise GraphError(
            f"aggregation of {plan.store.location!r} has {len(missing)} referral files "
            f"without authority (the first: {min(missing)}); run `backlinks run` again"
        )


def write_graph(pages: pl.LazyFrame, links: pl.LazyFrame, folder: Folder,
                options: GraphOptions) -> dict[str, int]:
    """Every table of TABLES in ``folder`` from raw page and link rows (several captures of
    a page allowed), as one partition, in this process; the row count of each (benchmarks
    build graphs of generated rows this way)."""
    plan = AggregationPlan(folder.store, folder.name, 0, 1, rows={"pages": pages,
                                                                   "links": links})
    for table in (*TABLES, WORK):
        folder.store.prepare(folder.name_of(table))
    reduce_pages(plan, [0], options)
    reduce_links(plan, [0], options)
    reduce_hosts(plan, [0])
    reduce_domains(plan, [0])
    ranked = rank_graph(plan, options)
    write_referrals(plan, [0], options)
    return _complete_tables(plan, ranked)


def finish_aggregation(plan: AggregationPlan, options: GraphOptions, ranked: dict[str, Any],
                       sub_buckets: int = 0) -> GraphSummary:
    """After every step and the ranks (``ranked``: what rank_graph returned): the crawls
    table, the manifest; make the graph the current one."""
    graph = plan.graph
    try:
        parts = _parts_records(plan)  # (before the work folder goes)
        counts = _complete_tables(plan, ranked)
        write_manifest(graph, plan.partitions, (parts, plan.parts_listed), counts, options)
        folder = plan.store.install_graph(plan.folder)
    except BaseException:
        graph.delete_all()
        raise
    return GraphSummary(
        folder=folder, parts=plan.parts, pages=counts["pages"], links=counts["links"],
        host_edges=counts["host_edges"], domain_edges=counts["domain_edges"],
        hosts=counts["hosts"], domains=counts["domains"],
        buckets=sub_buckets or plan.partitions, partitions=plan.partitions,
        unranked_hosts=counts["unranked_hosts"], unranked_domains=counts["unranked_domains"],
    )


def _parts_records(plan: AggregationPlan) -> list[dict[str, object]]:
    """The manifest records of the plan's parts, in order (``_index_parts``: a file a
    slice)."""
    records: list[dict[str, object]] = []
    for name in sorted(plan.work.files(PARTS_RECORDS)):
        text = plan.work.read_text(name)
        records += [json.loads(line) for line in (text or "").splitlines()]
    if len(records) != plan.parts:
        raise GraphError(f"the work files {plan.work.url(PARTS_RECORDS + '*.jsonl')!r} of this "
                         f"aggregation record {len(records)} of its {plan.parts} parts; run "
                         "again: a new aggregation writes them anew")
    return records


def write_manifest(graph: Folder, partitions: int,
                   parts: tuple[list[dict[str, object]], str], counts: dict[str, Any],
                   options: GraphOptions) -> None:
    """What a graph was built from: per part its input, version, counts and the SHA-256 of
    its files, and the ``parts_digest`` of their listing (``parts``: both); the options
    that shaped it; the files and row count of every table; the hosts and domains a ranks
    file left unranked; how each table was ranked."""
    records, listed = parts
    manifest = {
        "tables": {table: counts[table] for table in TABLES},
        "unranked": {key: counts.get(key, 0) for key in ("unranked_hosts", "unranked_domains")},
        "ranked": counts.get("ranked", {}),
        "files": {table: table_files(graph, table) for table in TABLES},
        "partitions": partitions,
        "options": asdict(options),
        "parts": records,
        "parts_listed": listed,
    }
    graph.write_text(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))


@dataclass(frozen=True)
class CurrentGraph:
    """The current graph of a data location with its manifest, read once (a crawl's is
    about 85 MB): what a run asks of it."""

    store: DataStore
    folder: str
    manifest: dict[str, Any]

    def records(self) -> dict[str, dict[str, Any]]:
        """The manifest's records of the graph's parts, by key (``part_record``), for a
        run's lookup of its inputs (``already_processed``)."""
        records = self.manifest.get("parts")
        if not isinstance(records, list):
            return {}
        return {record["key"]: record for record in records
                if isinstance(record, dict) and isinstance(record.get("key"), str)}

    def is_current(self, options: GraphOptions,
                   listed: Mapping[str, ListedFiles] | None = None) -> bool:
        """Whether the graph was built from exactly the parts there are now (the same
        part.json files, as one listing of the parts shows them: a part written again has
        a new one) with these options: nothing new to aggregate. A part whose files were
        damaged since does not change the graph built from it; the run that reads its
        input again finds the damage and writes the part again. ``listed``: the parts'
        listing, when the caller has just made it (``listed_parts``)."""
        manifest = self.manifest
        if listed is None:
            listed = listed_parts(self.store)
        same_parts = manifest.get("parts_listed") == parts_digest(listed)
        same_options = manifest.get("options") == json.loads(json.dumps(asdict(options)))
        # a graph of an older version without a table of this one is built again
        tables = manifest.get("tables")
        same_tables = isinstance(tables, dict) and sorted(tables) == sorted(TABLES)
        return same_parts and same_options and same_tables

    def summary(self) -> GraphSummary:
        """The graph's summary, from its manifest."""
        manifest = self.manifest
        counts = manifest.get("tables")
        parts = manifest.get("parts")
        partitions = manifest.get("partitions")
        if not isinstance(counts, dict) or not isinstance(parts, list) or not isinstance(
                partitions, int):
            raise GraphError(f"the manifest of {self.store.url(self.folder)!r} is "
                             "incomplete; run again")
        return GraphSummary(
            folder=self.folder, parts=len(parts), pages=counts["pages"],
            links=counts["links"], host_edges=counts["host_edges"],
            domain_edges=counts["domain_edges"], hosts=counts["hosts"],
            domains=counts["domains"], buckets=partitions, partitions=partitions,
            **_unranked(manifest.get("unranked")),
        )


def current_graph(store: DataStore) -> CurrentGraph | None:
    """The current graph and its manifest, or None."""
    folder = store.current_graph()
    if folder is None:
        return None
    text = store.read_text(f"{folder}/{MANIFEST}")
    if text is None:
        return None
    try:
        return CurrentGraph(store, folder, dict(json.loads(text)))
    except ValueError:
        return None


def recorded_parts(store: DataStore) -> dict[str, dict[str, Any]]:
    """The current graph's records of its parts (``CurrentGraph.records``); none without
    a current graph."""
    found = current_graph(store)
    return found.records() if found is not None else {}


def graph_is_current(store: DataStore, options: GraphOptions) -> str | None:
    """The current graph's folder when it is current for these options
    (``CurrentGraph.is_current``): nothing new to aggregate; else None."""
    found = current_graph(store)
    return found.folder if found is not None and found.is_current(options) else None


def _unranked(recorded: object) -> dict[str, int]:
    """The unranked counts of a manifest (none in a graph written before they were kept)."""
    if not isinstance(recorded, dict):
        return {}
    return {key: int(recorded.get(key, 0)) for key in ("unranked_hosts", "unranked_domains")}


def aggregate(
    store: DataStore, options: GraphOptions = GraphOptions(),  # noqa: B008
    settings: Settings | None = None,
) -> GraphSummary:
    """Build the graph from every complete part, every step in this process; replace the
    old graph at the end. (The flow runs each step's partitions as parallel tasks.)"""
    plan = plan_aggregation(store, options)
    try:
        reduce_pages(plan, range(plan.partitions), options)
        buckets = reduce_links(plan, range(plan.partitions), options)
        reduce_hosts(plan, range(plan.partitions))
        reduce_domains(plan, range(plan.partitions))
        ranked = rank_graph(plan, options, settings)
        write_referrals(plan, range(plan.partitions), options)
    except BaseException:
        plan.graph.delete_all()
        raise
    return finish_aggregation(plan, options, ranked, buckets)

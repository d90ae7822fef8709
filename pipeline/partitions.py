"""Partitions: which of a data location's P partitions a row belongs to.

A link row goes to the partition of its target's registered domain (``dst_domain``), a page
row to the partition of its host, and the graph's tables keep the same split, so that all
the links into a domain, and all the captures of a URL, meet in one task, and a lookup reads
one partition. The partition of a name is the first 32 bits of its MD5, modulo P: stable
across versions, machines and languages, and any DuckDB client computes it too::

    select (('0x' || md5(dst_domain)[1:8])::ubigint % 16) as partition

(the ``partition_of`` table macro of sql/macros/00_target.sql). P is chosen when a data
location gets its first part and recorded there (parts/layout.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from functools import lru_cache
from types import ModuleType

import polars as pl

from pipeline.compiled import core_module

DEFAULT_PARTITIONS = 16
MAX_PARTITIONS = 4096
PARTITION_COLUMN = "_partition"


def _md5_value(name: str) -> int:
    return int(hashlib.md5(name.encode("utf-8")).hexdigest()[:8], 16)


_md5_prefix = lru_cache(maxsize=1 << 18)(_md5_value)  # names recur across a file's batches


def partition_of(name: str, partitions: int) -> int:
    """The partition of ``name`` (a registered domain, or a host) among ``partitions``."""
    return _md5_prefix(name) % partitions


def partition_map(names: Iterable[str], partitions: int) -> dict[str, int]:
    """``partition_of`` for each distinct name (the work is per distinct name, not per row)."""
    return {name: _md5_prefix(name) % partitions for name in set(names)}


def partition_column(frame: pl.DataFrame, column: str, partitions: int) -> pl.Series:
    """The partition of every row of ``frame`` by ``column``, as a UInt32 Series."""
    return _partitions(frame[column], partitions, _md5_prefix)


def partition_series(names: pl.Series, partitions: int) -> pl.Series:
    """The same for a Series of names, without the cache: for a task that meets many names
    once (the ranks' rounds), where the cache's 2^18 entries would cost it about 80 MiB."""
    return _partitions(names, partitions, _md5_value)


def _partitions(names: pl.Series, partitions: int, prefix: Callable[[str], int]) -> pl.Series:
    """The partition of every name: by the compiled core when it is installed (one call for
    the column, about 0.15 us a name), else in Python (``python_partitions``)."""
    if partitions == 1 or len(names) == 0:
        return pl.Series(PARTITION_COLUMN, [0] * len(names), dtype=pl.UInt32)
    core = core_module()
    if core is None:
        return python_partitions(names, partitions, prefix)
    return compiled_partitions(core, names, partitions)


def compiled_partitions(core: ModuleType, names: pl.Series, partitions: int) -> pl.Series:
    """The partition of every name, computed by the compiled core (core/src/partitions.rs)."""
    return pl.DataFrame(core.md5_partitions(names.to_frame(), partitions, PARTITION_COLUMN)
                        ).to_series()


def python_partitions(names: pl.Series, partitions: int,
                      prefix: Callable[[str], int] = _md5_value) -> pl.Series:
    """The partition of every name, computed once per distinct name in Python and joined
    back (a dict of them handed to ``replace_strict`` cost about 400 bytes a name)."""
    distinct = names.unique()
    found = pl.Series(PARTITION_COLUMN, [prefix(name) % partitions
                                         for name in distinct.to_list()], dtype=pl.UInt32)
    mapping = pl.DataFrame({"name": distinct, PARTITION_COLUMN: found})
    return (pl.DataFrame({"name": names})
            .join(mapping, on="name", how="left", maintain_order="left")[PARTITION_COLUMN])


def partition_expr(column: str, partitions: int) -> pl.Expr:
    """The same as an expression, for lazy frames (per distinct value, in Python)."""
    if partitions == 1:
        return pl.lit(0, dtype=pl.UInt32)
    return pl.col(column).map_batches(
        lambda names: _partitions(names, partitions, _md5_prefix), return_dtype=pl.UInt32)


def partition_name(partition: int) -> str:
    """The file stem of a partition: ``p0007``."""
    return f"p{partition:04d}"

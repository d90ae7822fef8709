"""Exports: backlinks as Parquet, CSV or JSON lines, and the host or domain graph in
cc-webgraph's layout, for WebGraph and LAW tools.

Every file is written under a temporary name beside its destination and renamed into place
when complete, so an interrupted export leaves no half-written file under the final name.
Values (the target, the paths) are bound as parameters, never formatted into SQL.

cc-webgraph's layout (https://github.com/commoncrawl/cc-webgraph): gzipped text,
``<name>-vertices.txt.gz`` with ``id<TAB>reversed name`` (``com.example.www``) sorted by
the reversed name, ids ``0..n-1`` in that order (the domain graph adds a third column, the
number of hosts), and ``<name>-edges.txt.gz`` with ``from_id<TAB>to_id`` sorted
numerically.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipeline.errors import ExportError
from pipeline.storage import atomic

# Timestamps in text formats: ISO 8601 in UTC with a T and a Z (2024-05-20T10:00:00.000000Z),
# which DuckDB's read_csv and read_json and Polars' read_csv(try_parse_dates=True) read back
# as timestamps (Polars' read_ndjson keeps the string: str.to_datetime() parses it).
ISO_TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
ROW_FORMATS = {
    "parquet": "(format parquet, compression zstd)",
    "csv": f"(format csv, header true, timestampformat '{ISO_TIMESTAMP}')",
    # newline-delimited: one JSON object per line
    "jsonl": f"(format json, timestampformat '{ISO_TIMESTAMP}')",
}
# The format a file name says, for an export without --format.
SUFFIX_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
                  ".ndjson": "jsonl", ".json": "jsonl"}
GRAPHS = ("host", "domain")


def format_of(path: Path) -> str | None:
    """The row format ``path``'s name says (x.csv: csv), or None."""
    return SUFFIX_FORMATS.get(path.suffix.lower())

# Each graph: (vertex table, its key, its extra vertex columns, edge table). Vertex ids are
# the positions of the reversed names in sorted order, as cc-webgraph numbers them.
_GRAPH_TABLES = {
    "host": ("hosts", "host", "", "host_edges"),
    "domain": ("domains", "domain", ", hosts", "domain_edges"),
}


def _graph_queries(table: str, key: str, extra: str, edges: str) -> tuple[str, str]:
    """The vertices query (id, reversed name[, extra]) and the edges query (id pairs) of a
    graph, from the code's own table and column names."""
    ids = f"""
        with ids as (
            select row_number() over (order by reversed) - 1 as id, name, reversed{extra}
            from (select {key} as name,
                         array_to_string(list_reverse(string_split({key}, '.')), '.')
                             as reversed{extra}
                  from {table}))"""
    vertices = f"{ids} select id, reversed{extra} from ids order by id"
    pairs = f"""{ids}
        select src.id as src_id, dst.id as dst_id
        from {edges}
        join ids as src on src.name = {edges}.src_{key}
        join ids as dst on dst.name = {edges}.dst_{key}
        order by src_id, dst_id"""
    return vertices, pairs


_QUERIES = {graph: _graph_queries(*tables) for graph, tables in _GRAPH_TABLES.items()}
_GZIPPED_TSV = "(format csv, delimiter '\t', header false, quote '', compression gzip)"


@dataclass(frozen=True)
class WebgraphFiles:
    vertices: Path
    edges: Path
    vertex_count: int
    edge_count: int


def _check_destination(path: Path, force: bool) -> None:
    if path.is_dir():
        raise ExportError(f"{str(path)!r} is a folder; give a file name with -o")
    if path.exists() and not force:
        raise ExportError(f"{str(path)!r} exists; pass --force to replace it")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """storage.atomic's atomic_path, with a folder that cannot be made as an ExportError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the folder of {str(path)!r}: {exc}") from exc
    with atomic.atomic_path(path) as temporary:
        yield temporary


def _copy(con: duckdb.DuckDBPyConnection, query: str, options: str,
          parameters: dict[str, object], path: Path) -> int:
    # Named parameters: COPY binds its path before the query's own parameters.
    with atomic_path(path) as temporary:
        try:
            con.execute("set TimeZone = 'UTC'")  # timestamps are written in UTC, with a Z
            result = con.execute(
                f"copy ({query}) to $path {options}", {**parameters, "path": str(temporary)}
            )
        except duckdb.IOException as exc:  # said of the file asked for, not the temporary one
            message = str(exc).replace(str(temporary), str(path))
            raise ExportError(f"cannot write {str(path)!r}: {message}") from exc
        row = result.fetchone()
    return int(row[0]) if row else 0


def export_backlinks(
    con: duckdb.DuckDBPyConnection, target: str | None, fmt: str, path: Path, *,
    force: bool = False,
) -> int:
    """Write the backlinks of ``target`` (the rows of ``backlinks(target)``), or with
    ``target=None`` every backlink in the graph (``external_links``); return the row count."""
    if fmt not in ROW_FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(ROW_FORMATS)}")
    _check_destination(path, force)
    if target is None:
        return _copy(con, "select * from external_links", ROW_FORMATS[fmt], {}, path)
    return _copy(con, "select * from backlinks($target)", ROW_FORMATS[fmt], {"target": target}, path)


def webgraph_paths(prefix: Path) -> tuple[Path, Path]:
    return (prefix.with_name(prefix.name + "-vertices.txt.gz"),
            prefix.with_name(prefix.name + "-edges.txt.gz"))


def export_webgraph(
    con: duckdb.DuckDBPyConnection, graph: str, prefix: Path, *, force: bool = False
) -> WebgraphFiles:
    """Write ``<prefix>-vertices.txt.gz`` and ``<prefix>-edges.txt.gz`` of the host or
    domain graph in cc-webgraph's layout (see the module docstring)."""
    if graph not in GRAPHS:
        raise ExportError(f"unknown graph {graph!r}; use one of {', '.join(GRAPHS)}")
    vertices, edges = webgraph_paths(prefix)
    for path in (vertices, edges):
        _check_destination(path, force)
    vertex_query, edge_query = _QUERIES[graph]
    vertex_count = _copy(con, vertex_query, _GZIPPED_TSV, {}, vertices)
    edge_count = _copy(con, edge_query, _GZIPPED_TSV, {}, edges)
    return WebgraphFiles(vertices, edges, vertex_count, edge_count)

"""Open a published database and run its table macros, for the CLI, exports and reports.

``connect`` checks that the file is a cc-backlinks database of this version and, for a
database of views over S3, sets DuckDB up to read the graph where it is (from the file's
``storage`` row; credentials from this machine). Macro arguments are always bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from pipeline.errors import BacklinksError, DatabaseError
from pipeline.graph.aggregate import TABLES
from pipeline.storage import is_object_location, open_store

REQUIRED_TABLES = (*TABLES, "runs", "storage")
MACROS = (
    "backlinks", "referring_domains", "referring_hosts", "anchors", "linked_domains",
    "top_pages", "link_types", "link_contexts", "link_profile",
)
PAIR_MACROS = ("common_referring_domains", "new_referring_domains", "lost_referring_domains")


def connect(db_path: Path, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open a published database, or raise DatabaseError saying how to make one."""
    if not db_path.is_file():
        raise DatabaseError(
            f"no database at {str(db_path)!r}; build one with `backlinks run` "
            "or point to one with --db"
        )
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.Error as exc:
        raise DatabaseError(f"cannot open {str(db_path)!r} as a DuckDB database: {exc}") from exc
    present = {row[0] for row in con.execute(
        "select table_name from duckdb_tables() union all select view_name from duckdb_views()"
    ).fetchall()}
    missing = [table for table in REQUIRED_TABLES if table not in present]
    if missing:
        con.close()
        if {"links", "runs"} <= present:  # ours, from before the table was added
            raise DatabaseError(
                f"{str(db_path)!r} was built by an older cc-backlinks (no table "
                f"{missing[0]!r}); run `backlinks run` again to rebuild it (complete parts "
                "are reused)"
            )
        raise DatabaseError(
            f"{str(db_path)!r} is not a cc-backlinks database (no table {missing[0]!r}); "
            "build one with `backlinks run`"
        )
    _read_storage(con, db_path)
    return con


def _read_storage(con: duckdb.DuckDBPyConnection, db_path: Path) -> None:
    """A database of views over S3 needs httpfs and the endpoint to answer: set them up from
    its ``storage`` row (credentials come from this machine's AWS configuration)."""
    row = con.execute("select data_location, endpoint_url, region, database from storage"
                      ).fetchone()
    if row is None or row[3] != "views" or not is_object_location(row[0]):
        return
    try:
        open_store(row[0], row[1], row[2]).configure_duckdb(con)
    except (duckdb.Error, BacklinksError) as exc:
        con.close()
        raise DatabaseError(
            f"{str(db_path)!r} holds views over {row[0]!r} and cannot reach it ({exc}); "
            "install duckdb-extension-httpfs and configure AWS credentials"
        ) from exc


def run_macro(
    con: duckdb.DuckDBPyConnection, macro: str, *arguments: str, limit: int | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows of one table macro; its arguments are bound, never formatted in."""
    expected = 1 if macro in MACROS else 2 if macro in PAIR_MACROS else 0
    if not expected:
        known = ", ".join((*MACROS, *PAIR_MACROS))
        raise DatabaseError(f"unknown macro {macro!r}; known macros: {known}")
    if len(arguments) != expected:
        raise DatabaseError(f"macro {macro!r} takes {expected} argument(s), got {len(arguments)}")
    placeholders = ", ".join(["?"] * expected)
    sql = f"select * from {macro}({placeholders})"
    parameters: list[Any] = list(arguments)
    if limit is not None:
        sql += " limit ?"
        parameters.append(limit)
    result = con.execute(sql, parameters)
    columns = [column[0] for column in result.description or []]
    return columns, result.fetchall()

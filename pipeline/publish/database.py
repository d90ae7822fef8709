"""The published DuckDB database: built from the aggregates, swapped into place atomically.

``publish`` builds a new database file next to the old one, applies ``sql/`` (tables, views,
macros), loads the rows, checkpoints, and renames it over the old file in one step
(storage.atomic). Reading it is ``serve/database.py``. A reader
that opened the old file keeps reading it; a new reader gets the new one; nobody sees a
half-built database.

By default (``database = "tables"``) the database holds its tables (no paths to Parquet
files), so it works from any working directory and in any DuckDB client. With
``database = "views"`` the graph tables are views over the graph's Parquet files where they
are (a local data folder, or S3 through httpfs), but for ``hosts`` and ``domains``, copied in
sorted by name (COPIED_INTO_VIEWS): a small file whatever the size of the links, and the
target macros read only the link files of the target's partition (``sql/views/``); the
``storage`` table says where, and ``serve.database.connect`` sets DuckDB up to read it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import duckdb

from pipeline import bundled
from pipeline.errors import GraphError
from pipeline.graph.aggregate import TABLES
from pipeline.graph.rank_tables import table_files
from pipeline.runs import RunRecord
from pipeline.storage import Folder
from pipeline.storage.atomic import atomic_path, sweep_temporaries

# In a database of views: the macros listing the link, referral and profile files by
# partition (sql/views/ reads them: a lookup reads only its target's partitions).
PARTITION_FILE_MACROS = {"links": "link_partition_files",
                         "referrals": "referral_partition_files",
                         "domain_profiles": "profile_partition_files"}
# Tables a database of views still holds, copied in sorted by their name: every lookup joins
# them on names known only at run time (the authority of each referring domain), which no
# file list can prune, while DuckDB's own storage skips the row groups of other names. They
# are a few percent of the graph's rows.
COPIED_INTO_VIEWS = {"hosts": "host", "domains": "domain"}
# A partition's file in a graph table folder: p0003.parquet, or p0003-s001.parquet (sub-bucket)
_PARTITION_FILE = re.compile(r"p(\d{4})(?:-s\d+)?\.parquet")


def sql_files() -> list[Path]:
    """The SQL applied to a new database, in order: schema (tables, views), then macros."""
    root = bundled.sql_dir()
    return sorted((root / "schema").glob("*.sql")) + sorted((root / "macros").glob("*.sql"))


def views_sql_files() -> list[Path]:
    """The SQL applied after ``sql_files`` to a database of views: the macros that read only
    the files of the target's partition (links, domains, hosts)."""
    return sorted((bundled.sql_dir() / "views").glob("*.sql"))


def _insert_runs(con: duckdb.DuckDBPyConnection, runs: Sequence[RunRecord]) -> None:
    if not runs:
        return
    con.executemany(
        "insert into runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                run.run_id, run.started, run.finished, run.status, run.inputs,
                run.inputs_reused, run.records, run.pages, run.links, run.failed_inputs,
                json.dumps(run.skipped, sort_keys=True), json.dumps(run.settings, sort_keys=True),
            )
            for run in runs
        ],
    )


def build(
    graph: Folder, runs: Sequence[RunRecord], path: Path, database: str = "tables"
) -> None:
    """Create a complete database at ``path`` (which must not exist): the graph's tables
    copied in (``tables``), or views over its Parquet files where they are but for the
    tables of COPIED_INTO_VIEWS (``views``)."""
    con = duckdb.connect(str(path))
    try:
        con.execute("set enable_progress_bar = false")
        graph.store.configure_duckdb(con)
        for sql_file in sql_files():
            con.execute(sql_file.read_text("utf-8"))
        for table in TABLES:
            files = table_files(graph, table)  # one per partition, empty ones included
            if database == "views" and table in COPIED_INTO_VIEWS:
                column = COPIED_INTO_VIEWS[table]
                con.execute(
                    f"insert into {table} by name select * from read_parquet(?) order by {column}",
                    [[graph.url(name) for name in files]],
                )
            elif database == "views":
                quoted = [graph.store.view_literal(graph.name_of(name)) for name in files]
                _replace_with_view(con, table, quoted)
                if table in PARTITION_FILE_MACROS:  # lookups read the target's partition
                    macro = PARTITION_FILE_MACROS[table]
                    quoted_by_partition = _files_by_partition(table, files, quoted)
                    con.execute(f"create or replace macro {macro}() as {quoted_by_partition}")
            else:
                con.execute(
                    f"insert into {table} by name select * from read_parquet(?)",
                    [[graph.url(name) for name in files]],
                )
        if database == "views":
            for sql_file in views_sql_files():
                con.execute(sql_file.read_text("utf-8"))
        _insert_runs(con, runs)
        location, endpoint_url, region = graph.store.describe()
        con.execute(
            "insert into storage values (?, ?, ?, ?, ?)",
            [location, graph.name, database, endpoint_url, region],
        )
        con.execute("checkpoint")
    finally:
        con.close()


def _files_by_partition(table: str, files: Sequence[str], quoted: Sequence[str]) -> str:
    """A SQL list whose item i + 1 lists the files of partition i: ``links/p0003.parquet``,
    or ``links/p0003-s000.parquet``, ``links/p0003-s001.parquet`` ... when the partition
    was reduced in sub-buckets. ``quoted`` holds the files' URLs as SQL literals."""
    groups: dict[int, list[str]] = {}
    for name, literal in zip(files, quoted, strict=True):
        found = _PARTITION_FILE.fullmatch(name.rsplit("/", 1)[-1])
        if found is None:
            raise GraphError(f"{name!r} is not a partition's file (pNNNN.parquet); "
                             "run `backlinks run` again to rebuild the graph")
        groups.setdefault(int(found.group(1)), []).append(literal)
    if not groups or sorted(groups) != list(range(len(groups))):
        missing = sorted(set(range(max(groups, default=0) + 1)) - set(groups))
        raise GraphError(f"the graph's {table} have no file of partition {missing[0]}; "
                         "run `backlinks run` again to rebuild the graph")
    return "[" + ", ".join(f"[{', '.join(groups[p])}]" for p in range(len(groups))) + "]"


def _replace_with_view(con: duckdb.DuckDBPyConnection, table: str, quoted: list[str]) -> None:
    """Swap the empty table for a view of the same columns over the Parquet files whose
    URLs are the SQL literals ``quoted``. DuckDB cannot bind a parameter inside CREATE VIEW, so the
    URL is written as a literal: the store's view_literal refuses any URL outside a plain
    character set (no quote can get in)."""
    columns = [name for (name,) in con.execute(
        "select column_name from duckdb_columns() where table_name = ? order by column_index",
        [table]).fetchall()]
    column = ", ".join(f'"{name}"' for name in columns)
    con.execute(f"drop table {table}")
    con.execute(
        f"create view {table} as select {column} from read_parquet([{', '.join(quoted)}])")


def publish(
    graph: Folder, runs: Sequence[RunRecord], db_path: Path, database: str = "tables"
) -> Path:
    """Build the database under a temporary name beside ``db_path``, then rename it there.
    ``graph`` is the graph's folder in its data store."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(db_path.parent, db_path.name)  # from a killed run
    with atomic_path(db_path) as temporary:
        build(graph, runs, temporary, database)
    return db_path

"""A digest of every published table: rows and an MD5 of all columns, ``order by all``.

    uv run python bench/digest.py backlinks-data/graph.duckdb [--json out.json]

Two databases whose digests match hold the same rows, column for column. A redesign or a
faster engine proves "same answers" by printing this before and after.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb

TABLES = ("pages", "links", "host_edges", "domain_edges", "hosts", "domains", "crawls",
          "referrals", "domain_profiles")


def table_digests(db: Path, tables: tuple[str, ...] = TABLES,
                  skip: tuple[str, ...] = ()) -> dict[str, tuple[int, str]]:
    """Table -> (rows, md5 of every row's columns as text, in ``order by all`` order);
    ``skip`` leaves columns out (a column a change adds, to compare the rest)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        present = {row[0] for row in con.execute(
            "select table_name from information_schema.tables").fetchall()}
        out: dict[str, tuple[int, str]] = {}
        for table in tables:
            if table not in present:
                continue
            columns = [row[0] for row in con.execute(
                "select column_name from information_schema.columns where table_name = ? "
                "order by ordinal_position", [table]).fetchall() if row[0] not in skip]
            # A stable text form of each row; doubles printed with 17 digits.
            parts = ", ".join(
                f"coalesce(cast({c} as varchar), '<null>')" for c in columns)
            rows, digest = con.execute(
                f"select count(*), md5(coalesce(string_agg(concat_ws('|', {parts}), chr(10) "
                f"order by {', '.join(columns)}), '')) from {table}").fetchone()
            out[table] = (int(rows), str(digest))
        return out
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--json", type=Path, help="also write the digests as JSON")
    parser.add_argument("--skip", action="append", default=[], help="a column to leave out")
    args = parser.parse_args()
    digests = table_digests(args.db, skip=tuple(args.skip))
    for table, (rows, digest) in digests.items():
        print(f"{table:<14} {rows:>10,}  {digest}")
    if args.json:
        args.json.write_text(json.dumps(digests, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()

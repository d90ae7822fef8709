"""Fill the query outputs of docs/sql.md from a real database, so the docs show what the
SQL returns on the bundled sample (tests/test_docs.py checks they still do).

A block in docs/sql.md is written as

    <!-- query: select * from link_profile('google.com') -->
    ...anything (replaced)...
    <!-- end -->

or ``<!-- example: 01_referring_domains_by_authority.sql -->`` for a file of
``sql/examples/``. The renderer puts the SQL and its output (the `backlinks sql` table
format) between the markers.

    python3 -m uv run --frozen --extra test python tests/render_sql_docs.py backlinks-data/graph.duckdb
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import duckdb

from flows.cli import render

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "sql.md"
EXAMPLES = REPO / "sql" / "examples"
BLOCK = re.compile(r"(<!-- (query|example): (.+?) -->\n)(.*?)(<!-- end -->)", re.S)
CELL_WIDTH = 64


def block_sql(kind: str, argument: str) -> str:
    if kind == "example":
        return (EXAMPLES / argument).read_text("utf-8").strip()
    return argument.strip()


def output(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    result = con.execute(sql)
    columns = [column[0] for column in result.description or []]
    return render(columns, result.fetchall(), "table", width=CELL_WIDTH)


def render_doc(text: str, con: duckdb.DuckDBPyConnection) -> str:
    def fill(match: re.Match[str]) -> str:
        opening, kind, argument, _, closing = match.groups()
        sql = block_sql(kind, argument)
        return f"{opening}```sql\n{sql}\n```\n\n```text\n{output(con, sql)}\n```\n{closing}"

    return BLOCK.sub(fill, text)


def blocks(text: str) -> list[tuple[str, str]]:
    return [(kind, argument) for _, kind, argument, _, _ in BLOCK.findall(text)]


if __name__ == "__main__":
    database = sys.argv[1] if len(sys.argv) > 1 else "backlinks-data/graph.duckdb"
    connection = duckdb.connect(database, read_only=True)
    DOC.write_text(render_doc(DOC.read_text("utf-8"), connection), "utf-8")
    print(f"rendered {len(blocks(DOC.read_text('utf-8')))} blocks of {DOC} from {database}")

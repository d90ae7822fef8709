"""The row contract between extraction, parts and the graph: one page row and one link row
per page, in the column order of the part files' schemas.

``extract/page.py`` fills the rows, ``parts/part.py`` writes them in these schemas, and
``graph/aggregate.py`` reads them back. A new column goes here first (and bumps
``parts.part.PART_FORMAT``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import polars as pl

_TIME: pl.DataType = pl.Datetime("us", "UTC")

PAGES_SCHEMA = pl.Schema(
    {
        "crawl": pl.String(), "url": pl.String(), "host": pl.String(), "domain": pl.String(),
        "fetch_time": _TIME, "status": pl.Int16(), "links_internal": pl.Int32(),
        "links_external": pl.Int32(), "robots_nofollow": pl.Boolean(), "truncated": pl.Boolean(),
    }
)
LINKS_SCHEMA = pl.Schema(
    {
        "crawl": pl.String(), "src_url": pl.String(), "src_host": pl.String(),
        "src_domain": pl.String(), "dst_url": pl.String(), "dst_host": pl.String(),
        "dst_domain": pl.String(), "anchor": pl.String(), "link_type": pl.String(),
        "context": pl.String(), "nofollow": pl.Boolean(), "ugc": pl.Boolean(),
        "sponsored": pl.Boolean(),
        "external": pl.Boolean(), "fetch_time": _TIME,
    }
)
class PageRow(NamedTuple):
    """A row of ``pages``, in PAGES_SCHEMA's order (pages.py builds them)."""

    crawl: str
    url: str
    host: str
    domain: str
    fetch_time: datetime
    status: int
    links_internal: int
    links_external: int
    robots_nofollow: bool
    truncated: bool


class LinkRow(NamedTuple):
    """A row of a part's ``links``, in LINKS_SCHEMA's order (a tuple per link: cheap)."""

    crawl: str
    src_url: str
    src_host: str
    src_domain: str
    dst_url: str
    dst_host: str
    dst_domain: str
    anchor: str
    link_type: str
    context: str
    nofollow: bool
    ugc: bool
    sponsored: bool
    external: bool
    fetch_time: datetime


assert PageRow._fields == tuple(PAGES_SCHEMA) and LinkRow._fields == tuple(LINKS_SCHEMA)


def frame(rows: Sequence[PageRow] | Sequence[LinkRow], schema: pl.Schema) -> pl.DataFrame:
    """Rows (tuples in the schema's order) as a DataFrame, built column by column (a third
    of the time of polars' row-oriented constructor)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pl.DataFrame(
        {name: pl.Series(name, values, dtype=dtype)
         for (name, dtype), values in zip(schema.items(), columns, strict=True)},
    )

"""Kept and superseded captures (tables.kept_and_superseded) against their definition: the
latest fetch of each (crawl, url), the first part's on a tie, and every other capture that
differs from it, written the direct way (a sort of every row on all four keys, ``unique``
and an anti-join: the pages step's code until 2026-12-07), on hypothesis-made pages with
repeated URLs, several crawls and parts, equal and missing fetch times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.graph.tables import CAPTURE_PART, kept_and_superseded, pages_by_url

KEYS = ["crawl", "url", "fetch_time", CAPTURE_PART]
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def kept_by_definition(pages: pl.DataFrame) -> pl.DataFrame:
    return (pages.sort(KEYS, descending=[False, False, True, False])
            .unique(subset=["crawl", "url"], keep="first", maintain_order=True))


def superseded_by_definition(pages: pl.DataFrame, kept: pl.DataFrame) -> pl.DataFrame:
    return (pages.select(KEYS).join(kept.select(KEYS), on=KEYS, how="anti").unique()
            .rename({"url": "src_url"}))


captures = st.lists(
    st.tuples(
        st.sampled_from(["CC-MAIN-2024-18", "CC-MAIN-2024-22", "CC-MAIN-2025-05"]),
        st.sampled_from([f"https://h{n % 3}.example/{n}" for n in range(6)]),
        st.one_of(st.none(), st.integers(0, 3)),  # minutes after T0; None: no fetch time
        st.integers(0, 2),  # the part
        st.integers(0, 1_000),  # something that tells two copies apart (links_external)
    ),
    max_size=40,
)


def frame(rows: list[tuple[str, str, int | None, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"crawl": [r[0] for r in rows], "url": [r[1] for r in rows],
         "host": [r[1].split("/")[2] for r in rows],
         "fetch_time": [None if r[2] is None else T0 + timedelta(minutes=r[2]) for r in rows],
         "links_external": [r[4] for r in rows], CAPTURE_PART: [r[3] for r in rows]},
        schema={"crawl": pl.String(), "url": pl.String(), "host": pl.String(),
                "fetch_time": pl.Datetime("us", "UTC"), "links_external": pl.Int32(),
                CAPTURE_PART: pl.UInt32()})


@settings(max_examples=300, deadline=None)
@given(captures)
def test_kept_and_superseded_match_their_definition(rows: list[tuple[str, str, int | None, int, int]]) -> None:
    pages = frame(rows)
    kept, superseded = kept_and_superseded(pages_by_url(pages.rechunk()))
    expected = kept_by_definition(pages)
    # one row per (crawl, url), in (crawl, url) order, with the kept capture's keys
    assert kept.columns == pages.columns
    assert kept.select("crawl", "url").rows() == expected.select("crawl", "url").rows()
    assert kept.select(KEYS).rows() == expected.select(KEYS).rows()
    # the rest of the row is the kept capture's (one of its copies when a part holds it twice)
    copies = pages.join(kept.select(KEYS), on=KEYS, how="semi", nulls_equal=True)
    assert set(kept.rows()) <= set(copies.rows())
    # the superseded captures: a row for each copy the pages hold, none kept
    superseded_keys = ["crawl", "src_url", "fetch_time", CAPTURE_PART]
    lost = superseded_by_definition(pages, expected)
    assert set(superseded.select(superseded_keys).rows()) == set(lost.rows())
    copies = pages.rename({"url": "src_url"}).join(lost, on=superseded_keys, how="semi",
                                                   nulls_equal=True)
    assert superseded.height == copies.height
    assert superseded.columns == ["crawl", "src_url", "fetch_time", CAPTURE_PART]


def test_one_crawl_sorts_by_url_and_several_by_crawl_then_url() -> None:
    one = frame([("C1", "https://b/", 0, 0, 1), ("C1", "https://a/", 0, 0, 2)])
    assert pages_by_url(one)["url"].to_list() == ["https://a/", "https://b/"]
    two = frame([("C2", "https://a/", 0, 0, 1), ("C1", "https://b/", 0, 0, 2),
                 ("C1", "https://a/", 1, 0, 3)])
    assert pages_by_url(two).select("crawl", "url").rows() == [
        ("C1", "https://a/"), ("C1", "https://b/"), ("C2", "https://a/")]


def test_a_url_captured_twice_keeps_the_later_and_supersedes_the_earlier() -> None:
    pages = frame([("C1", "https://a/", 0, 1, 10), ("C1", "https://a/", 5, 1, 20),
                   ("C1", "https://b/", 0, 0, 30), ("C1", "https://a/", 5, 0, 40)])
    kept, superseded = kept_and_superseded(pages_by_url(pages))
    # the latest fetch wins; of its two parts the first (0) is kept
    assert kept["links_external"].to_list() == [40, 30]
    assert sorted(superseded.select("fetch_time", CAPTURE_PART).rows()) == [
        (T0, 1), (T0 + timedelta(minutes=5), 1)]

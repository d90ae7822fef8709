"""WAT input: links from Common Crawl's metadata records, checked against the WARC they describe."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE
from warcio.warcwriter import WARCWriter

from pipeline.domains import PublicSuffixList
from pipeline.pages import PageRows, page_rows
from pipeline.records import HtmlPage, Redirect, Skipped, iter_records
from pipeline.wat import INVALID_JSON, MALFORMED, WatPage, iter_wat_records

PSL = PublicSuffixList.bundled(private=False)
# (WARC, WAT of the same crawl file). The WAT samples hold only the first records of their
# WARC, so they are compared on the pages both contain.
PAIRS = [
    (SAMPLE / "sparkwarc" / "sample.repaired.warc.gz",
     SAMPLE / "sparkwarc" / "sample.repaired.warc.wat.gz"),
    (next((SAMPLE / "warc-js").glob("*.warc")), next((SAMPLE / "warc-js").glob("*.warc.wat"))),
]


def rows_by_url(path: Path, wat: bool) -> dict[str, PageRows]:
    found: dict[str, PageRows] = {}
    with open(path, "rb") as stream:
        events = (iter_wat_records(stream, input_name=str(path)) if wat
                  else iter_records(stream, input_name=str(path)))
        for event in events:
            if isinstance(event, HtmlPage | WatPage | Redirect):
                rows = page_rows(event, "c", PSL)
                assert rows.page is not None
                found[rows.page[1]] = rows
    return found


@pytest.mark.parametrize("warc, wat", PAIRS, ids=["sparkwarc", "warc-js"])
def test_wat_and_warc_agree_on_the_pages_both_hold(warc: Path, wat: Path) -> None:
    from_warc, from_wat = rows_by_url(warc, wat=False), rows_by_url(wat, wat=True)
    common = sorted(set(from_warc) & set(from_wat))
    assert common, "the pair shares no page"
    for url in common:
        html_rows, wat_rows = from_warc[url], from_wat[url]
        assert html_rows.page is not None and wat_rows.page is not None
        # links_internal, links_external, robots_nofollow
        assert html_rows.page[6:9] == wat_rows.page[6:9], url
        # the host edges agree exactly
        assert Counter(r[5] for r in html_rows.links) == Counter(r[5] for r in wat_rows.links)
        # link by link: (dst_url, anchor, type, nofollow, ugc, sponsored); the one difference
        # allowed is documented: WAT cannot see that an <a> holds only an image.
        def key(row: tuple[Any, ...]) -> tuple[Any, ...]:
            return (row[4], row[7], row[8], row[10], row[11], row[12])  # not the context

        only_html = Counter(map(key, html_rows.links)) - Counter(map(key, wat_rows.links))
        only_wat = Counter(map(key, wat_rows.links)) - Counter(map(key, html_rows.links))
        assert all(k[2] == "img" for k in only_html), only_html
        assert sorted((k[0], "a") for k in only_html) == sorted((k[0], k[2]) for k in only_wat)
        assert all(k[1] == "" for k in only_wat)


def test_the_pairs_share_six_pages() -> None:
    shared = sum(len(set(rows_by_url(a, False)) & set(rows_by_url(b, True))) for a, b in PAIRS)
    assert shared == 6


# --- WAT records written here, to pin each rule -----------------------------------------


def wat_record(envelope: dict[str, Any] | bytes, uri: str = "http://src.example.com/") -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    payload = envelope if isinstance(envelope, bytes) else json.dumps({"Envelope": envelope}).encode()
    record = writer.create_warc_record(
        uri, "metadata", payload=io.BytesIO(payload), warc_content_type="application/json"
    )
    writer.write_record(record)
    return out.getvalue()


def response_envelope(links: list[dict[str, Any]], status: str = "200",
                      headers: dict[str, str] | None = None,
                      head: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "WARC-Header-Metadata": {
            "WARC-Type": "response", "WARC-Target-URI": "http://src.example.com/dir/page",
            "WARC-Date": "2024-05-18T01:58:10Z",
        },
        "Payload-Metadata": {"HTTP-Response-Metadata": {
            "Response-Message": {"Status": status},
            "Headers": headers or {},
            "HTML-Metadata": {"Head": head or {}, "Links": links},
        }},
    }


def read(data: bytes) -> list[WatPage | Redirect | Skipped]:
    return list(iter_wat_records(io.BytesIO(data), input_name="t.wat.gz"))


def test_links_rel_flags_types_and_base() -> None:
    envelope = response_envelope(
        [
            {"path": "A@/href", "url": "a.html", "text": "  Relative\n link ", "rel": "NoFollow"},
            {"path": "A@/href", "url": "https://other.org/x?a=1&amp;b=2", "rel": "ugc sponsored"},
            {"path": "AREA@/href", "url": "/map", "alt": "Map"},
            {"path": "IMG@/src", "url": "/logo.png", "alt": "Logo"},
            {"path": "FORM@/action", "url": "/search"},
            {"path": "LINK@/href", "url": "/style.css", "rel": "stylesheet"},
            {"path": "LINK@/href", "url": "https://canonical.example.org/p", "rel": "canonical"},
        ],
        head={
            "Base": "http://base.example.net/b/",
            "Metas": [{"http-equiv": "Refresh", "content": "5; URL='https://next.example.com/'"}],
        },
    )
    [page] = read(wat_record(envelope))
    assert isinstance(page, WatPage)
    rows = page_rows(page, "c", PSL)
    got = [(r[4], r[7], r[8], r[9], r[10], r[11], r[12]) for r in rows.links]
    assert got == [
        ("https://next.example.com/", "", "refresh", "head", False, False, False),
        ("http://base.example.net/b/a.html", "Relative link", "a", "unknown", True, False, False),
        ("https://other.org/x?a=1&b=2", "", "a", "unknown", False, True, True),
        ("http://base.example.net/map", "Map", "area", "unknown", False, False, False),
        ("https://canonical.example.org/p", "", "canonical", "head", False, False, False),
    ]


@pytest.mark.parametrize(
    "head, headers",
    [({"Metas": [{"name": "Robots", "content": "noindex, NOFOLLOW"}]}, {}),
     ({}, {"X-Robots-Tag": "nofollow"})],
)
def test_page_level_nofollow(head: dict[str, Any], headers: dict[str, str]) -> None:
    envelope = response_envelope([{"path": "A@/href", "url": "http://x.org/", "text": "x"}],
                                 head=head, headers=headers)
    [page] = read(wat_record(envelope))
    assert isinstance(page, WatPage) and page.robots_nofollow
    assert [link.nofollow for link in page.links] == [True]


def test_redirect_in_wat_is_a_redirect_link() -> None:
    envelope = response_envelope([], status="301", headers={"Location": "https://elsewhere.org/"})
    [event] = read(wat_record(envelope))
    assert isinstance(event, Redirect) and event.location == "https://elsewhere.org/"
    rows = page_rows(event, "c", PSL)
    assert [(r[5], r[8]) for r in rows.links] == [("elsewhere.org", "redirect")]


def test_invalid_json_is_counted_and_the_next_record_kept() -> None:
    good = wat_record(response_envelope([{"path": "A@/href", "url": "http://x.org/"}]))
    data = wat_record(b'{"Envelope": {"WARC-Header') + wat_record(b'{"Envelope": [1]}') + wat_record(
        {"WARC-Header-Metadata": "not an object"}
    ) + good
    events = read(data)
    assert [e.reason for e in events if isinstance(e, Skipped)] == [
        INVALID_JSON, INVALID_JSON, MALFORMED
    ]
    assert isinstance(events[-1], WatPage)


def test_non_html_and_non_response_envelopes_are_skipped_by_reason() -> None:
    not_html = response_envelope([])
    del not_html["Payload-Metadata"]["HTTP-Response-Metadata"]["HTML-Metadata"]
    request = {"WARC-Header-Metadata": {"WARC-Type": "request"}}
    events = read(wat_record(not_html) + wat_record(request) +
                  wat_record(response_envelope([], status="404")))
    assert [e.reason for e in events if isinstance(e, Skipped)] == [
        "not_html", "request", "status_4xx"
    ]


def test_crawl_comes_from_the_warcinfo_envelope() -> None:
    path = SAMPLE / "sparkwarc" / "sample.repaired.warc.wat.gz"
    with open(path, "rb") as stream:
        pages = [e for e in iter_wat_records(stream, input_name=str(path)) if isinstance(e, WatPage)]
    assert {p.crawl for p in pages} == {"CC-MAIN-2016-50"}

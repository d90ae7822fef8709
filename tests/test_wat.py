"""WAT input: links from Common Crawl's metadata records, checked against the WARC they describe."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from pipeline.extract.domains import PublicSuffixList
from pipeline.extract.page import PageRows, page_rows
from pipeline.extract.wat import INVALID_JSON, MALFORMED, WatPage, iter_wat_records
from pipeline.read.warc import HtmlPage, Redirect, Skipped, iter_records
from pipeline.rules import is_canonical

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


def genuine_envelopes(path: Path) -> list[dict[str, Any]]:
    """The envelopes of a genuine WAT file's metadata records."""
    with open(path, "rb") as stream:
        return [json.loads(record.content_stream().read())["Envelope"]
                for record in ArchiveIterator(stream) if record.rec_type == "metadata"]


GENUINE_WATS = [SAMPLE / "whirlwind" / "whirlwind.warc.wat.gz", *(wat for _, wat in PAIRS)]


def html_metadata(path: Path) -> list[dict[str, Any]]:
    return [metadata for envelope in genuine_envelopes(path)
            if (metadata := envelope["Payload-Metadata"].get("HTTP-Response-Metadata", {})
                .get("HTML-Metadata"))]


def test_genuine_wat_puts_every_link_element_in_head_link() -> None:
    """What the readers rely on, checked on the genuine files: <link> elements are entries of
    Head.Link (path LINK@/href, url, rel, type), never of Links; Head has Title, Metas, Link,
    Scripts; Links holds A@/href, IMG@/src and FORM@/action entries."""
    pages = [m for path in GENUINE_WATS for m in html_metadata(path)]
    assert len(pages) == 6
    head_links = [entry for m in pages for entry in m["Head"].get("Link", [])]
    assert len(head_links) == 35
    assert {entry["path"] for entry in head_links} == {"LINK@/href"}
    assert all(set(entry) <= {"path", "url", "rel", "type"} for entry in head_links)
    assert not [e for m in pages for e in m["Links"] if e["path"] == "LINK@/href"]
    assert {e["path"] for m in pages for e in m["Links"]} == {"A@/href", "IMG@/src",
                                                              "FORM@/action"}
    assert not any(is_canonical(entry.get("rel")) for entry in head_links)  # none to find


def test_a_canonical_in_head_link_of_a_genuine_record_is_a_canonical_link() -> None:
    """The 0pointer.de record of the warc-js WAT with one more Head.Link entry, shaped as its
    others: a canonical link, context head, anchor "", as from <link rel=canonical> in HTML.
    Its other ten Head.Link entries (icon, stylesheets, rel=Next...) are not links."""
    path = next((SAMPLE / "warc-js").glob("*.warc.wat"))
    [envelope] = [e for e in genuine_envelopes(path)
                  if e["Payload-Metadata"].get("HTTP-Response-Metadata", {}).get("HTML-Metadata")]
    response = envelope["Payload-Metadata"]["HTTP-Response-Metadata"]
    head_links = response["HTML-Metadata"]["Head"]["Link"]
    before = page_rows(page_of(envelope), "c", PSL)
    head_links.append({"path": "LINK@/href", "rel": "canonical",
                       "url": "http://www.example.org/photos/?gallery=Australia&amp;photo=496"})
    after = page_rows(page_of(envelope), "c", PSL)
    assert len(head_links) == 11
    assert [r for r in after.links if r not in before.links] == [
        ("c", "http://0pointer.de/photos/?gallery=Australia&photo=496", "0pointer.de",
         "0pointer.de", "http://www.example.org/photos/?gallery=Australia&photo=496",
         "www.example.org", "example.org", "", "canonical", "head", False, False, False, True,
         before.links[0][14]),
    ]


def page_of(envelope: dict[str, Any]) -> WatPage:
    [page] = read(wat_record(envelope))
    assert isinstance(page, WatPage)
    return page


# --- WAT records written here in the genuine shape, to pin each rule ----------------------


def wat_record(envelope: dict[str, Any] | bytes, uri: str = "http://src.example.com/") -> bytes:
    """A WAT metadata record as Common Crawl writes it, around an envelope."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    payload = envelope if isinstance(envelope, bytes) else json.dumps(
        {"Envelope": envelope, "Container": {"Compressed": True, "Offset": "2520",
                                             "Filename": "CC-MAIN-x.warc.gz"}}
    ).encode()
    record = writer.create_warc_record(
        uri, "metadata", payload=io.BytesIO(payload), warc_content_type="application/json",
        warc_headers_dict={"WARC-Date": "2024-05-18T01:58:10Z",
                           "WARC-Refers-To": "<urn:uuid:d2ce4c32-7c09-477e-87c9-36e8e49ce467>"},
    )
    writer.write_record(record)
    return out.getvalue()


def response_envelope(links: list[dict[str, Any]], status: str = "200",
                      headers: dict[str, Any] | None = None,
                      head: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response envelope in the shape of the genuine samples' (the warc-js 0pointer.de
    record): ``head`` is merged into ``{"Title": ...}`` (Metas, Link, Base, Scripts)."""
    return {
        "Format": "WARC",
        "WARC-Header-Length": "562",
        "Block-Digest": "sha1:AYF2WX53LMGKI5AH2DGOBCMFQR7SICSS",
        "Actual-Content-Length": "7387",
        "WARC-Header-Metadata": {
            "WARC-Type": "response",
            "WARC-Date": "2024-05-18T01:58:10Z",
            "WARC-Warcinfo-ID": "<urn:uuid:cf083d66-9910-45e2-b5be-a421f9889aac>",
            "Content-Length": "7387",
            "WARC-Record-ID": "<urn:uuid:d2ce4c32-7c09-477e-87c9-36e8e49ce467>",
            "WARC-Target-URI": "http://src.example.com/dir/page",
            "WARC-IP-Address": "192.0.2.1",
            "Content-Type": "application/http; msgtype=response",
        },
        "Payload-Metadata": {
            "Trailing-Slop-Length": "4",
            "Actual-Content-Type": "application/http; msgtype=response",
            "HTTP-Response-Metadata": {
                "Headers": {"Content-Type": "text/html; charset=utf-8", "Server": "Apache",
                            **(headers or {})},
                "Headers-Length": "183",
                "Entity-Length": "7204",
                "Entity-Trailing-Slop-Bytes": "0",
                "Response-Message": {"Status": status, "Version": "HTTP/1.1", "Reason": ""},
                "HTML-Metadata": {"Links": links, "Head": {"Title": "A page", **(head or {})}},
                "Entity-Digest": "sha1:FQGN6GPYXVZ7SHCJRPDRTHW2GP6M6KAJ",
            },
        },
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
        ],
        head={
            "Base": "http://base.example.net/b/",
            "Metas": [{"content": "5; URL='https://next.example.com/'", "http-equiv": "Refresh"}],
            "Link": [
                {"path": "LINK@/href", "rel": "stylesheet", "type": "text/css",
                 "url": "/style.css"},
                {"path": "LINK@/href", "rel": "Canonical", "url": "https://canonical.example.org/p"},
                {"path": "LINK@/href", "rel": "alternate", "url": "https://other.org/alt"},
            ],
            "Scripts": [{"path": "SCRIPT@/src", "type": "text/javascript", "url": "/s.js"}],
        },
    )
    [page] = read(wat_record(envelope))
    assert isinstance(page, WatPage)
    rows = page_rows(page, "c", PSL)
    got = [(r[4], r[7], r[8], r[9], r[10], r[11], r[12]) for r in rows.links]
    assert got == [  # the head's declarations first, then the body's links
        ("https://next.example.com/", "", "refresh", "head", False, False, False),
        ("https://canonical.example.org/p", "", "canonical", "head", False, False, False),
        ("http://base.example.net/b/a.html", "Relative link", "a", "unknown", True, False, False),
        ("https://other.org/x?a=1&b=2", "", "a", "unknown", False, True, True),
        ("http://base.example.net/map", "Map", "area", "unknown", False, False, False),
    ]


def test_a_link_element_in_links_is_not_read() -> None:
    """Common Crawl never writes LINK@/href under Links (see the genuine samples above); an
    entry there is not a canonical link."""
    envelope = response_envelope(
        [{"path": "LINK@/href", "url": "https://canonical.example.org/p", "rel": "canonical"}]
    )
    assert page_of(envelope).links == []


@pytest.mark.parametrize(
    "head, headers",
    [({"Metas": [{"content": "noindex, NOFOLLOW", "name": "Robots"}]}, {}),
     ({}, {"X-Robots-Tag": "nofollow"}),
     ({}, {"X-Robots-Tag": "googlebot:nofollow"}),
     ({}, {"X-Robots-Tag": ["noindex", "nofollow"]})],  # a repeated header: a list
    ids=["meta", "header", "header-naming-a-crawler", "header-repeated"],
)
def test_page_level_nofollow(head: dict[str, Any], headers: dict[str, str]) -> None:
    envelope = response_envelope([{"path": "A@/href", "url": "http://x.org/", "text": "x"}],
                                 head=head, headers=headers)
    [page] = read(wat_record(envelope))
    assert isinstance(page, WatPage) and page.robots_nofollow
    assert [link.nofollow for link in page.links] == [True]


def test_redirect_in_wat_is_a_redirect_link() -> None:
    envelope = response_envelope([], status="301", headers={"Location": "https://elsewhere.org/"})
    del envelope["Payload-Metadata"]["HTTP-Response-Metadata"]["HTML-Metadata"]
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
    request = {  # the shape of a genuine request envelope
        "Format": "WARC", "WARC-Header-Length": "372", "Actual-Content-Length": "246",
        "WARC-Header-Metadata": {"WARC-Type": "request", "WARC-Date": "2024-05-18T01:58:10Z",
                                 "WARC-Target-URI": "http://src.example.com/dir/page"},
        "Payload-Metadata": {"Trailing-Slop-Length": "4",
                             "Actual-Content-Type": "application/http; msgtype=request",
                             "HTTP-Request-Metadata": {
                                 "Request-Message": {"Method": "GET", "Path": "/dir/page",
                                                     "Version": "HTTP/1.1"},
                                 "Headers": {"Host": "src.example.com"}}},
    }
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

"""One rule set for both readers (pipeline/rules.py): every case is one page, written once as a
WARC response record and once as the WAT metadata record Common Crawl makes of it, and both
go through the real readers and page_rows. They must give the same rows.

The WAT record is made here the way Common Crawl's extractor (ia-web-commons,
ExtractingParseObserver and HTMLMetaData) makes it, in the envelope of the genuine samples
(tests/data/cc/*/*.wat*): every ``<a href>`` is a ``Links`` entry (path ``A@/href``, url,
target/alt/title/rel/hreflang/type when present, and its trimmed text, at most 128 characters,
when not empty), ``<area href>`` is ``AREA@/href`` with its rel, ``<img src>`` is ``IMG@/src``
with alt and title; every ``<link href>``, in the head or not, is a ``Head.Link`` entry (path
``LINK@/href``, url, rel, type); every ``<meta>`` is a ``Head.Metas`` entry of its name, rel,
content, http-equiv and property; ``<base href>`` is ``Head.Base`` (the last one wins);
HTTP headers are the ``Headers`` object, a repeated header a list of its values.

What differs by design (WAT cannot know it), and is mapped before comparing:

- the context of ``a`` and ``area`` links: WAT does not say where on the page a link sits,
  so it is ``unknown`` (WARC: ``nav``, ``header``, ``footer``, ``aside`` or ``body``);
- an ``<a>`` whose only content is an image: WARC gives type ``img`` with the image's alt as
  anchor, WAT (which lists the ``<a>`` and the ``<img>`` apart) type ``a`` with anchor "";
- an ``<area>``'s anchor: WARC takes its alt, Common Crawl does not keep an area's alt, so
  from WAT it is "";
- the order of a page's links: WARC gives document order, WAT its head declarations
  (refreshes, canonicals) and then its body links; rows are compared as multisets.

Every other field of every link row (target URL, host, domain, anchor, type, nofollow, ugc,
sponsored, external, fetch time) and the whole page row must be equal, and a record that is
not a page must be skipped for the same reason.
"""

from __future__ import annotations

import html
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline import rules
from pipeline.extract.domains import PublicSuffixList
from pipeline.extract.html import refresh_url as refresh_url_from_extract
from pipeline.extract.page import page_rows
from pipeline.extract.wat import WatPage, iter_wat_records
from pipeline.read.warc import HtmlPage, Redirect, Skipped, iter_records

PSL = PublicSuffixList.bundled(private=False)
URL = "http://src.example.com/dir/page.html"
DATE = "2024-05-18T01:58:10Z"
VOID = frozenset({"meta", "link", "base", "img", "area", "br"})
MAX_TEXT = 128  # Common Crawl's cut of anchor texts
BODY_CONTEXTS = frozenset({"nav", "header", "footer", "aside", "body"})


@dataclass
class El:
    """An HTML element: tag, attributes, and its content (text and child elements)."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    content: list[El | str] = field(default_factory=list)


@dataclass
class Page:
    head: list[El] = field(default_factory=list)
    body: list[El] = field(default_factory=list)
    status: str = "200 OK"
    headers: list[tuple[str, str]] = field(
        default_factory=lambda: [("Content-Type", "text/html; charset=utf-8")]
    )
    raw_body: bytes | None = None  # a payload that is not rendered HTML


def a(href: str, text: str = "", **attrs: str) -> El:
    return El("a", {"href": href, **attrs}, [text] if text else [])


# --- the page as HTML, as a WARC response record ------------------------------------------


def render(node: El | str) -> str:
    if isinstance(node, str):
        return html.escape(node, quote=False)
    attrs = "".join(f' {k}="{html.escape(v)}"' for k, v in node.attrs.items())
    if node.tag in VOID:
        return f"<{node.tag}{attrs}>"
    return f"<{node.tag}{attrs}>{''.join(map(render, node.content))}</{node.tag}>"


def body_of(page: Page) -> bytes:
    if page.raw_body is not None:
        return page.raw_body
    head = "".join(map(render, [El("title", content=["A page"]), *page.head]))
    body = "".join(map(render, page.body))
    return f"<!DOCTYPE html>\n<html><head>{head}</head><body>{body}</body></html>\n".encode()


def as_warc(page: Page) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    http = StatusAndHeaders(page.status, list(page.headers), protocol="HTTP/1.1")
    record = writer.create_warc_record(
        URL, "response", payload=io.BytesIO(body_of(page)), http_headers=http,
        warc_headers_dict={"WARC-Date": DATE, "WARC-IP-Address": "192.0.2.1"},
    )
    writer.write_record(record)
    return out.getvalue()


# --- the same page as Common Crawl's WAT extractor writes it ------------------------------


@dataclass
class Extracted:
    links: list[dict[str, str]] = field(default_factory=list)
    head: dict[str, Any] = field(default_factory=dict)

    def append(self, key: str, entry: dict[str, str]) -> None:
        self.head.setdefault(key, []).append(entry)


def _text_of(node: El | str) -> str:
    if isinstance(node, str):
        return node
    return "".join(map(_text_of, node.content))


def _present(node: El, *names: str) -> dict[str, str]:
    return {name: node.attrs[name] for name in names if name in node.attrs}


def extract_wat(node: El | str, out: Extracted) -> None:
    """ExtractingParseObserver's view of one element (children first for ``<a>``: its entry
    is added at ``</a>``)."""
    if isinstance(node, str):
        return
    tag, attrs = node.tag, node.attrs
    if tag == "a":
        for child in node.content:
            extract_wat(child, out)
        if "href" in attrs:
            entry = {"path": "A@/href", "url": attrs["href"],
                     **_present(node, "target", "alt", "title", "rel", "hreflang", "type")}
            text = " ".join(_text_of(node).split())[:MAX_TEXT]
            if text:
                entry["text"] = text
            out.links.append(entry)
        return
    if tag == "area" and "href" in attrs:
        out.links.append({"path": "AREA@/href", "url": attrs["href"], **_present(node, "rel")})
    elif tag == "img" and "src" in attrs:
        out.links.append({"path": "IMG@/src", "url": attrs["src"], **_present(node, "alt", "title")})
    elif tag == "link" and "href" in attrs:
        out.append("Link", {"path": "LINK@/href", "url": attrs["href"],
                            **_present(node, "rel", "type")})
    elif tag == "meta":
        entry = _present(node, "name", "rel", "content", "http-equiv", "property")
        if entry:
            out.append("Metas", entry)
    elif tag == "base" and "href" in attrs:
        out.head["Base"] = attrs["href"]
    for child in node.content:
        extract_wat(child, out)


def wat_headers(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """HTTP headers as Common Crawl's MetaData holds them: a repeated header accumulates."""
    headers: dict[str, Any] = {}
    for name, value in pairs:
        if name not in headers:
            headers[name] = value
        elif isinstance(headers[name], list):
            headers[name].append(value)
        else:
            headers[name] = [headers[name], value]
    return headers


def wat_envelope(page: Page) -> dict[str, Any]:
    body = body_of(page)
    code, _, reason = page.status.partition(" ")
    response: dict[str, Any] = {
        "Headers": wat_headers(page.headers),
        "Headers-Length": "183",
        "Entity-Length": str(len(body)),
        "Entity-Trailing-Slop-Bytes": "0",
        "Response-Message": {"Status": code, "Version": "HTTP/1.1", "Reason": reason},
        "Entity-Digest": "sha1:FQGN6GPYXVZ7SHCJRPDRTHW2GP6M6KAJ",
    }
    if "html" in rules.header(page.headers, "content-type") and page.raw_body is None:
        found = Extracted()
        for element in page.head:
            extract_wat(element, found)
        found.head["Title"] = "A page"
        for element in page.body:
            extract_wat(element, found)
        response["HTML-Metadata"] = {"Links": found.links, "Head": found.head}
    return {
        "Envelope": {
            "Format": "WARC",
            "WARC-Header-Length": "562",
            "Block-Digest": "sha1:AYF2WX53LMGKI5AH2DGOBCMFQR7SICSS",
            "Actual-Content-Length": str(len(body) + 183),
            "WARC-Header-Metadata": {
                "WARC-Type": "response",
                "WARC-Date": DATE,
                "WARC-Warcinfo-ID": "<urn:uuid:cf083d66-9910-45e2-b5be-a421f9889aac>",
                "Content-Length": str(len(body) + 183),
                "WARC-Record-ID": "<urn:uuid:d2ce4c32-7c09-477e-87c9-36e8e49ce467>",
                "WARC-Block-Digest": "sha1:AYF2WX53LMGKI5AH2DGOBCMFQR7SICSS",
                "WARC-Payload-Digest": "sha1:FQGN6GPYXVZ7SHCJRPDRTHW2GP6M6KAJ",
                "WARC-Target-URI": URL,
                "WARC-IP-Address": "192.0.2.1",
                "WARC-Concurrent-To": "<urn:uuid:b548acf2-3911-423c-bdbf-6f806df879c2>",
                "Content-Type": "application/http; msgtype=response",
            },
            "Payload-Metadata": {
                "Trailing-Slop-Length": "4",
                "Actual-Content-Type": "application/http; msgtype=response",
                "HTTP-Response-Metadata": response,
            },
        },
        "Container": {
            "Compressed": True,
            "Gzip-Metadata": {"Footer-Length": "8", "Deflate-Length": "2828",
                              "Header-Length": "10", "Inflated-CRC": "-274687686",
                              "Inflated-Length": "7953"},
            "Offset": "2520",
            "Filename": "CC-MAIN-20240518000000-20240518030000-00001.warc.gz",
        },
    }


def as_wat(page: Page) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    payload = json.dumps(wat_envelope(page), ensure_ascii=False).encode()
    record = writer.create_warc_record(
        URL, "metadata", payload=io.BytesIO(payload), warc_content_type="application/json",
        warc_headers_dict={"WARC-Date": DATE,
                           "WARC-Refers-To": "<urn:uuid:d2ce4c32-7c09-477e-87c9-36e8e49ce467>"},
    )
    writer.write_record(record)
    return out.getvalue()


# --- both through the readers --------------------------------------------------------------


def outcome(events: list[Any]) -> tuple[tuple[Any, ...] | str, Counter[tuple[Any, ...]]]:
    """(the page row, or the skip reason; the link rows as a multiset)."""
    assert len(events) == 1, events
    [event] = events
    if isinstance(event, Skipped):
        return event.reason, Counter()
    assert isinstance(event, HtmlPage | WatPage | Redirect)
    rows = page_rows(event, "CC-MAIN-2024-22", PSL)
    assert rows.page is not None
    return rows.page, Counter(rows.links)


def by_design(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A WARC link row as WAT gives it: context unknown in the body, an image link ``a`` with
    no anchor, an area with no anchor."""
    fields = list(row)
    if fields[9] in BODY_CONTEXTS:
        fields[9] = "unknown"
    if fields[8] == "img":
        fields[7], fields[8] = "", "a"
    if fields[8] == "area":
        fields[7] = ""
    return tuple(fields)


def both(page: Page) -> tuple[Any, Any, Any, Any]:
    warc_page, warc_links = outcome(list(iter_records(io.BytesIO(as_warc(page)),
                                                      input_name="t.warc.gz")))
    wat_page, wat_links = outcome(list(iter_wat_records(io.BytesIO(as_wat(page)),
                                                        input_name="t.warc.wat.gz")))
    return warc_page, warc_links, wat_page, wat_links


OUT = "https://other.example.org/"
ROBOTS_META = El("meta", {"name": "robots", "content": "noindex, nofollow"})

# (id, page, the link rows both must give: (dst_url, anchor, type, context in WAT, nofollow,
# ugc, sponsored), or the skip reason both must give)
CASES: list[tuple[str, Page, list[tuple[str, str, str, str, bool, bool, bool]] | str]] = [
    ("plain", Page(body=[a(OUT + "a", "A link")]),
     [(OUT + "a", "A link", "a", "unknown", False, False, False)]),
    ("rel-nofollow-ugc-sponsored", Page(body=[
        a(OUT + "n", "n", rel="NoFollow"), a(OUT + "u", "u", rel="ugc"),
        a(OUT + "s", "s", rel="sponsored noopener"), a(OUT + "all", "all", rel="nofollow ugc sponsored"),
    ]), [(OUT + "n", "n", "a", "unknown", True, False, False),
         (OUT + "u", "u", "a", "unknown", False, True, False),
         (OUT + "s", "s", "a", "unknown", False, False, True),
         (OUT + "all", "all", "a", "unknown", True, True, True)]),
    ("meta-robots-nofollow", Page(head=[ROBOTS_META], body=[a(OUT, "x")]),
     [(OUT, "x", "a", "unknown", True, False, False)]),
    ("meta-robots-none", Page(head=[El("meta", {"name": "ROBOTS", "content": "None"})],
                              body=[a(OUT, "x")]),
     [(OUT, "x", "a", "unknown", True, False, False)]),
    ("meta-robots-noindex-only", Page(head=[El("meta", {"name": "robots", "content": "noindex"})],
                                      body=[a(OUT, "x")]),
     [(OUT, "x", "a", "unknown", False, False, False)]),
    ("x-robots-tag-googlebot-nofollow",
     Page(headers=[("Content-Type", "text/html"), ("X-Robots-Tag", "googlebot: nofollow")],
          body=[a(OUT, "x")]),
     [(OUT, "x", "a", "unknown", True, False, False)]),
    ("x-robots-tag-noindex-nofollow",
     Page(headers=[("Content-Type", "text/html"), ("X-Robots-Tag", "noindex, nofollow")],
          body=[a(OUT, "x")]),
     [(OUT, "x", "a", "unknown", True, False, False)]),
    ("x-robots-tag-googlebot-nofollow-unspaced",
     Page(headers=[("Content-Type", "text/html"), ("X-Robots-Tag", "googlebot:nofollow")],
          body=[a(OUT, "x")]),
     [(OUT, "x", "a", "unknown", True, False, False)]),
    ("x-robots-tag-repeated",  # one key holding a list of values in the WAT
     Page(headers=[("Content-Type", "text/html"), ("X-Robots-Tag", "noindex"),
                   ("X-Robots-Tag", "nofollow")], body=[a(OUT, "x")]),
     [(OUT, "x", "a", "unknown", True, False, False)]),
    ("x-robots-tag-repeated-in-two-cases",  # two keys in the WAT
     Page(headers=[("Content-Type", "text/html"), ("X-Robots-Tag", "noindex"),
                   ("x-robots-tag", "nofollow")], body=[a(OUT, "x")]),
     [(OUT, "x", "a", "unknown", True, False, False)]),
    ("redirect-location-repeated",
     Page(status="302 Found", headers=[("Location", "https://first.example.net/"),
                                       ("Location", "https://second.example.net/")],
          raw_body=b""),
     [("https://first.example.net/", "", "redirect", "http", False, False, False)]),
    ("x-robots-tag-unavailable-after",
     Page(headers=[("Content-Type", "text/html"),
                   ("X-Robots-Tag", "unavailable_after: 25 Jun 2030 15:00:00 PST")],
          body=[a(OUT, "x")]),
     [(OUT, "x", "a", "unknown", False, False, False)]),
    ("canonical", Page(head=[El("link", {"rel": "stylesheet", "href": "/s.css"}),
                             El("link", {"rel": "Canonical", "href": OUT + "canonical"}),
                             El("link", {"rel": "alternate", "href": OUT + "alt"})]),
     [(OUT + "canonical", "", "canonical", "head", False, False, False)]),
    ("canonical-rel-flags-not-read",
     Page(head=[El("link", {"rel": "canonical nofollow ugc", "href": OUT + "c"})]),
     [(OUT + "c", "", "canonical", "head", False, False, False)]),
    ("canonical-under-robots-nofollow",
     Page(head=[ROBOTS_META, El("link", {"rel": "canonical", "href": OUT + "c"})]),
     [(OUT + "c", "", "canonical", "head", True, False, False)]),
    ("canonical-in-body",  # Common Crawl puts every <link> in Head.Link
     Page(body=[El("div", content=[El("link", {"rel": "canonical", "href": OUT + "c"})])]),
     [(OUT + "c", "", "canonical", "head", False, False, False)]),
    ("meta-refresh", Page(head=[El("meta", {"http-equiv": "Refresh",
                                            "content": "5; URL='https://next.example.net/'"})]),
     [("https://next.example.net/", "", "refresh", "head", False, False, False)]),
    ("robots-meta-is-not-a-refresh",
     Page(head=[El("meta", {"name": "robots", "http-equiv": "refresh",
                            "content": "0; url=https://next.example.net/"})]), []),
    ("meta-refresh-reload-only", Page(head=[El("meta", {"http-equiv": "refresh", "content": "30"})],
                                      body=[a(OUT, "x")]),
     [(OUT, "x", "a", "unknown", False, False, False)]),
    ("base-href", Page(head=[El("base", {"href": "http://base.example.net/b/"})],
                       body=[a("rel.html", "relative"), a("/root", "root")]),
     [("http://base.example.net/b/rel.html", "relative", "a", "unknown", False, False, False),
      ("http://base.example.net/root", "root", "a", "unknown", False, False, False)]),
    ("area", Page(body=[El("map", {"name": "m"}, [
        El("area", {"href": OUT + "area", "alt": "Map part", "rel": "nofollow"})])]),
     # Common Crawl keeps no alt for an area: the WARC's anchor is the alt, the WAT's ""
     [(OUT + "area", "", "area", "unknown", True, False, False)]),
    ("image-link", Page(body=[El("a", {"href": OUT + "img"}, [El("img", {"src": "/i.png",
                                                                         "alt": "Logo"})])]),
     [(OUT + "img", "", "a", "unknown", False, False, False)]),
    ("nav-context", Page(body=[El("nav", content=[a(OUT + "nav", "Menu")]),
                               El("footer", content=[a(OUT + "foot", "Foot", rel="ugc")])]),
     [(OUT + "nav", "Menu", "a", "unknown", False, False, False),
      (OUT + "foot", "Foot", "a", "unknown", False, True, False)]),
    ("not-links", Page(body=[El("img", {"src": OUT + "i.png"}),
                             El("form", {"action": OUT + "search"}),
                             El("script", {"src": OUT + "s.js"})]), []),
    ("redirect-301", Page(status="301 Moved Permanently",
                          headers=[("Content-Type", "text/html"),
                                   ("Location", " https://moved.example.net/new ")],
                          raw_body=b""),
     [("https://moved.example.net/new", "", "redirect", "http", False, False, False)]),
    ("3xx-without-location", Page(status="304 Not Modified", headers=[], raw_body=b""),
     "status_3xx"),
    ("404", Page(status="404 Not Found", body=[a(OUT, "x")]), "status_4xx"),
    ("500", Page(status="500 Internal Server Error", body=[a(OUT, "x")]), "status_5xx"),
    ("not-html", Page(headers=[("Content-Type", "application/pdf")],
                      raw_body=b"%PDF-1.4\n<a href='https://other.example.org/'>x</a>"),
     "not_html"),
]


@pytest.mark.parametrize("page, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_warc_and_wat_give_the_same_rows(
    page: Page, expected: list[tuple[str, str, str, str, bool, bool, bool]] | str
) -> None:
    warc_page, warc_links, wat_page, wat_links = both(page)
    assert warc_page == wat_page
    if isinstance(expected, str):
        assert warc_page == expected
        return
    assert Counter({by_design(row): n for row, n in warc_links.items()}) == wat_links
    got = sorted((r[4], r[7], r[8], r[9], r[10], r[11], r[12]) for r in wat_links.elements())
    assert got == sorted(expected)
    for row in wat_links:  # every other field: the page's, the target's, external, time
        assert row[:4] == ("CC-MAIN-2024-22", URL, "src.example.com", "example.com")
        assert row[13] is (row[6] != "example.com")


def test_the_by_design_differences_are_the_only_ones() -> None:
    """The image link and the nav link really differ before mapping: the mapping is needed."""
    page = Page(body=[El("a", {"href": OUT + "img"}, [El("img", {"src": "/i.png", "alt": "Logo"})]),
                      El("nav", content=[a(OUT + "nav", "Menu")])])
    _, warc_links, _, wat_links = both(page)
    assert {(r[7], r[8], r[9]) for r in warc_links} == {("Logo", "img", "body"),
                                                        ("Menu", "a", "nav")}
    assert {(r[7], r[8], r[9]) for r in wat_links} == {("", "a", "unknown"),
                                                       ("Menu", "a", "unknown")}


def test_the_wat_made_here_has_the_genuine_shape() -> None:
    """The envelope's keys are those of a genuine response record (warc-js sample)."""
    envelope = wat_envelope(Page(head=[El("link", {"rel": "icon", "type": "image/png",
                                                   "href": "i.png"})],
                                 body=[a("/x", "x", title="t")]))["Envelope"]
    assert set(envelope) == {"Format", "WARC-Header-Length", "Block-Digest",
                             "Actual-Content-Length", "WARC-Header-Metadata", "Payload-Metadata"}
    response = envelope["Payload-Metadata"]["HTTP-Response-Metadata"]
    assert response["HTML-Metadata"]["Head"]["Link"] == [
        {"path": "LINK@/href", "url": "i.png", "rel": "icon", "type": "image/png"}
    ]
    assert response["HTML-Metadata"]["Links"] == [
        {"path": "A@/href", "url": "/x", "title": "t", "text": "x"}
    ]


# --- rules.py, function by function ---------------------------------------------------------


@pytest.mark.parametrize(
    "value, nofollow",
    [("nofollow", True), ("NOFOLLOW", True), ("none", True), ("noindex, nofollow", True),
     ("noindex,nofollow", True), ("googlebot: nofollow", True), ("googlebot:nofollow", True),
     ("  nofollow  ", True), ("noindex\tnofollow", True), ("noindex", False), ("", False),
     ("nofollowing", False), ("follow", False), ("no-follow", False),
     ("unavailable_after: 25 Jun 2030 15:00:00 PST", False)],
)
def test_says_nofollow(value: str, nofollow: bool) -> None:
    assert rules.says_nofollow(value) is nofollow


def test_header_lookup_is_case_insensitive_over_pairs_and_wat_objects() -> None:
    pairs = [("Content-Type", "text/html"), ("X-Robots-Tag", "noindex"),
             ("x-robots-tag", "nofollow")]
    assert rules.header_values(pairs, "X-ROBOTS-TAG") == ["noindex", "nofollow"]
    assert rules.header(pairs, "content-type") == "text/html"
    assert rules.header(pairs, "location") == ""
    wat = {"X-Robots-Tag": ["noindex", "nofollow"], "LOCATION": "/x"}
    assert rules.header_values(wat, "x-robots-tag") == ["noindex", "nofollow"]
    assert rules.header(wat, "Location") == "/x"
    assert rules.header({}, "location") == ""
    assert rules.headers_say_nofollow(pairs) and rules.headers_say_nofollow(wat)
    assert not rules.headers_say_nofollow([("X-Robots-Tag", "noindex")])


@pytest.mark.parametrize(
    "status, location, kind",
    [("200", "", None), ("200", "/x", None), ("301", "/x", rules.REDIRECT),
     ("302", " /x ", rules.REDIRECT), ("308", "/x", rules.REDIRECT), ("301", "", "status_3xx"),
     ("304", "", "status_3xx"), ("204", "", "status_2xx"), ("404", "/x", "status_4xx"),
     ("500", "", "status_5xx"), ("", "", "status_invalid"), ("abc", "/x", "status_invalid"),
     ("3²", "/x", "status_3xx"), ("²00", "", "status_invalid")],
)
def test_classify_status(status: str, location: str, kind: str | None) -> None:
    assert rules.classify_status(status, location) == kind


def test_redirect_location_is_the_first_location_trimmed() -> None:
    assert rules.redirect_location([("Location", "  /a "), ("Location", "/b")]) == "/a"
    assert rules.redirect_location({"Location": ["/a", "/b"]}) == "/a"
    assert rules.classify_response("301", {"location": "/a"}) == rules.REDIRECT
    assert rules.classify_response("301", {}) == "status_3xx"


@pytest.mark.parametrize(
    "rel, canonical",
    [("canonical", True), ("Canonical", True), ("CANONICAL", True), ("alternate canonical", True),
     (" canonical\n", True), ("stylesheet", False), ("canonicalize", False), ("", False),
     (None, False)],
)
def test_is_canonical(rel: str | None, canonical: bool) -> None:
    assert rules.is_canonical(rel) is canonical


def test_rel_tokens_and_link_flags() -> None:
    assert rules.rel_tokens("NoFollow  UGC\tsponsored") == {"nofollow", "ugc", "sponsored"}
    assert rules.rel_tokens(None) == frozenset() == rules.rel_tokens("")
    assert rules.link_flags(rules.rel_tokens("nofollow"), False) == (True, False, False)
    assert rules.link_flags(rules.rel_tokens("ugc sponsored"), False) == (False, True, True)
    assert rules.link_flags(frozenset(), True) == (True, False, False)
    assert rules.link_flags(frozenset(), False) == (False, False, False)


@pytest.mark.parametrize(
    "name, http_equiv, content, said",
    [("robots", None, "nofollow", (True, None)), (" Robots ", None, "NONE", (True, None)),
     ("robots", None, "noindex", (False, None)), ("googlebot", None, "nofollow", (False, None)),
     (None, "refresh", "0; url=/next", (False, "/next")),
     (None, " REFRESH ", "5;URL='https://x.example/'", (False, "https://x.example/")),
     (None, "refresh", "30", (False, None)), (None, "content-type", "text/html", (False, None)),
     ("robots", "refresh", "0; url=/next", (False, None)),  # a robots meta is read as robots
     ("description", "refresh", "0; url=/next", (False, "/next")), (None, None, None, (False, None))],
)
def test_read_meta(
    name: str | None, http_equiv: str | None, content: str | None, said: tuple[bool, str | None]
) -> None:
    assert rules.read_meta(name, http_equiv, content) == said


def test_refresh_url_is_one_function_still_importable_from_extract() -> None:
    assert refresh_url_from_extract is rules.refresh_url
    assert rules.refresh_url("0; url=\"/a b\" trailing") == "/a b"
    assert rules.refresh_url("0") is None

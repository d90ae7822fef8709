"""Extraction and link assembly: a golden real page, and cases from real life."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from conftest import SAMPLE
from warcio.archiveiterator import ArchiveIterator

from pipeline.extract.domains import PublicSuffixList
from pipeline.extract.html import RawLink, extract_links
from pipeline.extract.page import page_rows
from pipeline.read.warc import HtmlPage

HTML = [("Content-Type", "text/html")]


def commoncrawl_page() -> tuple[bytes, list[tuple[str, str]]]:
    with open(SAMPLE / "jwarc" / "cc.warc.gz", "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type == "response":
                return record.content_stream().read(), record.http_headers.headers
    raise AssertionError("no response record")


def _a_tags(html: bytes) -> int:
    return len(re.findall(rb"<a\s[^>]*\bhref=", html))


def test_golden_commoncrawl_org_home_page() -> None:
    # Checked by reading the HTML of http://commoncrawl.org/ in tests/data/cc/jwarc/cc.warc.gz:
    # 44 <a ... href=...> tags (counted with a regex below, independently of selectolax),
    # no <area>, one <link rel="canonical">; one <nav> and one <footer>, not nested;
    # the "Our Story" box is an <a href="/about/"> around an <img alt="Our Story">;
    # the Newsletter href contains the entity &#038; which HTML decodes to '&'.
    body, headers = commoncrawl_page()
    page = extract_links(body, headers)
    anchors = [link for link in page.links if link.link_type != "canonical"]
    assert len(anchors) == _a_tags(body) == 44
    assert page.links[0] == RawLink("https://commoncrawl.org/", "", "canonical", False, False,
                                    False, "head")
    assert page.links[1] == RawLink("#page", "Skip to content", "a", False, False, False, "body")
    assert page.links[2] == RawLink("https://commoncrawl.org/", "Common Crawl", "a", False,
                                    False, False, "nav")
    assert RawLink("/about/", "Our Story", "img", False, False, False, "body") in page.links
    assert RawLink(
        "http://commoncrawl.us4.list-manage1.com/subscribe?u=0e911fcb12df8509fac136a5a&id=865954e5ce",
        "Newsletter", "a", False, False, False, "footer",
    ) in page.links
    nav = body[body.index(b"<nav"):body.index(b"</nav>")]
    footer = body[body.index(b"<footer"):body.index(b"</footer>")]
    contexts = [link.context for link in anchors]
    assert contexts.count("nav") == _a_tags(nav) == 21
    assert contexts.count("footer") == _a_tags(footer) == 20
    assert contexts.count("body") == 44 - 21 - 20
    assert page.base_href is None and not page.robots_nofollow and page.charset == "utf-8"


def links_of(html: str, headers: list[tuple[str, str]] = HTML) -> list[RawLink]:
    return extract_links(html.encode("utf-8"), headers).links


@pytest.mark.parametrize(
    ("html", "anchor"),
    [
        ('<a href="/x"></a>', ""),
        ('<a href="/x">  \n\t </a>', ""),
        ('<a href="/x"><b>Foo</b> <i>bar</i></a>', "Foo bar"),
        ('<a href="/x">  many\n\n   spaces\there </a>', "many spaces here"),
        ('<a href="/x">' + "y" * 300 + "</a>", "y" * 300),  # cut later, by max_anchor_chars
        ('<a href="/x">' + "y" * 5000 + "</a>", "y" * 4096),  # a bound on the work per link
    ],
)
def test_anchor_text(html: str, anchor: str) -> None:
    (link,) = links_of(html)
    assert link.anchor == anchor


def test_rel_tokens_are_case_insensitive_and_multiple() -> None:
    (link,) = links_of('<a rel="NOFOLLOW noopener Sponsored" href="/x">x</a>')
    assert (link.nofollow, link.ugc, link.sponsored) == (True, False, True)
    (link,) = links_of('<a rel="ugc" href="/x">x</a>')
    assert (link.nofollow, link.ugc, link.sponsored) == (False, True, False)


def test_image_link_and_area() -> None:
    links = links_of('<a href="/i"> <img src="a.png" alt=" Logo  here "> </a>'
                     '<map><area href="/m" alt="Map part"></map><a href="/t">text <img alt="x"></a>')
    assert [(link.link_type, link.anchor) for link in links] == [("img", "Logo here"), ("area", "Map part"), ("a", "text")]


def test_meta_robots_and_x_robots_tag_make_every_link_nofollow() -> None:
    meta = links_of('<meta name="Robots" content="noindex, NOFOLLOW"><a href="/a">a</a>')
    assert all(link.nofollow for link in meta)
    header = extract_links(b'<a href="/a">a</a>', [("X-Robots-Tag", "googlebot: nofollow")])
    assert header.robots_nofollow and header.links[0].nofollow
    plain = extract_links(b'<meta name="robots" content="noindex"><a href="/a">a</a>', HTML)
    assert not plain.robots_nofollow and not plain.links[0].nofollow


def test_malformed_html_still_yields_links() -> None:
    links = links_of('<div><a href=x>a<a href=y>b</div><a href="z"')
    assert [link.href for link in links][:2] == ["x", "y"]


def test_charset_from_header_and_from_meta() -> None:
    latin = "<a href='/x'>caf\u00e9</a>".encode("cp1252")
    assert extract_links(latin, [("Content-Type", "text/html; charset=ISO-8859-1")]).links[0].anchor == "caf\u00e9"
    sjis = '<meta charset="shift_jis"><a href="/x">\u65e5\u672c</a>'.encode("shift_jis")
    assert extract_links(sjis, HTML).links[0].anchor == "\u65e5\u672c"


def test_undecodable_bytes_are_replaced_and_counted() -> None:
    page = extract_links(b'<a href="/x">ok \xff\xfe here</a>', [("Content-Type", "text/html; charset=utf-8")])
    assert page.links[0].anchor.startswith("ok") and page.counters.get("decode_replacements")


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02" * 1000, bytes(range(256)) * 50])
def test_garbage_never_raises(data: bytes) -> None:
    assert extract_links(data, HTML).links == []


def test_fifty_thousand_links() -> None:
    html = "".join(f'<a href="https://h{i}.example.org/">link {i}</a>' for i in range(50_000))
    links = links_of(html)
    assert len(links) == 50_000 and links[-1].anchor == "link 49999"


def rows(html: str, url: str = "https://www.example.com/dir/page.html") -> list[tuple]:
    page = HtmlPage(url, datetime(2024, 1, 1, tzinfo=UTC), 200, HTML,
                    html.encode(), False, "CC-MAIN-2024-22", 0)
    return page_rows(page, "CC-MAIN-2024-22", PublicSuffixList.bundled()).links


def test_relative_protocol_relative_and_base_href() -> None:
    got = rows('<a href="//Other.ORG/a#frag">p</a><a href="../up">u</a>')
    assert [(r[4], r[5]) for r in got] == [("https://other.org/a", "other.org")]  # ../up is same host
    based = rows('<base href="https://cdn.example.net/x/"><a href="y">b</a>')
    assert [(r[4], r[5], r[6]) for r in based] == [("https://cdn.example.net/x/y", "cdn.example.net", "example.net")]


def test_non_http_schemes_ip_and_single_label_hosts_are_not_stored() -> None:
    html = ('<a href="javascript:void(0)">j</a><a href="mailto:a@b.com">m</a><a href="tel:+1">t</a>'
            '<a href="data:text/html,x">d</a><a href="http://192.168.0.1/">ip</a>'
            '<a href="http://[::1]/">ip6</a><a href="http://intranet/">s</a>')
    assert rows(html) == []


def test_idn_hosts_are_punycode_and_fold_to_domains() -> None:
    (row,) = rows('<a href="http://www.B\u00fccher.de/">idn</a>')
    assert (row[5], row[6], row[13]) == ("www.xn--bcher-kva.de", "xn--bcher-kva.de", True)


def test_internal_external_and_host_rule() -> None:
    got = rows('<a href="https://blog.example.com/">sub</a><a href="https://www.example.com/b">same</a>'
               '<a href="https://example.co.uk/">ext</a>')
    assert [(r[5], r[13]) for r in got] == [("blog.example.com", False), ("example.co.uk", True)]

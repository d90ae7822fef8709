"""Link context (nav, header, footer, aside, body) and the canonical and refresh link types."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.extract.domains import PublicSuffixList
from pipeline.extract.html import extract_links, refresh_url
from pipeline.extract.page import page_rows
from pipeline.read.warc import HtmlPage

HTML = [("Content-Type", "text/html; charset=utf-8")]

# A page laid out as sites are: a header with a menu, a role=navigation sidebar, an article
# with an aside, a footer holding its own nav. Each href names the context it must get.
GOLDEN = b"""<!doctype html>
<html><head>
<title>Golden</title>
<link rel="stylesheet" href="/style.css">
<link rel="Canonical" href="https://canonical.example.org/page">
<meta http-equiv="refresh" content="30; url=https://next.example.net/">
</head>
<body>
<header>
  <a href="https://a.example.com/header-logo">Logo</a>
  <nav><a href="https://a.example.com/nav-in-header">Menu</a></nav>
</header>
<div role="navigation"><ul><li><a href="https://a.example.com/nav-role">Side</a></li></ul></div>
<main>
  <article>
    <p>Text with <a href="https://a.example.com/body-1">a link</a>.</p>
    <aside><a href="https://a.example.com/aside-1">Related</a>
      <div><a href="https://a.example.com/aside-2"><img src="x.png" alt="Pic"></a></div>
    </aside>
    <section><header><a href="https://a.example.com/header-article">Byline</a></header></section>
  </article>
  <map><area href="https://a.example.com/body-area" alt="Region"></map>
</main>
<footer>
  <a href="https://a.example.com/footer-1">Imprint</a>
  <nav aria-label="legal"><a href="https://a.example.com/nav-in-footer">Legal</a></nav>
  <div role="Navigation Menu"><a href="https://a.example.com/nav-role-footer">More</a></div>
</footer>
<a href="https://a.example.com/body-2">Last</a>
</body></html>
"""


def test_golden_page_contexts_and_types() -> None:
    page = extract_links(GOLDEN, HTML)
    got = [(link.href.rsplit("/", 1)[-1] or link.href, link.link_type, link.context)
           for link in page.links]
    assert got == [
        ("page", "canonical", "head"),
        ("https://next.example.net/", "refresh", "head"),
        ("header-logo", "a", "header"),
        ("nav-in-header", "a", "nav"),
        ("nav-role", "a", "nav"),
        ("body-1", "a", "body"),
        ("aside-1", "a", "aside"),
        ("aside-2", "img", "aside"),
        ("header-article", "a", "header"),
        ("body-area", "area", "body"),
        ("footer-1", "a", "footer"),
        ("nav-in-footer", "a", "nav"),
        ("nav-role-footer", "a", "nav"),
        ("body-2", "a", "body"),
    ]
    # every href names its context (or its type, for the head's declarations)
    for link in page.links:
        if link.link_type in ("a", "img", "area"):
            assert link.href.rsplit("/", 1)[-1].startswith(link.context)


def test_contexts_reach_the_stored_rows() -> None:
    page = HtmlPage("https://site.example/", datetime(2024, 1, 1, tzinfo=UTC), 200, HTML, GOLDEN,
                    False, None, 0)
    rows = page_rows(page, "c", PublicSuffixList.bundled()).links
    by_url = {row[4]: (row[8], row[9]) for row in rows}
    assert by_url["https://canonical.example.org/page"] == ("canonical", "head")
    assert by_url["https://next.example.net/"] == ("refresh", "head")
    assert by_url["https://a.example.com/nav-in-footer"] == ("a", "nav")
    assert len(rows) == 14


def test_a_canonical_to_the_page_itself_is_not_stored_but_counted() -> None:
    html = b'<link rel="canonical" href="/"><a href="https://other.example/">x</a>'
    page = HtmlPage("https://site.example/", datetime(2024, 1, 1, tzinfo=UTC), 200, HTML, html,
                    False, None, 0)
    rows = page_rows(page, "c", PublicSuffixList.bundled())
    assert [row[8] for row in rows.links] == ["a"]
    assert rows.page is not None and (rows.page[6], rows.page[7]) == (1, 1)


def test_only_rel_canonical_links_count() -> None:
    html = (b'<link rel="alternate" href="https://x.example/fr"><link rel="icon" href="/i.ico">'
            b'<link rel="canonical nofollow" href="https://x.example/c"><link rel=canonical>')
    links = extract_links(html, HTML).links
    assert [(link.href, link.link_type) for link in links] == [("https://x.example/c", "canonical")]


@pytest.mark.parametrize(
    ("content", "url"),
    [
        ("0; url=https://x.example/", "https://x.example/"),
        ("5;URL='/next page'", "/next page"),
        ('0; url="https://x.example/a"; extra', "https://x.example/a"),
        ("3, https://x.example/b", "https://x.example/b"),
        ("url=/c", "/c"),
        ("0;url='/unclosed", "/unclosed"),
        ("10", None),
        ("", None),
        ("  7 ;  ", None),
    ],
)
def test_refresh_url(content: str, url: str | None) -> None:
    assert refresh_url(content) == url


def test_refresh_without_url_is_no_link() -> None:
    links = extract_links(b'<meta http-equiv="refresh" content="60"><a href="/a">a</a>', HTML).links
    assert [link.link_type for link in links] == ["a"]

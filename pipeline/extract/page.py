"""One crawled page -> its page row and its link rows. Pure: no IO, counters returned.

This is where extraction (raw links), URL resolution (hosts) and domain folding meet and
where DESIGN.md's definitions of internal, external and page-level nofollow are applied.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pipeline.config import Settings
from pipeline.extract.domains import PublicSuffixList
from pipeline.extract.html import CONTEXTS, LINK_TYPES, RawLink, extract_links
from pipeline.extract.rows import LinkRow, PageRow
from pipeline.extract.urls import Resolved, resolve_link, resolve_page_url
from pipeline.extract.wat import UNKNOWN_CONTEXT, WatPage
from pipeline.read.warc import HtmlPage, Redirect

REDIRECT_LINK = "redirect"
REDIRECT_CONTEXT = "http"  # a redirect's link is an HTTP header, not a place on a page
# Every value of links.link_type and links.context (docs/sql.md)
ALL_LINK_TYPES = (*LINK_TYPES, REDIRECT_LINK)
ALL_CONTEXTS = (*CONTEXTS, REDIRECT_CONTEXT, UNKNOWN_CONTEXT)


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of one page is kept. A page that hits a limit is kept and counted."""

    links_per_page: int = 10_000
    url_chars: int = 2_048
    anchor_chars: int = 256

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            links_per_page=settings.max_links_per_page,
            url_chars=settings.max_url_chars,
            anchor_chars=settings.max_anchor_chars,
        )


@dataclass(slots=True)
class PageRows:
    """A page's row, its cross-host link rows, and what was counted on the way."""

    page: PageRow | None
    links: list[LinkRow] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)


def base_url(page_url: str, base_href: str | None) -> str:
    """The URL links resolve against: ``<base href>`` resolved against the page, if usable."""
    if base_href is None:
        return page_url
    resolved = resolve_link(base_href, page_url)
    return resolved.url if isinstance(resolved, Resolved) else page_url


def page_rows(
    page: HtmlPage | WatPage | Redirect,
    crawl: str,
    psl: PublicSuffixList,
    limits: Limits = Limits(),  # noqa: B008 (frozen, so one shared default is safe)
) -> PageRows:
    """The rows of one page. Links to the page's own host count but are not stored.

    An HTML page is parsed here; a WAT page brings its links; a redirect is a page whose one
    link, of type ``redirect``, is its ``Location``.
    """
    source = resolve_page_url(page.url)
    if not isinstance(source, Resolved):
        return PageRows(page=None, counters=Counter({f"pages_rejected_{source}": 1}))
    counters: Counter[str] = Counter()
    truncated = False
    if isinstance(page, HtmlPage):
        extracted = extract_links(page.body, page.headers)
        counters.update(extracted.counters)
        links, base_href, robots = extracted.links, extracted.base_href, extracted.robots_nofollow
        truncated = page.truncated
        if truncated:
            counters["pages_truncated"] += 1
    elif isinstance(page, WatPage):
        links, base_href, robots = page.links, page.base_href, page.robots_nofollow
    else:
        links = [
            RawLink(page.location, "", REDIRECT_LINK, False, False, False, REDIRECT_CONTEXT)
        ]
        base_href, robots = None, False
        counters["redirects"] += 1
    return _assemble(
        page, source, links, base_href, robots, truncated, crawl, psl, counters, limits
    )


def _assemble(
    page: HtmlPage | WatPage | Redirect,
    source: Resolved,
    links: list[RawLink],
    base_href: str | None,
    robots_nofollow: bool,
    truncated: bool,
    crawl: str,
    psl: PublicSuffixList,
    counters: Counter[str],
    limits: Limits,
) -> PageRows:
    src_url, src_host = source.url, source.host
    src_domain = psl.fold(src_host)
    counters["links_found"] += len(links)
    if len(links) > limits.links_per_page:
        counters["pages_over_link_limit"] += 1
        counters["links_over_limit"] += len(links) - limits.links_per_page
        links = links[: limits.links_per_page]
    base = base_url(src_url, base_href)

    rows: list[LinkRow] = []
    internal = external = 0
    for link in links:
        target = resolve_link(link.href, base)
        if not isinstance(target, Resolved):
            counters[f"links_rejected_{target}"] += 1
            continue
        if len(target.url) > limits.url_chars:
            counters["links_rejected_url_too_long"] += 1
            continue
        dst_domain = psl.fold(target.host)
        is_external = dst_domain != src_domain
        if is_external:
            external += 1
        else:
            internal += 1
        if target.host == src_host:
            continue
        anchor = link.anchor
        if len(anchor) > limits.anchor_chars:
            counters["anchors_cut"] += 1
            anchor = anchor[: limits.anchor_chars].rstrip()
        rows.append(
            LinkRow(
                crawl, src_url, src_host, src_domain, target.url, target.host, dst_domain,
                anchor, link.link_type, link.context, link.nofollow, link.ugc, link.sponsored,
                is_external, page.fetch_time,
            )
        )
    counters["pages"] += 1
    counters["links_resolved"] += internal + external
    counters["links_stored"] += len(rows)
    row = PageRow(
        crawl, src_url, src_host, src_domain, page.fetch_time, page.status,
        internal, external, robots_nofollow, truncated,
    )
    return PageRows(page=row, links=rows, counters=counters)

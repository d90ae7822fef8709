"""Invariants every page's rows keep, whatever the input; shared by the hypothesis tests
(tests/test_properties.py) and the fuzzer (tests/fuzz.py)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pipeline.extract.page import ALL_CONTEXTS, ALL_LINK_TYPES, Limits, PageRows

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def is_valid_host(host: str) -> bool:
    """A lowercase ASCII (IDNA) host name: dot-separated labels, 253 characters at most."""
    if not host or len(host) > 253 or host != host.lower() or not host.isascii():
        return False
    return all(_LABEL.match(label) for label in host.split("."))


def is_domain_of(domain: str, host: str) -> bool:
    return host == domain or host.endswith("." + domain)


def check_host(host: str, domain: str) -> None:
    assert is_valid_host(host), f"invalid host {host!r}"
    assert is_domain_of(domain, host), f"domain {domain!r} is not a suffix of host {host!r}"


def check_page_rows(rows: PageRows, limits: Limits) -> None:
    if rows.page is None:
        assert not rows.links
        assert any(k.startswith("pages_rejected_") for k in rows.counters), rows.counters
        return
    _crawl, url, host, domain, _time, status, internal, external, robots, _cut = rows.page
    check_host(host, domain)
    assert urlsplit(url).scheme in ("http", "https")
    assert internal >= 0 and external >= 0
    assert len(rows.links) <= min(internal + external, limits.links_per_page)
    assert rows.counters["links_stored"] == len(rows.links)
    for link in rows.links:
        (_, src_url, src_host, src_domain, dst_url, dst_host, dst_domain, anchor, link_type,
         context, nofollow, ugc, sponsored, is_external, _) = link
        assert (src_url, src_host, src_domain) == (url, host, domain)
        check_host(dst_host, dst_domain)
        assert dst_host != src_host, "links to the page's own host are not stored"
        assert is_external == (dst_domain != src_domain)
        assert len(anchor) <= limits.anchor_chars and anchor == anchor.strip()
        assert len(dst_url) <= limits.url_chars
        parts = urlsplit(dst_url)
        assert parts.scheme in ("http", "https") and parts.hostname == dst_host, dst_url
        assert link_type in ALL_LINK_TYPES
        assert context in ALL_CONTEXTS
        assert all(isinstance(flag, bool) for flag in (nofollow, ugc, sponsored))
        assert not robots or nofollow, "a robots-nofollow page makes every link nofollow"

"""Resolve link URLs (WHATWG, with ada-url) and validate hosts as DESIGN.md defines them.

Pure functions; the host rules are cached because a crawl file repeats the same hosts.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from ada_url import URL, idna_to_ascii, join_url

UNSUPPORTED_SCHEME = "unsupported_scheme"
INVALID_URL = "invalid_url"
IP_HOST = "ip_host"
SINGLE_LABEL_HOST = "single_label_host"
INVALID_HOST = "invalid_host"
HOST_TOO_LONG = "host_too_long"

_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


class Resolved(NamedTuple):
    url: str
    host: str


@lru_cache(maxsize=65536)
def host_reject_reason(host: str) -> str | None:
    """None when ``host`` (already lowercase ASCII, no trailing dot) is a valid host."""
    if host.startswith("[") or _IPV4.match(host):
        return IP_HOST
    if len(host) > 253:
        return HOST_TOO_LONG
    labels = host.split(".")
    if "" in labels:
        return INVALID_HOST
    if len(labels) < 2:
        return SINGLE_LABEL_HOST
    if not all(_LABEL.match(label) for label in labels):
        return INVALID_HOST
    return None


@lru_cache(maxsize=65536)
def normalize_host(host: str) -> str | None:
    """A host as typed by a person (any case, Unicode) in the form the graph stores, or None."""
    try:
        converted = idna_to_ascii(host.strip().rstrip(".").lower())
        ascii_host = converted.decode("ascii") if isinstance(converted, bytes) else converted
    except (ValueError, UnicodeError):
        return None
    if not ascii_host or host_reject_reason(ascii_host) is not None:
        return None
    return ascii_host


@lru_cache(maxsize=1 << 17)
def _validated_href(href: str) -> Resolved | str:
    """A WHATWG-serialised URL (ada's ``href``) checked and cut to what the graph stores.

    Works on the string: in a serialised http(s) URL the authority follows ``://`` and ends
    at the first ``/``, ``?`` or ``#``; the host follows any ``userinfo@`` and precedes any
    ``:port``; the fragment starts at the first ``#``.
    """
    if href.startswith("https://"):
        start = 8
    elif href.startswith("http://"):
        start = 7
    else:
        return UNSUPPORTED_SCHEME
    end = len(href)
    for delimiter in "/?#":
        found = href.find(delimiter, start, end)
        if found >= 0:
            end = found
    host_start = href.rfind("@", start, end) + 1 or start
    if href.startswith("[", host_start):
        return IP_HOST
    port = href.find(":", host_start, end)
    host_end = port if port >= 0 else end
    host = href[host_start:host_end]
    trailing_dot = host.endswith(".")
    if trailing_dot:
        host = host[:-1]
    reason = host_reject_reason(host)
    if reason is not None:
        return reason
    fragment = href.find("#", end)
    if fragment >= 0:
        href = href[:fragment]
    if trailing_dot:
        href = href[: host_end - 1] + href[host_end:]
    return Resolved(href, host)


@lru_cache(maxsize=1 << 16)
def _resolve_absolute(href: str) -> Resolved | str:
    """An absolute http(s) link resolves the same on every page: cached by itself."""
    try:
        return _validated_href(join_url("http://base.invalid/", href))
    except ValueError:
        return INVALID_URL


# Links that are already in WHATWG's serialised form, which most links on the web are:
# http(s), a lowercase ASCII host whose last label starts with a letter (so not an IPv4
# address), no userinfo or port, and a path and query made only of characters that WHATWG
# leaves as they are. Such a link serialises to itself (less any fragment), so it needs no
# parser; anything else goes to ada. tests/test_properties.py checks that both paths agree.
_PLAIN_PATH = r"/[A-Za-z0-9\-._~!$&()*+,;=:@%/]*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@%/?]*)?"
_PLAIN_ABSOLUTE = re.compile(
    r"https?://((?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*)(" + _PLAIN_PATH + r")(?:#|$)"
)
_PLAIN_ROOT_RELATIVE = re.compile(r"(?!//)(" + _PLAIN_PATH + r")(?:#|$)")
_DOT_SEGMENT = re.compile(r"/\.|%2e", re.IGNORECASE)


@lru_cache(maxsize=4096)
def _origin(base: str) -> tuple[str, Resolved | str]:
    """'https://h.example/a/b' -> ('https://h.example', its validation)."""
    origin_end = base.find("/", base.find("//") + 2)
    origin = base[:origin_end] if origin_end > 0 else base
    return origin, _validated_href(origin + "/")


def resolve_link(href: str, base: str) -> Resolved | str:
    """Resolve ``href`` against ``base``: a Resolved URL and host, or a reject reason.

    ``base`` is a serialised, valid page URL: the ``url`` of a Resolved (as page_rows passes).
    """
    if href.startswith(("http://", "https://")):
        match = _PLAIN_ABSOLUTE.match(href)
        if match is not None and "xn--" not in href and not _DOT_SEGMENT.search(match[2]):
            host = match[1]
            reason = host_reject_reason(host)
            return reason if reason is not None else Resolved(href[: match.end(2)], host)
        return _resolve_absolute(href)
    if href.startswith("/"):
        match = _PLAIN_ROOT_RELATIVE.match(href)
        if match is not None and not _DOT_SEGMENT.search(match[1]):
            origin, page = _origin(base)
            if isinstance(page, Resolved):
                return Resolved(origin + match[1], page.host)
    try:
        return _validated_href(join_url(base, href))
    except ValueError:
        return INVALID_URL


def resolve_page_url(url: str) -> Resolved | str:
    """Validate a crawled page's own URL (WARC-Target-URI)."""
    try:
        return _validated_href(URL(url).href)
    except ValueError:
        return INVALID_URL

"""Resolve link URLs (WHATWG, with ada-url) and validate hosts as DESIGN.md defines them.

Pure functions; the host rules are cached because a crawl file repeats the same hosts.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from ada_url import URL, idna_to_ascii

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


def _validated(url: URL) -> Resolved | str:
    if url.protocol not in ("http:", "https:"):
        return UNSUPPORTED_SCHEME
    host = url.hostname
    trailing_dot = host.endswith(".")
    if trailing_dot:
        host = host[:-1]
    reason = host_reject_reason(host)
    if reason is not None:
        return reason
    if trailing_dot:
        url.hostname = host
    url.hash = ""
    return Resolved(url.href, host)


def resolve_link(href: str, base: str) -> Resolved | str:
    """Resolve ``href`` against ``base``: a Resolved URL and host, or a reject reason."""
    try:
        url = URL(href, base=base)
    except ValueError:
        return INVALID_URL
    return _validated(url)


def resolve_page_url(url: str) -> Resolved | str:
    """Validate a crawled page's own URL (WARC-Target-URI)."""
    try:
        parsed = URL(url)
    except ValueError:
        return INVALID_URL
    return _validated(parsed)

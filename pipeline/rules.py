"""The rules of a page's links, defined once: the WARC reader (records.py, extract.py) and the
WAT reader (wat.py) both apply these functions, so a page gives the same links either way.

Pure: no IO, never raises for any string. Covered here:

- robots: the tokens of ``<meta name=robots>`` and of ``X-Robots-Tag`` that make every link
  of a page nofollow (``nofollow``, ``none``);
- HTTP header lookup, case-insensitive, over a WARC record's header pairs or a WAT
  envelope's ``Headers`` object (where a repeated header is a list of values);
- status and redirect classification: which responses are pages, which are redirects (a 3xx
  with a ``Location``), and the skip reason of the rest;
- ``rel``: its tokens, the nofollow/ugc/sponsored flags of a link, and canonical links;
- ``<meta http-equiv=refresh>``: whether a meta is a refresh, and the URL it sends to.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

# A WARC record's HTTP headers as (name, value) pairs, or a WAT envelope's Headers object,
# whose values are strings or, for a header sent more than once, lists of strings.
Headers = Sequence[tuple[str, str]] | Mapping[str, object]

PAGE_STATUS = "200"
REDIRECT = "redirect"  # what classify_status gives a redirect (not a skip reason)
STATUS_INVALID = "status_invalid"

# Robots tokens are separated by whitespace, commas and colons: "noindex, nofollow", and
# "googlebot: nofollow" (an X-Robots-Tag naming a crawler; the rule is applied whatever
# crawler it names, as for an unnamed one).
_ROBOTS_SEPARATORS = re.compile(r"[\s,:]+")
NOFOLLOW_TOKENS = frozenset({"nofollow", "none"})
_REFRESH_URL = re.compile(r"""^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(["']?)(.*)$""", re.I | re.S)


def says_nofollow(value: str) -> bool:
    """True when a robots value (meta content or X-Robots-Tag) holds ``nofollow`` or
    ``none``, case-insensitive."""
    return not NOFOLLOW_TOKENS.isdisjoint(_ROBOTS_SEPARATORS.split(value.lower()))


def header_values(headers: Headers, name: str) -> list[str]:
    """Every value of the header ``name`` (any case), in order."""
    wanted = name.lower()
    if isinstance(headers, Mapping):
        found: list[str] = []
        for key, value in headers.items():
            if str(key).lower() != wanted:
                continue
            if isinstance(value, list):
                found.extend(str(item) for item in value)
            else:
                found.append(str(value))
        return found
    return [value for key, value in headers if key.lower() == wanted]


def header(headers: Headers, name: str) -> str:
    """The first value of the header ``name`` (any case), or "" when it is absent."""
    values = header_values(headers, name)
    return values[0] if values else ""


def headers_say_nofollow(headers: Headers) -> bool:
    """True when an ``X-Robots-Tag`` header says nofollow (any of them, when repeated)."""
    return any(says_nofollow(value) for value in header_values(headers, "x-robots-tag"))


def read_meta(
    name: str | None, http_equiv: str | None, content: str | None
) -> tuple[bool, str | None]:
    """What a ``<meta>`` says: (robots nofollow, refresh target). A meta named ``robots`` is
    read as robots only; otherwise ``http-equiv=refresh`` gives the URL it sends to, or None
    when it only reloads the page."""
    if (name or "").strip().lower() == "robots":
        return says_nofollow(content or ""), None
    if (http_equiv or "").strip().lower() == "refresh":
        return False, refresh_url(content or "")
    return False, None


def refresh_url(content: str) -> str | None:
    """The URL of a meta refresh's content (``5; url='/next'``), or None when it only reloads
    the page. Follows the HTML standard's parsing: a number, a separator, optional ``url=``,
    optional quotes (an unclosed quote runs to the end)."""
    match = _REFRESH_URL.match(content)
    if match is None:
        return None
    quote, rest = match.groups()
    if quote and quote in rest:
        rest = rest[: rest.index(quote)]
    url = rest.strip()
    return url or None


def rel_tokens(value: str | None) -> frozenset[str]:
    """The tokens of a ``rel`` attribute, lowercased."""
    return frozenset(value.lower().split()) if value else frozenset()


def is_canonical(rel: str | None) -> bool:
    """True when a ``<link>``'s rel holds the token ``canonical`` (any case)."""
    return "canonical" in rel_tokens(rel)


def link_flags(rel: frozenset[str], robots: bool) -> tuple[bool, bool, bool]:
    """(nofollow, ugc, sponsored) of a link with these rel tokens on a page whose robots say
    nofollow or not. Canonical and refresh links are declarations: they get no rel tokens
    (``frozenset()``), so only the page's robots make them nofollow."""
    return robots or "nofollow" in rel, "ugc" in rel, "sponsored" in rel


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def classify_status(status: str, location: str) -> str | None:
    """None for a page (status 200), :data:`REDIRECT` for a 3xx with a ``Location``, else
    the skip reason: ``status_3xx`` (a 3xx without Location), ``status_4xx``, ...,
    ``status_invalid``."""
    if status[:1] == "3" and _digits(status) and location:
        return REDIRECT
    if status != PAGE_STATUS:
        return f"status_{status[:1]}xx" if _digits(status[:1]) else STATUS_INVALID
    return None


def classify_response(status: str, headers: Headers) -> str | None:
    """:func:`classify_status` of a response with these headers."""
    return classify_status(status, header(headers, "location"))


def redirect_location(headers: Headers) -> str:
    """The target of a redirect: its ``Location``, trimmed."""
    return header(headers, "location").strip()

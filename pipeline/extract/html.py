"""Extract links from HTML with selectolax (Lexbor): bytes and headers in, raw links out.

Pure: no URL resolution here (see urls.py), never raises for any bytes.

Each link records its type (``a``, ``img``, ``area``, ``canonical`` for ``<link
rel=canonical>``, ``refresh`` for ``<meta http-equiv=refresh>``) and its context: the nearest
``nav``, ``header``, ``footer`` or ``aside`` ancestor (``role="navigation"`` counts as nav),
else ``body``; canonical and refresh links, which are declarations rather than places on the
page, have the context ``head``.

The rules (robots, rel flags, canonical, refresh, header lookup) are rules.py's, shared with
the WAT reader.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser

from pipeline.rules import (
    header_values,
    headers_say_nofollow,
    is_canonical,
    link_flags,
    read_meta,
    rel_tokens,
)
from pipeline.rules import refresh_url as refresh_url  # its former home: still importable here

LINK_TYPES = ("a", "img", "area", "canonical", "refresh")
CONTEXTS = ("nav", "header", "footer", "aside", "body", "head")
# Containers that give a link its context; a nested one is later in document order than its
# ancestor, so assigning in document order leaves each link with its nearest container.
_CONTAINERS = "nav, header, footer, aside, [role~=navigation i]"
_LINKS = "a[href], area[href]"
MAX_ANCHOR_CHARS = 4_096  # work bound only; the max_anchor_chars setting cuts (pages.py)
_CHARSET_IN_HEADER = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_CHARSET_IN_HTML = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252",
            "ascii": "cp1252", "gb2312": "gbk", "x-sjis": "shift_jis"}


@dataclass(slots=True)
class RawLink:
    href: str
    anchor: str
    link_type: str
    nofollow: bool
    ugc: bool
    sponsored: bool
    context: str = "body"


@dataclass(slots=True)
class ExtractedPage:
    links: list[RawLink]
    base_href: str | None
    robots_nofollow: bool
    charset: str
    counters: dict[str, int] = field(default_factory=dict)


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = _ALIASES.get(label.lower(), label.lower())
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def detect_charset(html: bytes, headers: Sequence[tuple[str, str]]) -> str:
    for value in header_values(headers, "content-type"):
        match = _CHARSET_IN_HEADER.search(value)
        if match and (codec := _codec(match.group(1))):
            return codec
    declared = _CHARSET_IN_HTML.search(html[:4096])
    if declared and (codec := _codec(declared.group(1).decode("ascii", "replace"))):
        return codec
    return "utf-8"


def anchor_text(text: str) -> str:
    """Whitespace collapsed (str.split's whitespace is the regex ``\\s``), trimmed, bounded."""
    return " ".join(text.split())[:MAX_ANCHOR_CHARS]


def _contexts(tree: LexborHTMLParser) -> dict[int, str]:
    """Link node id -> its nearest context container, for links inside one."""
    contexts: dict[int, str] = {}
    for container in tree.css(_CONTAINERS):
        tag = container.tag or ""
        context = tag if tag in ("nav", "header", "footer", "aside") else "nav"
        for node in container.css(_LINKS):
            contexts[node.mem_id] = context
    return contexts


def _parse(html: bytes, charset: str, counters: dict[str, int]) -> LexborHTMLParser:
    """Lexbor's tree of the page. Lexbor reads UTF-8 bytes as they are, so a page that is
    clean UTF-8 (ASCII is checked at C speed) goes in without being decoded and re-encoded;
    other pages are decoded with their charset, undecodable bytes replaced and counted."""
    if charset == "utf-8":
        if html.isascii():
            return LexborHTMLParser(html)
        try:
            html.decode("utf-8")
            return LexborHTMLParser(html)
        except UnicodeDecodeError:
            pass
    text = html.decode(charset, errors="replace")
    if "\ufffd" in text:
        counters["decode_replacements"] = 1
    return LexborHTMLParser(text)


def extract_links(html: bytes, headers: Sequence[tuple[str, str]]) -> ExtractedPage:
    counters: dict[str, int] = {}
    charset = detect_charset(html, headers)
    tree = _parse(html, charset, counters)
    robots = headers_say_nofollow(headers)
    base_href: str | None = None
    found: list[tuple[str, str, str, frozenset[str], str]] = []  # href, anchor, type, rel, context
    contexts = _contexts(tree)
    # One walk of the tree, in document order, for links, metas, canonicals and the first base.
    for node in tree.css(
        "a[href], area[href], meta[name], meta[http-equiv], base[href], link[rel][href]"
    ):
        attrs = node.attributes
        tag = node.tag
        if tag == "meta":
            nofollow, target = read_meta(
                attrs.get("name"), attrs.get("http-equiv"), attrs.get("content")
            )
            robots = robots or nofollow
            if target is not None:
                found.append((target, "", "refresh", frozenset(), "head"))
            continue
        if tag == "base":
            if base_href is None:
                base_href = attrs.get("href")
            continue
        if tag == "link":
            if is_canonical(attrs.get("rel")):
                found.append((attrs.get("href") or "", "", "canonical", frozenset(), "head"))
            continue
        rel = rel_tokens(attrs.get("rel"))
        if tag == "area":
            kind, anchor = "area", anchor_text(attrs.get("alt") or "")
        else:
            anchor = anchor_text(node.text(deep=True))
            image = node.css_first("img") if not anchor else None
            kind = "img" if image is not None else "a"
            if image is not None:
                anchor = anchor_text(image.attributes.get("alt") or "")
        context = contexts.get(node.mem_id, "body")
        found.append((attrs.get("href") or "", anchor, kind, rel, context))
    links = [
        RawLink(href, anchor, kind, *link_flags(rel, robots), context)
        for href, anchor, kind, rel, context in found
    ]
    return ExtractedPage(links, base_href, robots, charset, counters)

"""Read links from WAT files: the JSON metadata Common Crawl extracts from each WARC record.

A WAT file is a WARC file of ``metadata`` records, one per record of the WARC it was made
from. For a response, the JSON ``Envelope -> Payload-Metadata -> HTTP-Response-Metadata``
holds the status, the headers and ``HTML-Metadata``: ``Head`` (``Base``, ``Metas``) and
``Links``, a list of ``{"path": "A@/href", "url": ..., "text": ..., "rel": ...}``.

WAT differs from parsing the HTML (see docs/sources.md, "WARC or WAT"): URLs are the attribute
values as written (not resolved; older files keep ``&amp;``), anchors are cut to 128
characters, and an ``<a>`` holding an image has no text and no alt, so image links are type
``a`` with an empty anchor. WAT does not say where on the page a link sits, so the
context of its ``a`` and ``area`` links is ``unknown``; canonical links (``LINK@/href`` with
``rel=canonical``) and meta refreshes (``Head.Metas``) are ``head``, as from the HTML.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from pipeline.extract import RawLink, anchor_text, refresh_url
from pipeline.framing import Damage
from pipeline.records import (
    DEFAULT_MAX_RECORD_BYTES,
    METADATA,
    NO_TARGET_URI,
    NOT_HTML,
    OTHER_RECORD_TYPE,
    PAYLOAD_UNREADABLE,
    REQUEST,
    WARCINFO,
    Redirect,
    Skipped,
    Unparsed,
    parse_warc_date,
    read_payload,
    warc_records,
)

INVALID_JSON = "wat_invalid_json"
MALFORMED = "wat_malformed"  # valid JSON, but not the shape of a WAT envelope
# The link paths that are links by DESIGN.md's definition, and their types.
LINK_PATHS = {"A@/href": "a", "AREA@/href": "area", "LINK@/href": "canonical"}
UNKNOWN_CONTEXT = "unknown"
_ENVELOPE_TYPES = {"request": REQUEST, "metadata": METADATA, "warcinfo": WARCINFO}


@dataclass(frozen=True, slots=True)
class WatPage:
    """A crawled HTML page as a WAT record describes it: its links already extracted."""

    url: str
    fetch_time: datetime
    status: int
    links: list[RawLink]
    base_href: str | None
    robots_nofollow: bool
    crawl: str | None
    offset: int


def _says_nofollow(value: str) -> bool:
    tokens = set(value.lower().replace(",", " ").split())
    return "nofollow" in tokens or "none" in tokens


def _robots_nofollow(head: dict[str, Any], headers: dict[str, Any]) -> bool:
    for meta in head.get("Metas") or []:
        if isinstance(meta, dict) and str(meta.get("name", "")).strip().lower() == "robots":
            if _says_nofollow(str(meta.get("content", ""))):
                return True
    return any(
        key.lower() == "x-robots-tag" and _says_nofollow(str(value))
        for key, value in headers.items()
    )


def _links(entries: list[Any], robots: bool) -> list[RawLink]:
    links = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kind = LINK_PATHS.get(str(entry.get("path", "")))
        if kind is None or "url" not in entry:
            continue
        href = str(entry["url"])
        if "&" in href:  # only then can there be a character reference to decode
            href = html.unescape(href)
        rel_value = entry.get("rel")
        rel = set(str(rel_value).lower().split()) if rel_value else set()
        if kind == "canonical":
            if "canonical" in rel:
                links.append(RawLink(href, "", kind, robots, False, False, "head"))
            continue
        text = entry.get("alt", "") if kind == "area" else entry.get("text", "")
        links.append(
            RawLink(
                href=href,
                anchor=anchor_text(str(text or "")),
                link_type=kind,
                nofollow=robots or "nofollow" in rel,
                ugc="ugc" in rel,
                sponsored="sponsored" in rel,
                context=UNKNOWN_CONTEXT,
            )
        )
    return links


def _refresh_links(head: dict[str, Any], robots: bool) -> list[RawLink]:
    """``<meta http-equiv=refresh content="0; url=...">`` of the page's head, as links."""
    links = []
    for meta in head.get("Metas") or []:
        if not isinstance(meta, dict):
            continue
        if str(meta.get("http-equiv", "")).strip().lower() != "refresh":
            continue
        target = refresh_url(str(meta.get("content", "")))
        if target is not None:
            links.append(RawLink(target, "", "refresh", robots, False, False, "head"))
    return links


def _header(headers: dict[str, Any], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return ""


def page_from_envelope(
    envelope: dict[str, Any], crawl: str | None, offset: int
) -> WatPage | Redirect | Skipped | str:
    """One WAT envelope to an event; a ``str`` is the crawl id of a warcinfo envelope."""
    warc = envelope.get("WARC-Header-Metadata") or {}
    payload = envelope.get("Payload-Metadata") or {}
    kind = warc.get("WARC-Type", "")
    if kind == "warcinfo":
        info = payload.get("WARC-Info-Metadata") or {}
        return str(info.get("isPartOf") or "")
    if kind != "response":
        return Skipped(_ENVELOPE_TYPES.get(kind, OTHER_RECORD_TYPE), offset)
    url = str(warc.get("WARC-Target-URI") or "").strip("<> ")
    if not url:
        return Skipped(NO_TARGET_URI, offset)
    response = payload.get("HTTP-Response-Metadata") or {}
    status_text = str((response.get("Response-Message") or {}).get("Status", ""))
    headers = response.get("Headers") or {}
    fetch_time = parse_warc_date(warc.get("WARC-Date"))
    if status_text[:1] == "3" and status_text.isdigit() and _header(headers, "location"):
        return Redirect(url, fetch_time, int(status_text), _header(headers, "location").strip(),
                        crawl, offset)
    if status_text != "200":
        return Skipped(f"status_{status_text[:1]}xx" if status_text[:1].isdigit()
                       else "status_invalid", offset)
    metadata = response.get("HTML-Metadata")
    if not isinstance(metadata, dict):
        return Skipped(NOT_HTML, offset)
    head = metadata.get("Head") or {}
    robots = _robots_nofollow(head, headers)
    base = head.get("Base")
    return WatPage(
        url=url,
        fetch_time=fetch_time,
        status=200,
        links=_refresh_links(head, robots) + _links(metadata.get("Links") or [], robots),
        base_href=str(base) if base else None,
        robots_nofollow=robots,
        crawl=crawl,
        offset=offset,
    )


def iter_wat_records(
    stream: BinaryIO, *, input_name: str, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[WatPage | Redirect | Skipped | Damage]:
    """Yield an event per record of a WAT stream: pages, redirects, or skips with a reason,
    and a :class:`~pipeline.framing.Damage` for each damaged stretch of the file."""
    crawl: str | None = None
    for item in warc_records(stream, input_name=input_name, max_record_bytes=max_record_bytes):
        if isinstance(item, Damage):
            yield item
            continue
        if isinstance(item, Unparsed):  # not asked for (no skip_types): never happens
            yield Skipped(OTHER_RECORD_TYPE, item.offset)
            continue
        record, offset = item
        if record.rec_type == "warcinfo":
            yield Skipped(WARCINFO, offset)
            continue
        if record.rec_type != "metadata":
            yield Skipped(OTHER_RECORD_TYPE, offset)
            continue
        payload = read_payload(record)
        if payload is None:
            yield Skipped(PAYLOAD_UNREADABLE, offset)
            continue
        try:
            document = json.loads(payload)
            envelope = document["Envelope"]
            if not isinstance(envelope, dict):
                raise TypeError("Envelope is not an object")
        except (ValueError, KeyError, TypeError, RecursionError):
            yield Skipped(INVALID_JSON, offset)
            continue
        try:
            event = page_from_envelope(envelope, crawl, offset)
        except (AttributeError, TypeError, ValueError):
            yield Skipped(MALFORMED, offset)
            continue
        if isinstance(event, str):
            crawl = event or crawl
            yield Skipped(WARCINFO, offset)
        else:
            yield event

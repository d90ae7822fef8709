"""Read links from WAT files: the JSON metadata Common Crawl extracts from each WARC record.

A WAT file is a WARC file of ``metadata`` records, one per record of the WARC it was made
from. For a response, the JSON ``Envelope -> Payload-Metadata -> HTTP-Response-Metadata``
holds the status, the headers (a header sent twice is a list of its values) and
``HTML-Metadata``: ``Head`` (``Base``, ``Metas``, and ``Link``, every ``<link>`` element as
``{"path": "LINK@/href", "url": ..., "rel": ..., "type": ...}``) and ``Links``, the body's
links, a list of ``{"path": "A@/href", "url": ..., "text": ..., "rel": ...}``.

WAT differs from parsing the HTML (see docs/sources.md, "WARC or WAT"): URLs are the attribute
values as written (not resolved; older files keep ``&amp;``), anchors are cut to 128
characters, and an ``<a>`` holding an image has no text and no alt, so image links are type
``a`` with an empty anchor. WAT does not say where on the page a link sits, so the
context of its ``a`` and ``area`` links is ``unknown``; canonical links (``Head.Link``
entries with ``rel=canonical``) and meta refreshes (``Head.Metas``) are ``head``, as from the
HTML. The rules (robots, rel flags, canonical, refresh, status, header lookup) are rules.py's,
the same as for WARC input.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from pipeline.extract.html import RawLink, anchor_text
from pipeline.read.framing import Damage
from pipeline.read.warc import (
    DEFAULT_MAX_RECORD_BYTES,
    METADATA,
    NO_TARGET_URI,
    NOT_HTML,
    OTHER_RECORD_TYPE,
    PAYLOAD_UNREADABLE,
    REQUEST,
    WARCINFO,
    Block,
    Redirect,
    Skipped,
    Unparsed,
    parse_warc_date,
    read_payload,
    warc_records,
)
from pipeline.rules import (
    REDIRECT,
    Headers,
    classify_response,
    headers_say_nofollow,
    is_canonical,
    link_flags,
    read_meta,
    redirect_location,
    rel_tokens,
)

INVALID_JSON = "wat_invalid_json"
MALFORMED = "wat_malformed"  # valid JSON, but not the shape of a WAT envelope
# The paths of HTML-Metadata.Links that are links by DESIGN.md's definition, and their types.
LINK_PATHS = {"A@/href": "a", "AREA@/href": "area"}
# The path of a <link> element's entry in HTML-Metadata.Head.Link.
HEAD_LINK_PATH = "LINK@/href"
UNKNOWN_CONTEXT = "unknown"
_ENVELOPE_TYPES = {"request": REQUEST, "metadata": METADATA, "warcinfo": WARCINFO}
_METADATA = frozenset({"metadata"})  # the WARC records of a WAT that hold its JSON


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


def _text(entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return None if value is None else str(value)


def _url(entry: dict[str, Any]) -> str:
    href = str(entry["url"])
    if "&" in href:  # only then can there be a character reference to decode
        href = html.unescape(href)
    return href


def _metas(head: dict[str, Any]) -> tuple[bool, list[str]]:
    """What ``Head.Metas`` says: (robots nofollow, the refresh targets in order)."""
    robots = False
    targets = []
    for meta in head.get("Metas") or []:
        if not isinstance(meta, dict):
            continue
        nofollow, target = read_meta(
            _text(meta, "name"), _text(meta, "http-equiv"), _text(meta, "content")
        )
        robots = robots or nofollow
        if target is not None:
            targets.append(target)
    return robots, targets


def _head_links(head: dict[str, Any], refreshes: list[str], robots: bool) -> list[RawLink]:
    """The page's declarations as links: its meta refreshes, then its canonical ``<link>``
    elements (``Head.Link``, where Common Crawl puts every ``<link>``, in the head or not)."""
    declared = link_flags(frozenset(), robots)
    links = [RawLink(target, "", "refresh", *declared, "head") for target in refreshes]
    for entry in head.get("Link") or []:
        if not isinstance(entry, dict) or "url" not in entry:
            continue
        if entry.get("path") == HEAD_LINK_PATH and is_canonical(_text(entry, "rel")):
            links.append(RawLink(_url(entry), "", "canonical", *declared, "head"))
    return links


def _links(entries: list[Any], robots: bool) -> list[RawLink]:
    """The body's ``a`` and ``area`` links (``Links``)."""
    links = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kind = LINK_PATHS.get(str(entry.get("path", "")))
        if kind is None or "url" not in entry:
            continue
        rel_value = entry.get("rel")
        rel = rel_tokens(str(rel_value)) if rel_value else frozenset()
        text = entry.get("alt", "") if kind == "area" else entry.get("text", "")
        links.append(
            RawLink(_url(entry), anchor_text(str(text or "")), kind, *link_flags(rel, robots),
                    UNKNOWN_CONTEXT)
        )
    return links


def _headers(response: dict[str, Any]) -> Headers:
    headers = response.get("Headers") or {}
    if not isinstance(headers, dict):
        raise TypeError("Headers is not an object")
    return headers


@dataclass(frozen=True, slots=True)
class WatPayload:
    """The JSON payload of one WAT metadata record, and where the record starts."""

    payload: bytes
    offset: int


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
    headers = _headers(response)
    fetch_time = parse_warc_date(warc.get("WARC-Date"))
    reason = classify_response(status_text, headers)
    if reason == REDIRECT:
        return Redirect(url, fetch_time, int(status_text), redirect_location(headers), crawl,
                        offset)
    if reason is not None:
        return Skipped(reason, offset)
    metadata = response.get("HTML-Metadata")
    if not isinstance(metadata, dict):
        return Skipped(NOT_HTML, offset)
    head = metadata.get("Head") or {}
    meta_robots, refreshes = _metas(head)
    robots = headers_say_nofollow(headers) or meta_robots
    base = head.get("Base")
    return WatPage(
        url=url,
        fetch_time=fetch_time,
        status=200,
        links=_head_links(head, refreshes, robots) + _links(metadata.get("Links") or [], robots),
        base_href=str(base) if base else None,
        robots_nofollow=robots,
        crawl=crawl,
        offset=offset,
    )


def iter_wat_payloads(
    stream: BinaryIO, *, input_name: str, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[WatPayload | Skipped | Damage]:
    """The records of a WAT stream as the readers take them: each metadata record's JSON
    payload (a :class:`WatPayload`), the other records as skips, and a
    :class:`~pipeline.read.framing.Damage` for each damaged stretch of the file."""
    for item in warc_records(stream, input_name=input_name, max_record_bytes=max_record_bytes,
                             block_types=_METADATA):
        if isinstance(item, Damage):
            yield item
            continue
        if isinstance(item, Block):  # a metadata record with a plain header: its payload
            yield WatPayload(item.block, item.offset)
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
        yield WatPayload(payload, offset)


def event_of_payload(
    payload: bytes, crawl: str | None, offset: int = 0
) -> WatPage | Redirect | Skipped | str:
    """One metadata payload to its event; a ``str`` is the crawl id of a warcinfo envelope
    (the Rust core asks this for the few records it leaves to Python)."""
    try:
        document = json.loads(payload)
        envelope = document["Envelope"]
        if not isinstance(envelope, dict):
            raise TypeError("Envelope is not an object")
    except (ValueError, KeyError, TypeError, RecursionError):
        return Skipped(INVALID_JSON, offset)
    try:
        return page_from_envelope(envelope, crawl, offset)
    except (AttributeError, TypeError, ValueError):
        return Skipped(MALFORMED, offset)


def iter_wat_records(
    stream: BinaryIO, *, input_name: str, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> Iterator[WatPage | Redirect | Skipped | Damage]:
    """Yield an event per record of a WAT stream: pages, redirects, or skips with a reason,
    and a :class:`~pipeline.read.framing.Damage` for each damaged stretch of the file."""
    crawl: str | None = None
    for item in iter_wat_payloads(stream, input_name=input_name,
                                  max_record_bytes=max_record_bytes):
        if not isinstance(item, WatPayload):
            yield item
            continue
        event = event_of_payload(item.payload, crawl, item.offset)
        if isinstance(event, str):
            crawl = event or crawl
            yield Skipped(WARCINFO, item.offset)
        else:
            yield event

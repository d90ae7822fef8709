"""Iterate the HTML pages of a WARC stream; everything else is skipped by reason.

``iter_records`` takes an open binary stream (never a path) and yields one event per WARC
record: an :class:`HtmlPage` for a 200 HTML response, a :class:`Redirect` for a 3xx response
with a ``Location``, a :class:`Skipped` with a reason for every other record, and a
:class:`~pipeline.read.framing.Damage` for each damaged stretch of the file. Records are cut out
of the stream by framing.py and parsed by warcio. Counting is the caller's job. A stream in
which no record can be read raises :class:`~pipeline.errors.CorruptInput` naming the input
and the byte offset. Which responses are pages and which are redirects is rules.py's rule,
shared with the WAT reader.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import BinaryIO

from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord, ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeadersParserException

from pipeline.errors import CorruptInput
from pipeline.read.framing import BAD_HEADER, Damage, RawRecord, iter_framed, record_type
from pipeline.rules import REDIRECT, classify_response, header, redirect_location

# Skip reasons, also the names of their counters.
WARCINFO = "warcinfo"
REQUEST = "request"
METADATA = "metadata"
REVISIT = "revisit"
OTHER_RECORD_TYPE = "other_record_type"
NO_HTTP_HEADERS = "no_http_headers"
NO_TARGET_URI = "no_target_uri"
NOT_HTML = "not_html"
PAYLOAD_UNREADABLE = "payload_unreadable"

HTML_MIME_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# WHATWG MIME Sniffing 7.1: these "unknown" types are sniffed like a missing Content-Type.
UNKNOWN_MIME_TYPES = frozenset({"", "unknown/unknown", "application/unknown", "*/*"})
# WHATWG MIME Sniffing 7.1, "identifying a resource with an unknown MIME type": the HTML
# patterns, each followed by a tag-terminating byte (space or '>').
HTML_SIGNATURES = tuple(
    tag.encode("ascii")
    for tag in (
        "<!DOCTYPE HTML", "<HTML", "<HEAD", "<SCRIPT", "<IFRAME", "<H1", "<DIV", "<FONT",
        "<TABLE", "<A", "<STYLE", "<TITLE", "<B", "<BODY", "<BR", "<P", "<!--",
    )
)
_TAG_TERMINATORS = b" >\t\n\x0c\r"
_WHITESPACE = b"\t\n\x0c\r "

# What goes wrong inside warcio and zlib when the container is damaged.
_CONTAINER_ERRORS = (ArchiveLoadFailed, zlib.error, EOFError, ValueError, UnicodeDecodeError)
# What warcio raises on a record whose headers it cannot parse (AttributeError: a response
# without WARC-Target-URI, found by fuzzing).
_RECORD_ERRORS = (
    *_CONTAINER_ERRORS, StatusAndHeadersParserException, IndexError, KeyError, AttributeError,
    TypeError,
)
DEFAULT_MAX_RECORD_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HtmlPage:
    """A crawled HTML page: a WARC response with HTTP status 200 and an HTML payload."""

    url: str
    fetch_time: datetime
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool
    crawl: str | None
    offset: int


@dataclass(frozen=True, slots=True)
class Redirect:
    """A 3xx response with a ``Location``: a link of type ``redirect`` from ``url``."""

    url: str
    fetch_time: datetime
    status: int
    location: str
    crawl: str | None
    offset: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that is not an HTML page, with the reason it was skipped."""

    reason: str
    offset: int


def mime_type(content_type: str | None) -> str:
    """The essence of a Content-Type value: 'text/html; charset=x' -> 'text/html'."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def sniff_html(payload_head: bytes) -> bool:
    """True when the payload starts (after whitespace) with one of WHATWG's HTML patterns."""
    head = payload_head.lstrip(_WHITESPACE)[:512].upper()
    for signature in HTML_SIGNATURES:
        if head.startswith(signature):
            after = head[len(signature) : len(signature) + 1]
            if after and after in _TAG_TERMINATORS:
                return True
    return False


def parse_warc_date(value: str | None) -> datetime:
    """WARC-Date (ISO 8601, UTC, 'Z' suffix) as an aware datetime; the epoch when missing."""
    if not value:
        return datetime(1970, 1, 1, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def crawl_from_warcinfo(payload: bytes) -> str | None:
    """The ``isPartOf`` field of a warcinfo payload ('isPartOf: CC-MAIN-2024-22')."""
    for line in payload.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "ispartof" and value.strip():
            return value.strip()
    return None


def _classify_response(record: ArcWarcRecord) -> str | None:
    """The skip reason of a response record, or None when it is a 200 page (maybe HTML)."""
    if record.http_headers is None:
        return NO_HTTP_HEADERS
    if not record.rec_headers.get_header("WARC-Target-URI"):
        return NO_TARGET_URI
    return classify_response(record.http_headers.get_statuscode(), record.http_headers.headers)


def _read_page(record: ArcWarcRecord, crawl: str | None, offset: int, limit: int) -> HtmlPage | Skipped:
    content_type = mime_type(header(record.http_headers.headers, "content-type"))
    if content_type not in HTML_MIME_TYPES and content_type not in UNKNOWN_MIME_TYPES:
        return Skipped(NOT_HTML, offset)
    body = read_payload(record, limit + 1)
    if body is None:
        return Skipped(PAYLOAD_UNREADABLE, offset)
    if content_type in UNKNOWN_MIME_TYPES and not sniff_html(body[:1024]):
        return Skipped(NOT_HTML, offset)
    return HtmlPage(
        url=record.rec_headers.get_header("WARC-Target-URI").strip("<> "),
        fetch_time=parse_warc_date(record.rec_headers.get_header("WARC-Date")),
        status=200,
        headers=list(record.http_headers.headers),
        body=body[:limit],
        truncated=len(body) > limit,
        crawl=crawl,
        offset=offset,
    )


def _read_redirect(record: ArcWarcRecord, crawl: str | None, offset: int) -> Redirect:
    return Redirect(
        url=record.rec_headers.get_header("WARC-Target-URI").strip("<> "),
        fetch_time=parse_warc_date(record.rec_headers.get_header("WARC-Date")),
        status=int(record.http_headers.get_statuscode()),
        location=redirect_location(record.http_headers.headers),
        crawl=crawl,
        offset=offset,
    )


@dataclass(frozen=True, slots=True)
class Block:
    """A record of a type whose block is all the caller reads (``block_types``), read
    without warcio because its WARC header is plain (:func:`plain_block`)."""

    rec_type: str
    offset: int
    block: bytes


# A WARC header block as Common Crawl writes it: the version line, then lines of a token, a
# colon and a printable ASCII value (no continuation lines, no trailing blanks, nothing that
# decodes differently), then the blank line. warcio reads such a block the obvious way.
_PLAIN_HEADER = re.compile(
    rb"WARC/1\.[01]\r\n(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[!-~](?:[ -~]*[!-~])?\r\n)+\r\n"
)


def plain_block(record: RawRecord, block_types: frozenset[str]) -> Block | None:
    """The record's type and block when its header is plain, its ``WARC-Type`` (one,
    exactly as written) is one of ``block_types`` and its one ``Content-Length`` is digits;
    None otherwise, and the record is left to warcio. What it gives is what warcio's parse
    and :func:`read_payload` give for such a record (tests/test_plain_block.py holds it to
    that): a type warcio reads no HTTP message for, so the block is the payload, and the
    framing already cut the record at its Content-Length. About 3x cheaper than warcio for
    a WAT record."""
    header = _PLAIN_HEADER.match(record.data)
    if header is None:
        return None
    kinds, lengths = [], []
    for line in record.data[: header.end() - 4].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.lower()
        if name == b"warc-type":
            kinds.append(value.lstrip())
        elif name == b"content-length":
            lengths.append(value.lstrip())
    if len(kinds) != 1 or len(lengths) != 1 or not lengths[0].isdigit():
        return None
    kind = kinds[0].decode("ascii")
    if kind not in block_types:
        return None
    return Block(kind, record.offset, record.data[header.end():])


_TYPE_REASONS = {"request": REQUEST, "metadata": METADATA, "revisit": REVISIT}
_UNREAD_TYPES = frozenset(_TYPE_REASONS)  # a WARC's pages are in its responses only


@dataclass(frozen=True, slots=True)
class Unparsed:
    """A record of a type the caller does not read (``skip_types``), left unparsed."""

    rec_type: str
    offset: int


def warc_records(
    stream: BinaryIO,
    *,
    input_name: str,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    skip_types: frozenset[str] = frozenset(),
    block_types: frozenset[str] = frozenset(),
) -> Iterator[tuple[ArcWarcRecord, int] | Unparsed | Block | Damage]:
    """Each record of a WARC-format stream (WARC or WAT) with its byte offset, and the damage
    between records (framing.py): a damaged record costs itself, not the file.

    Records of ``skip_types`` come as :class:`Unparsed`, records of ``block_types`` with a
    plain header as a :class:`Block` (:func:`plain_block`), the others parsed by warcio.
    A stream in which no record can be read (empty, not a WARC file) raises
    :class:`~pipeline.errors.CorruptInput` after yielding its damage.
    """
    loader = ArcWarcRecordLoader()
    first_damage: Damage | None = None
    found = False
    for item in iter_framed(stream, max_record_bytes=max_record_bytes):
        if isinstance(item, Damage):
            first_damage = first_damage or item
            yield item
            continue
        if skip_types and (kind := record_type(item)) in skip_types:
            found = True
            yield Unparsed(kind, item.offset)
            continue
        if block_types and (block := plain_block(item, block_types)) is not None:
            found = True
            yield block
            continue
        try:
            record = loader.parse_record_stream(BytesIO(item.data), known_format="warc")
        except _RECORD_ERRORS as exc:
            damage = Damage(
                item.offset, BAD_HEADER, f"a WARC header block that cannot be parsed ({exc})",
                skipped=0,
            )
            first_damage = first_damage or damage
            yield damage
            continue
        found = True
        yield record, item.offset
    if not found:
        if first_damage is None:
            raise CorruptInput(input_name, "is empty: it holds no WARC record; re-download it",
                               offset=0)
        raise CorruptInput(
            input_name,
            f"holds no readable WARC record ({first_damage.detail}); check that it is a WARC "
            "or WAT file (.warc, .warc.gz, .warc.wat.gz) and not a CDX index, an error page or "
            "another format, or re-download it",
            offset=first_damage.offset,
        )


def read_payload(record: ArcWarcRecord, limit: int | None = None) -> bytes | None:
    """The record's payload (at most ``limit`` bytes), or None when it cannot be decoded."""
    try:
        stream = record.content_stream()
        return bytes(stream.read() if limit is None else stream.read(limit))
    except _CONTAINER_ERRORS:
        return None


def iter_records(
    stream: BinaryIO,
    *,
    input_name: str,
    max_html_bytes: int = 5 * 1024 * 1024,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> Iterator[HtmlPage | Redirect | Skipped | Damage]:
    """Yield an event per record of a WARC stream (gzipped per record, or not compressed),
    and a :class:`~pipeline.read.framing.Damage` for each damaged stretch of the file."""
    crawl: str | None = None
    for item in warc_records(
        stream, input_name=input_name, max_record_bytes=max_record_bytes,
        skip_types=_UNREAD_TYPES,
    ):
        if isinstance(item, Damage):
            yield item
            continue
        if isinstance(item, Unparsed | Block):  # no Block: no block_types are asked for
            yield Skipped(_TYPE_REASONS.get(item.rec_type, OTHER_RECORD_TYPE), item.offset)
            continue
        record, offset = item
        kind = record.rec_type
        if kind == "warcinfo":
            payload = read_payload(record)
            if payload is None:
                yield Skipped(PAYLOAD_UNREADABLE, offset)
                continue
            crawl = crawl_from_warcinfo(payload) or crawl
            yield Skipped(WARCINFO, offset)
        elif kind == "response":
            reason = _classify_response(record)
            if reason is None:
                yield _read_page(record, crawl, offset, max_html_bytes)
            elif reason == REDIRECT:
                yield _read_redirect(record, crawl, offset)
            else:
                yield Skipped(reason, offset)
        else:
            yield Skipped(_TYPE_REASONS.get(kind, OTHER_RECORD_TYPE), offset)

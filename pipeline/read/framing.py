"""Cut a WARC stream into records, and get past damage instead of giving up on the file.

Common Crawl writes one gzip member per record, so a member is the unit of recovery: a bad
member costs its own record and nothing else. :func:`iter_framed` yields a
:class:`RawRecord` (the uncompressed bytes of one record and the offset where it starts in
the file) or a :class:`Damage` (what was wrong, where, and how many bytes were passed over),
then looks for the next record: the next gzip member whose first bytes inflate to
``WARC/``, or, in an uncompressed file, the next line that starts with ``WARC/1.``.

Parsing the record's headers and HTTP message stays with warcio (records.py); this module
only finds where records begin and end, which warcio cannot do once a length lies. Memory
is bounded: a record larger than ``max_record_bytes`` once inflated (a decompression bomb,
a video) is skipped as damage without inflating the rest of it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from isal import isal_zlib as _inflate

# isal's igzip inflates about three times as fast as zlib, behind zlib's interface.
_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, cast(type[Exception], _inflate.error))

GZIP_MAGIC = b"\x1f\x8b\x08"
WARC_MAGIC = b"WARC/"
READ_SIZE = 1 << 20
MAX_HEADER_BYTES = 1 << 16
_LENGTH = re.compile(rb"(?im)^content-length[ \t]*:[ \t]*(\d+)[ \t]*\r?$")
_PLAIN_START = re.compile(rb"WARC/1\.[0-9]\r?\n")
PROBE_BYTES = 512

# Kinds of damage, also the names of their counters (prefixed ``damaged_``).
TRUNCATED = "truncated"  # the file ends inside a record
BAD_GZIP = "bad_gzip"  # a gzip member that does not inflate
NOT_A_RECORD = "not_a_record"  # bytes where a record should start: garbage, or not WARC
BAD_HEADER = "bad_header"  # a WARC header block without an end or a Content-Length
LENGTH_MISMATCH = "length_mismatch"  # Content-Length disagrees with the bytes that are there
TOO_LARGE = "too_large"  # a record beyond max_record_bytes once inflated


@dataclass(frozen=True, slots=True)
class RawRecord:
    """The bytes of one WARC record (headers and block) and its offset in the file."""

    offset: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes that held no usable record: from ``offset``, ``skipped`` bytes of the file."""

    offset: int
    kind: str
    detail: str
    skipped: int = 0


class _Buffer:
    """A forward-only window on the stream.

    The unread bytes are ``data[pos:]``; ``data[pos]`` is at file offset ``start``. Indexes
    passed around below are absolute indexes into ``data``; ``drop`` moves ``pos`` without
    copying, and ``fill`` compacts when it reads.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.data = b""
        self.pos = 0
        self.start = 0
        self.eof = False

    @property
    def available(self) -> int:
        return len(self.data) - self.pos

    def fill(self, size: int) -> bool:
        """Hold at least ``size`` unread bytes if the stream has them."""
        if self.available >= size:
            return True
        chunks = [self.data[self.pos :]]
        have = len(chunks[0])
        while have < size and not self.eof:
            chunk = self.stream.read(max(READ_SIZE, size - have))
            if not chunk:
                self.eof = True
                break
            chunks.append(chunk)
            have += len(chunk)
        self.data, self.pos = b"".join(chunks), 0
        return have >= size

    def more(self) -> bool:
        """Read one more chunk; False at end of stream."""
        return self.fill(self.available + 1)

    def drop(self, count: int) -> None:
        self.pos += count
        self.start += count


def iter_framed(stream: BinaryIO, *, max_record_bytes: int) -> Iterator[RawRecord | Damage]:
    """Each record of a WARC stream (gzipped per record, or not compressed), and the damage
    between them. Offsets are positions in the file as stored (compressed)."""
    buffer = _Buffer(stream)
    while buffer.fill(1):
        buffer.fill(len(GZIP_MAGIC))
        if buffer.data.startswith(GZIP_MAGIC, buffer.pos):
            yield from _member(buffer, max_record_bytes)
        elif buffer.fill(len(WARC_MAGIC)) and buffer.data.startswith(WARC_MAGIC, buffer.pos):
            yield from _plain_record(buffer, max_record_bytes)
        else:
            yield _skip_to_next_record(buffer, NOT_A_RECORD, "bytes that are not a WARC record")


def _member(buffer: _Buffer, max_record_bytes: int) -> Iterator[RawRecord | Damage]:
    """Inflate the gzip member at the start of the buffer and frame the records inside."""
    start = buffer.start
    inflater = _inflate.decompressobj(zlib.MAX_WBITS | 16)
    out: list[bytes] = []
    size = 0
    used = 0  # compressed bytes of the member fed to the inflater so far
    step = 1 << 15  # grows, so that a small member does not copy a large unused tail
    limit = max_record_bytes + MAX_HEADER_BYTES
    try:
        while not inflater.eof:
            if used == buffer.available and not buffer.more():
                # The file ends inside this member: cut short, or a false start (garbage
                # that looks like a gzip header); a record after it, if any, is kept.
                yield _skip_to_next_record(
                    buffer, TRUNCATED,
                    "the file ends inside this record (an interrupted download?); "
                    "re-download the file",
                )
                return
            if used > limit:  # compressed bytes without an end: not a real member
                yield _skip_to_next_record(
                    buffer, BAD_GZIP, "a gzip member that does not end where it should"
                )
                return
            begin = buffer.pos + used
            chunk = memoryview(buffer.data)[begin : begin + step]
            piece = inflater.decompress(chunk, limit + 1 - size)
            used += len(chunk) - len(inflater.unconsumed_tail)
            step = min(step * 2, READ_SIZE)
            out.append(piece)
            size += len(piece)
            if size > limit:
                yield _skip_to_next_record(
                    buffer, TOO_LARGE,
                    f"a record larger than max_record_bytes ({max_record_bytes:,} bytes) once "
                    "inflated (a decompression bomb?); raise the setting if such records are "
                    "expected",
                )
                return
    except _INFLATE_ERRORS as exc:
        yield _skip_to_next_record(buffer, BAD_GZIP, f"a gzip member that does not inflate ({exc})")
        return
    used -= len(inflater.unused_data)
    content = b"".join(out) if len(out) > 1 else out[0]
    buffer.drop(used)
    yield from _records_in(content, start, used, max_record_bytes)


def _records_in(
    content: bytes, offset: int, stored: int, max_record_bytes: int
) -> Iterator[RawRecord | Damage]:
    """The records in one inflated gzip member (one in Common Crawl's files, maybe more).

    Damage inside a member is reported at the member's offset; the search for the next
    record goes on inside the member, then at the next member."""
    position = 0
    while position < len(content):
        framed: int | Damage
        if content.startswith(WARC_MAGIC, position):
            framed = _frame(content, position, max_record_bytes)
        else:
            framed = Damage(offset, NOT_A_RECORD, "bytes that are not a WARC record")
        if isinstance(framed, int):
            yield RawRecord(offset, content[position:framed])
            position = _after_blank_lines(content, framed)
            continue
        yield Damage(offset, framed.kind, framed.detail, skipped=stored)
        next_start = _next_plain_start(content, position + 1)
        if next_start is None:
            return
        position = next_start


def _declared_end(data: bytes, position: int, max_record_bytes: int) -> tuple[int, int] | Damage:
    """Where the record starting at ``position`` says it ends, and its Content-Length; or
    what is wrong with its header block. Shared by gzipped and uncompressed framing."""
    header_end = data.find(b"\r\n\r\n", position, position + MAX_HEADER_BYTES)
    if header_end < 0:
        return Damage(position, BAD_HEADER, "a WARC header block with no blank line after it")
    header_end += 4
    length = _LENGTH.search(data, position, header_end)
    if length is None:
        return Damage(position, BAD_HEADER, "a WARC record with no Content-Length")
    declared = int(length.group(1))
    if declared > max_record_bytes:
        return Damage(position, TOO_LARGE, _too_large(declared, max_record_bytes))
    return header_end + declared, declared


def _next_after(data: bytes, end: int) -> int | None:
    """Where reading goes on after a record that ends at ``end``: past the blank lines, at
    the end of ``data`` or at the next ``WARC/``; None when something else follows."""
    after = _after_blank_lines(data, end)
    if after == len(data) or (after > end and data.startswith(WARC_MAGIC, after)):
        return after
    return None


def _frame(content: bytes, position: int, max_record_bytes: int) -> int | Damage:
    """The end of the record at ``position`` in ``content``, or what is wrong with it."""
    declared_end = _declared_end(content, position, max_record_bytes)
    if isinstance(declared_end, Damage):
        return declared_end
    end, declared = declared_end
    if end > len(content):
        return Damage(
            position, LENGTH_MISMATCH,
            f"the record declares {declared:,} bytes but its gzip member holds "
            f"{len(content) - (end - declared):,}; the record is skipped",
        )
    if _next_after(content, end) is not None:
        return end
    return Damage(
        position, LENGTH_MISMATCH,
        f"the record's Content-Length ({declared:,}) is wrong: {len(content) - end:,} bytes "
        "follow its declared end in its gzip member; the record is skipped",
    )


def _too_large(declared: int, max_record_bytes: int) -> str:
    return (
        f"a record of {declared:,} bytes, more than max_record_bytes ({max_record_bytes:,}); "
        "raise the setting if such records are expected"
    )


def _after_blank_lines(content: bytes, position: int) -> int:
    while True:
        if content.startswith(b"\r\n", position):
            position += 2
        elif content.startswith(b"\n", position):
            position += 1
        else:
            return position


def _next_plain_start(data: bytes, position: int) -> int | None:
    """Offset of the next ``WARC/1.x`` line at or after ``position``."""
    while True:
        found = _PLAIN_START.search(data, position)
        if found is None:
            return None
        at = found.start()
        if at == 0 or data[at - 1 : at] == b"\n":
            return at
        position = at + 1


def _plain_record(buffer: _Buffer, max_record_bytes: int) -> Iterator[RawRecord | Damage]:
    """Frame the uncompressed record at the start of the buffer."""
    start = buffer.start
    while (
        buffer.data.find(b"\r\n\r\n", buffer.pos, buffer.pos + MAX_HEADER_BYTES) < 0
        and buffer.available < MAX_HEADER_BYTES
        and buffer.more()
    ):
        pass
    declared_end = _declared_end(buffer.data, buffer.pos, max_record_bytes)
    if isinstance(declared_end, Damage):
        yield _skip_to_next_record(buffer, declared_end.kind, declared_end.detail)
        return
    size, declared = declared_end[0] - buffer.pos, declared_end[1]
    buffer.fill(size + 64)
    data, pos = buffer.data, buffer.pos
    end = pos + size
    if len(data) < end:
        yield _skip_to_next_record(
            buffer, TRUNCATED,
            "the file ends inside this record (an interrupted download?); re-download it",
        )
        return
    after = _next_after(data, end)
    if after is None:
        yield _skip_to_next_record(
            buffer, LENGTH_MISMATCH,
            f"the record's Content-Length ({declared:,}) is wrong: no blank line and next "
            "record after its declared end; the record is skipped",
        )
        return
    record = data[pos:end]
    buffer.drop(after - pos)
    yield RawRecord(start, record)


def _skip_to_next_record(buffer: _Buffer, kind: str, detail: str) -> Damage:
    """Pass over bytes up to the next record (a gzip member that inflates to ``WARC/``, or
    ``WARC/1.x`` at the start of a line) and describe what was passed over."""
    start = buffer.start
    buffer.drop(1)
    while True:
        found, settled = _next_record_start(buffer.data, buffer.pos, buffer.eof)
        if found is not None:
            buffer.drop(found - buffer.pos)
            return Damage(start, kind, detail, skipped=buffer.start - start)
        buffer.drop(settled - buffer.pos)  # searched: forget it, so memory stays flat
        if buffer.eof:
            buffer.drop(buffer.available)
            return Damage(start, kind, detail, skipped=buffer.start - start)
        buffer.more()  # at the end of the stream, the next search sees eof and settles


def _next_record_start(data: bytes, position: int, eof: bool) -> tuple[int | None, int]:
    """The first record start at or after ``position``, and up to where nothing was found
    (a candidate near the end of ``data`` waits for more bytes unless at end of stream)."""
    while True:
        gzip_at = data.find(GZIP_MAGIC, position)
        plain_at = _next_plain_start(data, position)
        candidates = [at for at in (gzip_at, plain_at) if at is not None and at >= 0]
        if not candidates:
            return None, max(position, len(data) - 16)
        at = min(candidates)
        if at == plain_at:
            return at, at
        if at + PROBE_BYTES > len(data) and not eof:
            return None, at
        if _inflates_to_warc(data[at : at + PROBE_BYTES]):
            return at, at
        position = at + 1


def _inflates_to_warc(head: bytes) -> bool:
    try:
        inflater = _inflate.decompressobj(zlib.MAX_WBITS | 16)
        return bytes(inflater.decompress(head, 16)).startswith(WARC_MAGIC)
    except _INFLATE_ERRORS:
        return False


_TYPE = re.compile(rb"\r\nWARC-Type:[ \t]*([A-Za-z]+)", re.IGNORECASE)


def record_type(record: RawRecord) -> str:
    """The WARC-Type of a framed record, read from its header without parsing it ('' when
    absent), so that records nobody reads need not be parsed."""
    header_end = record.data.find(b"\r\n\r\n", 0, MAX_HEADER_BYTES)
    found = _TYPE.search(record.data, 0, header_end if header_end >= 0 else MAX_HEADER_BYTES)
    return found.group(1).decode("ascii").lower() if found else ""

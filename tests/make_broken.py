"""Write the corpus of broken archives in ``tests/data/broken/`` from a genuine sample.

Every file is made from ``tests/data/cc/resiliparse/warcfile.warc.gz`` (genuine Common
Crawl records, one gzip member per record: warcinfo, then request, response and metadata
records of 16 pages). Deterministic: running it again writes the same bytes.

    uv run python tests/make_broken.py

What each file holds, and what the pipeline does with it, is listed in
``tests/data/broken/README.md`` and tested in ``tests/test_broken.py``.
"""

from __future__ import annotations

import gzip
import random
import re
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "data" / "cc" / "resiliparse" / "warcfile.warc.gz"
BROKEN = HERE / "data" / "broken"

GIB = 1024**3


def members(data: bytes) -> list[bytes]:
    """The gzip members of ``data``, in order, each as its compressed bytes."""
    out: list[bytes] = []
    start = 0
    while start < len(data):
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        inflater.decompress(data[start:])
        end = len(data) - len(inflater.unused_data)
        out.append(data[start:end])
        start = end
    return out


def gz(data: bytes) -> bytes:
    """One gzip member, with a fixed mtime so that the output is reproducible."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def record(rec_type: str, uri: str, block: bytes, *, length: int | None = None) -> bytes:
    """A WARC record; ``length`` overrides the true Content-Length to make it lie."""
    headers = (
        "WARC/1.0\r\n"
        f"WARC-Type: {rec_type}\r\n"
        f"WARC-Target-URI: {uri}\r\n"
        "WARC-Date: 2024-05-20T10:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{zlib.crc32(uri.encode()):012d}>\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(block) if length is None else length}\r\n\r\n"
    )
    return headers.encode() + block + b"\r\n\r\n"


def html_response(uri: str, links: list[str]) -> bytes:
    body = "<html><body>" + "".join(f'<a href="{u}">{u}</a>' for u in links) + "</body></html>"
    http = (
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    return http.encode()


def bomb_member(uri: str, size: int) -> bytes:
    """A response record of ``size`` bytes of zeros after its HTTP headers, gzipped: the
    member is about size/1000 bytes and inflates to ``size``."""
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Target-URI: {uri}\r\nWARC-Date: 2024-05-20T10:00:00Z\r\n"
        "WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-0000000b0b0b>\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(http) + size}\r\n\r\n"
    ).encode()
    deflater = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    parts = [deflater.compress(head + http)]
    zeros = bytes(1 << 20)
    for _ in range(size >> 20):
        parts.append(deflater.compress(zeros))
    parts.append(deflater.compress(b"\r\n\r\n"))
    parts.append(deflater.flush())
    return b"".join(parts)


def main(out: Path = BROKEN) -> None:
    source = SOURCE.read_bytes()
    parts = members(source)
    rng = random.Random(8)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}

    # 1. The file cut in the middle of the 20th member (a response): an interrupted download.
    cut = sum(len(p) for p in parts[:20]) + len(parts[20]) // 2
    files["truncated-member.warc.gz"] = source[:cut]

    # 2. A response whose Content-Length is 4,000 bytes short, and one whose Content-Length is
    #    4,000 bytes long (its member ends before the record does).
    short = gzip.decompress(parts[2])
    longer = gzip.decompress(parts[5])
    files["wrong-content-length.warc.gz"] = b"".join(
        [
            *parts[:2],
            gz(_change_length(short, -4000)),
            *parts[3:5],
            gz(_change_length(longer, +4000)),
            *parts[6:],
        ]
    )

    # 3. 5,000 random bytes between two records (and a stray gzip magic among them).
    garbage = bytes(rng.randrange(256) for _ in range(5000))
    garbage = garbage[:2500] + b"\x1f\x8b\x08\x00" + garbage[2504:]
    files["garbage-between-records.warc.gz"] = b"".join([*parts[:13], garbage, *parts[13:]])

    # 4. Not gzip at all: an HTML page saved under a WARC name.
    files["not-gzip.warc.gz"] = (
        b"<!DOCTYPE html><html><head><title>403 Forbidden</title></head>"
        b"<body><h1>Forbidden</h1></body></html>\n"
    )

    # 5. An uncompressed WARC under a .warc.gz name (every record intact).
    files["uncompressed.warc.gz"] = gzip.decompress(source)

    # 6. A zero-length file.
    files["empty.warc.gz"] = b""

    # 7. A record that declares 200 MB but holds a short page; records follow it.
    page = html_response("http://huge.example/", ["http://after-huge.example/"])
    files["declared-200mb.warc.gz"] = b"".join(
        [*parts[:7], gz(record("response", "http://huge.example/", page, length=200 * 10**6)),
         *parts[7:]]
    )

    # 8. Responses whose HTTP header block is malformed: a status line that is not HTTP,
    #    binary bytes in a header, a header line without a colon, no blank line at the end.
    bad_http = [
        b"HTTP/1.1 OK-ish\r\nContent-Type: text/html\r\n\r\n<a href='http://bad1.example/'>x</a>",
        b"\x00\x01\x02garbage\r\n\xff\xfe: \x00\r\n\r\n<a href='http://bad2.example/'>x</a>",
        b"HTTP/1.1 200 OK\r\nContent-Type text/html\r\nno colon here\r\n\r\n"
        b"<a href='http://bad3.example/'>x</a>",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n<a href='http://bad4.example/'>x</a>",
    ]
    injected = [
        gz(record("response", f"http://bad-http-{i}.example/", block))
        for i, block in enumerate(bad_http, 1)
    ]
    files["malformed-http-headers.warc.gz"] = b"".join([*parts[:4], *injected, *parts[4:]])

    # 9. A decompression bomb: a 1 MB member that inflates to 1 GiB, between genuine records.
    files["decompression-bomb.warc.gz"] = b"".join(
        [*parts[:10], bomb_member("http://bomb.example/", GIB), *parts[10:]]
    )

    # 10. A WAT file whose third record (a page's metadata) holds invalid JSON.
    files["invalid-json.warc.wat.gz"] = _wat_with_bad_json()

    for name, data in files.items():
        (out / name).write_bytes(data)
        print(f"{name:40} {len(data):>10,} bytes")


def _change_length(raw: bytes, delta: int) -> bytes:
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(b"content-length:"):
            value = int(line.split(b":", 1)[1]) + delta
            lines[i] = b"Content-Length: " + str(value).encode()
    return b"\r\n".join(lines) + sep + rest


def _wat_with_bad_json() -> bytes:
    """The warc-js sample WAT (9 records), one gzip member per record, with the JSON of its
    third record (a metadata record) broken."""
    wat = next((HERE / "data" / "cc" / "warc-js").glob("*.warc.wat"))
    records = re.split(rb"\r\n\r\n(?=WARC/1\.0\r\n)", wat.read_bytes())
    assert len(records) == 9, len(records)
    records = [r if r.endswith(b"\r\n\r\n") else r + b"\r\n\r\n" for r in records]
    raw = records[2]
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert b"WARC-Type: metadata" in head and body.startswith(b"{")
    body = body.replace(b'"Envelope"', b'"Envelope" "Envelope"', 1)
    records[2] = _change_length(head + sep + body, len(b' "Envelope"'))
    return b"".join(gz(r) for r in records)


if __name__ == "__main__":
    main()

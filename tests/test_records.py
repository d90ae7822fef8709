"""Reading WARC records: HTML responses only, everything else counted by reason."""

from __future__ import annotations

import gzip
import io
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import SAMPLE

from pipeline.bundled import sample_files
from pipeline.errors import CorruptInput
from pipeline.read.framing import Damage
from pipeline.read.warc import (
    HtmlPage,
    Redirect,
    Skipped,
    crawl_from_warcinfo,
    iter_records,
    sniff_html,
)


def read_all(data: bytes, name: str = "test.warc.gz") -> list[HtmlPage | Redirect | Skipped | Damage]:
    return list(iter_records(io.BytesIO(data), input_name=name))


def warc_types_by_regex(path: Path) -> Counter[str]:
    """Count WARC-Type headers in the raw bytes: an independent check of what warcio sees."""
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return Counter(m.decode() for m in re.findall(rb"\r?\nWARC-Type: (\w+)\r?\n", b"\n" + raw))


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name[:40])
def test_every_record_is_a_page_or_skipped_with_a_reason(path: Path) -> None:
    events = read_all(path.read_bytes(), path.name)
    expected = warc_types_by_regex(path)
    assert len(events) == sum(expected.values())
    pages = [e for e in events if isinstance(e, HtmlPage)]
    assert len(pages) <= expected["response"]
    for page in pages:
        assert page.status == 200 and page.url.startswith("http") and page.body
    reasons = Counter(e.reason for e in events if isinstance(e, Skipped))
    assert reasons["request"] == expected["request"]
    assert reasons["metadata"] == expected["metadata"]


def test_sample_counts_match_the_provenance_readme() -> None:
    # tests/data/README.md: resiliparse has 16 HTML responses; warc-js 4 responses (3 HTML).
    resiliparse = read_all((SAMPLE / "resiliparse" / "warcfile.warc.gz").read_bytes())
    assert sum(isinstance(e, HtmlPage) for e in resiliparse) == 16
    warcjs = next((SAMPLE / "warc-js").glob("*.warc"))
    events = read_all(warcjs.read_bytes())
    assert sum(isinstance(e, HtmlPage) for e in events) == 3
    assert Counter(e.reason for e in events if isinstance(e, Skipped))["not_html"] == 1


def test_crawl_id_comes_from_warcinfo() -> None:
    events = read_all((SAMPLE / "whirlwind" / "whirlwind.warc.gz").read_bytes())
    pages = [e for e in events if isinstance(e, HtmlPage)]
    assert [p.crawl for p in pages] == ["CC-MAIN-2024-22"]
    assert crawl_from_warcinfo(b"software: x\r\nisPartOf: CC-MAIN-2020-34\r\n") == "CC-MAIN-2020-34"
    assert crawl_from_warcinfo(b"software: x\r\n") is None


def test_redirect_response_is_a_redirect_event() -> None:
    # A genuine 301 from CC-MAIN-2025-33: http://commoncrawl.org -> https://commoncrawl.org/
    path = next((SAMPLE / "cdx-toolkit").glob("*00905*"))
    events = read_all(path.read_bytes())
    assert len(events) == 1 and isinstance(events[0], Redirect)
    redirect = events[0]
    assert (redirect.url, redirect.status, redirect.location) == (
        "http://commoncrawl.org", 301, "https://commoncrawl.org/"
    )


def test_3xx_without_location_is_skipped() -> None:
    events = read_all(warc_response(b"", "text/html", status="302 Found"))
    assert [e.reason for e in events if isinstance(e, Skipped)] == ["status_3xx"]


def warc_response(payload: bytes, content_type: str | None, status: str = "200 OK") -> bytes:
    headers = f"HTTP/1.1 {status}\r\n"
    if content_type is not None:
        headers += f"Content-Type: {content_type}\r\n"
    http = headers.encode() + b"\r\n" + payload
    return (
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://example.com/\r\n"
        b"WARC-Date: 2024-05-18T01:02:03Z\r\nContent-Type: application/http; msgtype=response\r\n"
        + f"Content-Length: {len(http)}\r\n\r\n".encode() + http + b"\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("content_type", "payload", "is_page"),
    [
        ("text/html; charset=utf-8", b"<p>x", True),
        ("application/xhtml+xml", b"<html/>", True),
        ("TEXT/HTML", b"x", True),
        ("application/pdf", b"<html>", False),
        ("image/png", b"\x89PNG", False),
        (None, b"  <!DOCTYPE html><html>", True),
        (None, b"%PDF-1.4", False),
        ("application/unknown", b"<html><body>", True),
        ("", b"{\"json\": 1}", False),
    ],
)
def test_html_by_content_type_or_sniffing(
    content_type: str | None, payload: bytes, is_page: bool
) -> None:
    events = read_all(warc_response(payload, content_type))
    assert isinstance(events[0], HtmlPage) is is_page
    if not is_page:
        assert isinstance(events[0], Skipped) and events[0].reason == "not_html"


def test_non_200_is_counted_by_class() -> None:
    events = read_all(warc_response(b"<html>", "text/html", "404 Not Found"))
    assert isinstance(events[0], Skipped) and events[0].reason == "status_4xx"


def test_page_fields() -> None:
    (page,) = read_all(warc_response(b"<html>hi", "text/html"))
    assert isinstance(page, HtmlPage)
    assert page.url == "http://example.com/" and page.fetch_time.isoformat() == "2024-05-18T01:02:03+00:00"
    assert ("Content-Type", "text/html") in page.headers and page.body == b"<html>hi"


def test_sniffing_follows_whatwg_patterns() -> None:
    assert sniff_html(b"\n\t <HTML>") and sniff_html(b"<!-- c -->")
    assert not sniff_html(b"<htmlx") and not sniff_html(b"<?xml version='1.0'?>")


def test_long_payload_is_cut_and_flagged() -> None:
    body = b"<html>" + b"a" * 5000
    (page,) = list(iter_records(io.BytesIO(warc_response(body, "text/html")), input_name="x", max_html_bytes=100))
    assert isinstance(page, HtmlPage) and page.truncated and len(page.body) == 100


def test_truncated_gzip_keeps_the_records_before_and_reports_the_offset() -> None:
    data = (SAMPLE / "whirlwind" / "whirlwind.warc.gz").read_bytes()
    whole = read_all(data)
    events = read_all(data[: len(data) // 2], "cut.warc.gz")
    damage = events[-1]
    assert isinstance(damage, Damage) and damage.kind == "truncated" and damage.offset > 0
    assert events[:-1] == [e for e in whole if e.offset < damage.offset]
    assert len(events) > 1  # something was kept


def test_truncated_uncompressed_warc_keeps_the_records_before() -> None:
    data = next((SAMPLE / "warc-js").glob("*.warc")).read_bytes()
    whole = read_all(data, "cut.warc")
    events = read_all(data[:-20], "cut.warc")
    assert events[:-1] == whole[:-1]
    assert isinstance(events[-1], Damage) and events[-1].kind == "truncated"
    assert events[-1].offset == whole[-1].offset


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty: it holds no WARC record"),
        (b"this is not a WARC file\n" * 3, "holds no readable WARC record"),
        (gzip.compress(b"just some gzipped text\n", mtime=0), "holds no readable WARC record"),
    ],
    ids=["empty", "plain text", "gzipped text"],  # the same names in every xdist worker
)
def test_unreadable_input_raises_corrupt_input(data: bytes, message: str) -> None:
    with pytest.raises(CorruptInput, match=message):
        read_all(data, "bad.warc.gz")


def test_input_errors_survive_pickling_between_processes() -> None:
    import pickle

    error = CorruptInput("x.warc.gz", "truncated", offset=12)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.input, copy.offset) == (CorruptInput, str(error), "x.warc.gz", 12)

"""The fuzz targets, as plain functions of bytes: run by the fuzzer (tests/fuzz.py, atheris)
and by the regression test that replays every crash it found (tests/test_fuzz_regressions.py).

Each target raises only when it finds a bug: an exception other than the ones the pipeline
promises (``CorruptInput`` for an unreadable file), or a broken invariant (tests/invariants.py).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from invariants import check_page_rows

from pipeline.errors import CorruptInput
from pipeline.extract.domains import PublicSuffixList
from pipeline.extract.page import Limits, page_rows
from pipeline.extract.urls import resolve_link
from pipeline.extract.wat import iter_wat_records
from pipeline.read.warc import HtmlPage, iter_records

PSL = PublicSuffixList.bundled()
LIMITS = Limits(links_per_page=500, url_chars=2048, anchor_chars=256)
MAX_RECORD = 1 << 20
CONTENT_TYPES = ["text/html", "text/html; charset=utf-8", "text/html; charset=shift_jis",
                 "application/xhtml+xml", "", "text/html; charset=bogus"]
PAGE_URLS = ["http://example.com/a/b.html", "https://xn--bcher-kva.de/", "http://192.168.0.1/",
             "http://a.b.co.uk:8080/x?y#z"]


def _read_all(reader: Callable[..., Iterator[object]], data: bytes) -> None:
    """Every event of ``data`` read as a file; an unreadable file may only be CorruptInput."""
    try:
        for _ in reader(io.BytesIO(data), input_name="fuzz", max_record_bytes=MAX_RECORD):
            pass
    except CorruptInput:
        pass


def records(data: bytes) -> None:
    _read_all(iter_records, data)


def wat(data: bytes) -> None:
    _read_all(iter_wat_records, data)


def page(data: bytes) -> None:
    """Byte 0 picks the Content-Type, byte 1 the page URL; the rest is the payload."""
    head, body = data[:2].ljust(2, b"\0"), data[2:]
    html_page = HtmlPage(
        url=PAGE_URLS[head[1] % len(PAGE_URLS)], fetch_time=datetime(2024, 1, 1, tzinfo=UTC),
        status=200, headers=[("Content-Type", CONTENT_TYPES[head[0] % len(CONTENT_TYPES)])],
        body=body, truncated=False, crawl=None, offset=0,
    )
    check_page_rows(page_rows(html_page, "CC-MAIN-2024-22", PSL, LIMITS), LIMITS)


def url(data: bytes) -> None:
    """The bytes up to the first newline are the base URL, the rest the link."""
    base, _, href = data.decode("utf-8", "replace").partition("\n")
    resolve_link(href, base or "http://example.com/")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "records": records, "wat": wat, "page": page, "url": url,
}

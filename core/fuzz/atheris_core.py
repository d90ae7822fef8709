"""Coverage-guided differential fuzzing of the compiled entry points (atheris, the ``fuzz``
extra): every input goes through the Rust core and the Python path, which must agree (same
rows, counters, links; or the same exception type), and the core must never crash.

    .venv/bin/python core/fuzz/atheris_core.py CORPUS_DIR -max_total_time=1800

The first byte picks the entry point: extract_links (HTML bytes and headers), warc_batch
(a page's rows), wat_batch (a WAT payload's rows), resolve_link (two strings),
md5_partitions (a column of names, against hashlib one name at a time). A corpus
directory that is empty is seeded with the genuine samples' pages and WAT payloads.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import atheris
import polars as pl

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

with atheris.instrument_imports(include=["pipeline"]):  # the Python path's own code
    import pipeline.extract.page  # noqa: F401
    import pipeline.extract.wat  # noqa: F401
import test_core_parity as parity  # noqa: E402  the two paths, as the differential test runs them

from pipeline.partitions import compiled_partitions, partition_of  # noqa: E402

CONTENT_TYPES = ["text/html", "text/html; charset=utf-8", "text/html; charset=shift_jis",
                 "text/html; charset=windows-1251", "", "text/html; charset=utf-16"]
URLS = ["http://www.example.co.uk/dir/page.html", "https://bücher.de/a", "http://1.2.3.4/",
        "not a url", "HTTP://WWW.Example.COM.:80/x/../y?z#f"]


def same_extraction(body: bytes, headers: list[tuple[str, str]]) -> None:
    got = parity._core_extract(body, headers)
    want = parity._python_extract(body, headers)
    if got != want:
        raise AssertionError(f"extract_links differs:\n core   {got!r}\n python {want!r}")


def one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    choice, rest = data[0] % 5, data[1:]
    fdp = atheris.FuzzedDataProvider(rest)
    if choice == 0:
        headers = [("Content-Type", CONTENT_TYPES[fdp.ConsumeIntInRange(0, 5)])]
        if fdp.ConsumeBool():
            headers.append(("X-Robots-Tag", fdp.ConsumeUnicodeNoSurrogates(20)))
        same_extraction(fdp.ConsumeBytes(fdp.remaining_bytes()), headers)
    elif choice == 1:
        url = URLS[fdp.ConsumeIntInRange(0, len(URLS) - 1)]
        truncated = fdp.ConsumeBool()
        body = fdp.ConsumeBytes(fdp.remaining_bytes())
        headers = [("Content-Type", "text/html")]
        if isinstance(parity._python_extract(body, headers)[0], str):
            return  # the Python path raises on this page (a codec that is no text encoding)
        event = parity.HtmlPage(url=url, fetch_time=datetime(2024, 1, 1, tzinfo=UTC),
                                status=200, headers=headers, body=body, truncated=truncated,
                                crawl=None, offset=0)
        expected = parity.python_rows([event], parity.PublicSuffixList.bundled(), parity.SMALL)
        parity.core_warc_rows([event], parity.ENGINE_SMALL).assert_same(expected)
    elif choice == 2:
        payloads = [rest]
        expected = parity.python_wat_rows(payloads, parity.SMALL)
        parity.core_wat_rows(payloads, Counter(), parity.ENGINE_SMALL).assert_same(expected)
    elif choice == 4:
        names = [fdp.ConsumeUnicodeNoSurrogates(30) for _ in range(fdp.ConsumeIntInRange(0, 40))]
        partitions = fdp.ConsumeIntInRange(1, 4096)
        got = compiled_partitions(parity.core, pl.Series("name", names, dtype=pl.String),
                                  partitions).to_list()
        want = [partition_of(name, partitions) for name in names]
        if got != want:
            raise AssertionError(f"md5_partitions({names!r}, {partitions}): {got} != {want}")
    else:
        href = fdp.ConsumeUnicodeNoSurrogates(40)
        base = URLS[fdp.ConsumeIntInRange(0, 1)]
        page = parity.resolve_page_url(base)
        got = parity._as_python(parity.core.resolve_link(href, page.url))
        want = parity.resolve_link(href, page.url)
        if got != want:
            raise AssertionError(f"resolve_link({href!r}, {page.url!r}): {got!r} != {want!r}")


def seed(corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    if any(corpus.iterdir()):
        return
    n = 0
    for path in parity.SAMPLES:
        if parity._is_warc(path):
            for event in parity.warc_events(path):
                if isinstance(event, parity.HtmlPage):
                    for choice in (0, 1):
                        (corpus / f"seed-{n}").write_bytes(bytes([choice, 0]) + event.body[:20000])
                        n += 1
        elif parity._is_wat(path):
            for payload in parity.wat_payloads(path)[0]:
                (corpus / f"seed-{n}").write_bytes(b"\x02" + payload[:20000])
                n += 1
    for href in ["../a?b#c", "//x.example.com/", "http://[::1]/", "https://a.b/%2e/"]:
        (corpus / f"seed-{n}").write_bytes(b"\x03" + href.encode())
        n += 1
    (corpus / f"seed-{n}").write_bytes(b"\x04" + "example.com\x00bücher.de".encode())


if __name__ == "__main__":
    corpus = next((Path(a) for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None and not corpus.is_file():  # a file is an input to run again
        seed(corpus)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()

"""Property-based tests (hypothesis): for any input, no exception escapes and the outputs
keep their invariants (tests/invariants.py, shared with the fuzzer in tests/fuzz.py)."""

from __future__ import annotations

import io
import zlib
from dataclasses import replace
from datetime import UTC, datetime

from conftest import SAMPLE
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from invariants import check_host, check_page_rows, is_domain_of, is_valid_host

from pipeline.errors import CorruptInput
from pipeline.extract.domains import PublicSuffixList
from pipeline.extract.page import Limits, page_rows
from pipeline.extract.urls import Resolved, normalize_host, resolve_link
from pipeline.read.framing import Damage
from pipeline.read.warc import HtmlPage, iter_records

PSL = PublicSuffixList.bundled()
LIMITS = Limits(links_per_page=50, url_chars=300, anchor_chars=40)
REJECT_REASONS = {"unsupported_scheme", "invalid_url", "ip_host", "single_label_host",
                  "invalid_host", "host_too_long"}
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Hosts and URLs from pieces real pages contain: IDN, odd case, ports, IPs, dots, junk.
labels = st.sampled_from(["example", "Www", "a", "xn--bcher-kva", "bücher", "co", "uk", "com",
                          "github", "io", "blogspot", "_dmarc", "-bad", "1", "255", "ü" * 70])
hosts = st.lists(labels, min_size=1, max_size=5).map(".".join) | st.text(max_size=30)
paths = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
hrefs = st.one_of(
    st.builds(lambda s, h, p: f"{s}{h}/{p}", st.sampled_from(["http://", "https://", "//", "HTTP://",
                                                            "ftp://", "javascript:", "mailto:"]),
              hosts, paths),
    paths,
    st.text(max_size=60),
)
words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
rels = st.lists(st.sampled_from(["nofollow", "UGC", "sponsored", "noopener", "x"]), max_size=3)


@st.composite
def html_documents(draw: st.DrawFn) -> bytes:
    parts = ["<html><head>"]
    if draw(st.booleans()):
        parts.append(f'<base href="{draw(hrefs)}">')
    if draw(st.booleans()):
        parts.append(f'<meta name="robots" content="{draw(st.sampled_from(["nofollow", "none", "index"]))}">')
    parts.append("</head><body>")
    for _ in range(draw(st.integers(0, 80))):
        tag = draw(st.sampled_from(["a", "a", "area", "img-in-a", "div"]))
        href, text, rel = draw(hrefs), draw(words), " ".join(draw(rels))
        if tag == "img-in-a":
            parts.append(f'<a href="{href}"><img alt="{text}"></a>')
        elif tag == "div":
            parts.append(f"<div>{text}<p>")
        else:
            parts.append(f'<{tag} href="{href}" rel="{rel}" alt="{text}">{text}</{tag}>')
    parts.append("</body></html>")
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "shift_jis", "utf-16"]))
    return "".join(parts).encode(encoding, errors="replace")


def page(body: bytes, url: str = "http://www.example.co.uk/dir/page.html",
         content_type: str = "text/html") -> HtmlPage:
    return HtmlPage(url=url, fetch_time=datetime(2024, 1, 1, tzinfo=UTC), status=200,
                    headers=[("Content-Type", content_type)], body=body, truncated=False,
                    crawl=None, offset=0)


@SETTINGS
@given(html_documents(), st.sampled_from(["text/html", "text/html; charset=utf-8", ""]))
def test_generated_pages_keep_the_invariants(body: bytes, content_type: str) -> None:
    check_page_rows(page_rows(page(body, content_type=content_type), "c", PSL, LIMITS), LIMITS)


@SETTINGS
@given(st.binary(max_size=4000), st.sampled_from(["http://x.example.com/", "https://bücher.de/a",
                                                   "http://1.2.3.4/", "http://localhost/",
                                                   "not a url"]))
def test_arbitrary_bytes_keep_the_invariants(body: bytes, url: str) -> None:
    check_page_rows(page_rows(page(body, url=url), "c", PSL, LIMITS), LIMITS)


@SETTINGS
@given(hrefs, hrefs)
def test_link_resolution_gives_a_valid_url_or_a_known_reason(href: str, base: str) -> None:
    result = resolve_link(href, base)
    if isinstance(result, Resolved):
        assert is_valid_host(result.host), result
        assert result.url.startswith(("http://", "https://")) and "#" not in result.url
        assert resolve_link(result.url, "http://other.example/") == result  # a fixed point
    else:
        assert result in REJECT_REASONS


def reference_resolve(href: str, base: str) -> Resolved | str:
    """The straightforward resolver (ada's URL object, attribute by attribute) that the fast
    string-based one in pipeline/extract/urls.py replaced: they must agree on every input."""
    from ada_url import URL

    from pipeline.extract.urls import host_reject_reason

    try:
        url = URL(href, base=base)
    except ValueError:
        return "invalid_url"
    if url.protocol not in ("http:", "https:"):
        return "unsupported_scheme"
    host = url.hostname
    trailing_dot = host.endswith(".")
    if trailing_dot:
        host = host[:-1]
    reason = host_reject_reason(host)
    if reason is not None:
        return reason
    if trailing_dot:
        url.hostname = host
    url.hash = ""
    return Resolved(url.href, host)


tricky = st.sampled_from(["http://", "https://", "HTTP://", "//", "", "u:p@", "@", ":81", ".",
                          "[::1]", "#", "?", "/", "\t", " ", "%2e", "%2E", "xn--", "ß",
                          "example.com", "a.b", "/./", "/../", "..", "'", '"', "\\", "|", "^",
                          "{", "`", "%", "%41", "0x1", ".123", "é", "A", "~", ";", "=", "&"])
tricky_hrefs = hrefs | st.lists(tricky, max_size=8).map("".join)


@settings(max_examples=3000, deadline=None,
          suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(tricky_hrefs, st.sampled_from(["http://a.example.com/x/y?z#w", "https://b.co.uk/",
                                      "http://u:p@c.example.:8080/d/"]) | hrefs)
def test_fast_resolution_agrees_with_the_reference(href: str, base: str) -> None:
    from ada_url import check_url

    assume(check_url(base))
    page = reference_resolve(base, base)
    assume(isinstance(page, Resolved))  # links resolve against a valid, serialised page URL
    assert resolve_link(href, page.url) == reference_resolve(href, page.url)


@SETTINGS
@given(hosts)
def test_host_folding_gives_a_suffix_of_the_host(raw: str) -> None:
    host = normalize_host(raw)
    if host is None:
        return
    domain = PSL.fold(host)
    check_host(host, domain)
    assert PSL.fold(domain) == domain  # folding twice changes nothing
    registered = PSL.registered_domain(host)
    assert registered is None or is_domain_of(registered, host)


@SETTINGS
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_as_a_warc_fail_only_as_corrupt_input(data: bytes) -> None:
    try:
        events = list(iter_records(io.BytesIO(data), input_name="x", max_record_bytes=1 << 16))
    except CorruptInput as error:
        assert error.input == "x" and error.offset is not None
        return
    assert any(not isinstance(e, Damage) for e in events)


# Damage at random places in a genuine file: only the damaged record may be lost.
ORIGINAL = (SAMPLE / "resiliparse" / "warcfile.warc.gz").read_bytes()


def _member_starts(data: bytes) -> list[int]:
    starts, position = [], 0
    while position < len(data):
        starts.append(position)
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        inflater.decompress(data[position:])
        position = len(data) - len(inflater.unused_data)
    return starts


STARTS = _member_starts(ORIGINAL)
ORIGINAL_EVENTS = list(iter_records(io.BytesIO(ORIGINAL), input_name="o"))


def _kept_except(events: list[object], lost_offsets: set[int]) -> None:
    expected = [e for e in ORIGINAL_EVENTS if e.offset not in lost_offsets]  # type: ignore[attr-defined]
    got = [e for e in events if not isinstance(e, Damage)]
    if 0 in lost_offsets:  # without the warcinfo record, pages do not know their crawl
        expected = [_without_crawl(e) for e in expected]
    assert got == expected


def _without_crawl(event: object) -> object:
    return replace(event, crawl=None) if hasattr(event, "crawl") else event  # type: ignore[type-var]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, len(ORIGINAL) - 1), st.integers(1, 255))
def test_a_corrupt_byte_costs_at_most_its_own_record(position: int, xor: int) -> None:
    data = bytearray(ORIGINAL)
    data[position] ^= xor
    member = max(s for s in STARTS if s <= position)
    events = list(iter_records(io.BytesIO(bytes(data)), input_name="x"))
    got_offsets = {e.offset for e in events if not isinstance(e, Damage)}  # type: ignore[union-attr]
    # The damaged record survives only if the byte was one gzip does not check (a header
    # flag, the mtime); every other record is read exactly as in the original file.
    _kept_except(events, {member} - got_offsets)
    assert got_offsets >= set(STARTS) - {member}


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(STARTS[1:]), st.binary(min_size=1, max_size=3000))
@example(STARTS[-1], b"\x00")  # found by this test: the last record was lost
@example(STARTS[-2], b"\x1f\x8b\x08")  # found by this test: a false gzip start ate the rest
def test_garbage_between_records_costs_nothing(position: int, garbage: bytes) -> None:
    data = ORIGINAL[:position] + garbage + ORIGINAL[position:]
    events = list(iter_records(io.BytesIO(data), input_name="x"))
    shifted = [e for e in events if not isinstance(e, Damage)]
    assert len(shifted) == len(ORIGINAL_EVENTS)
    for got, want in zip(shifted, ORIGINAL_EVENTS, strict=True):
        assert (type(got), getattr(got, "url", None)) == (type(want), getattr(want, "url", None))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, len(ORIGINAL) - 1))
def test_a_cut_file_keeps_every_record_before_the_cut(cut: int) -> None:
    complete = {s for i, s in enumerate(STARTS) if (STARTS + [len(ORIGINAL)])[i + 1] <= cut}
    try:
        events = list(iter_records(io.BytesIO(ORIGINAL[:cut]), input_name="x"))
    except CorruptInput:
        assert not complete
        return
    _kept_except(events, set(STARTS) - complete)
    damage = [e for e in events if isinstance(e, Damage)]
    assert (cut in STARTS) == (not damage)

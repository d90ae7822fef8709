"""One definition, two implementations: the Rust core (core/, module ``backlinks_core``) must
give the rows and counters of the Python path (pages.py, extract.py, urls.py, domains.py,
rules.py, wat.py), which stays the fallback and the oracle.

Differential: the genuine samples (tests/data/cc, WARC and WAT), the broken-archive corpus
(tests/data/broken), a generated corpus (bench/generate.py) and hypothesis-generated pages and
envelopes go through both paths; the link rows, the page rows and the counters must be
identical. The WHATWG URL and Public Suffix List conformance suites also run through the
compiled path.

The module is built from core/ (``uv pip install ./core`` or ``maturin develop -m
core/Cargo.toml``); without it every test here fails and says so.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parent.parent


def _first(*names: str) -> Any:
    """The first of ``module:attribute`` names that imports: the Python modules are being
    moved into packages (pipeline/read/, pipeline/extract/ ...); either layout works."""
    errors = []
    for name in names:
        module, _, attribute = name.partition(":")
        try:
            return getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as error:
            errors.append(f"{name}: {error}")
    raise ImportError("; ".join(errors))


try:
    import backlinks_core as core
except ImportError as error:  # pragma: no cover - the message is the point
    pytest.fail(
        f"the compiled core backlinks_core is not installed ({error}): build it with "
        "`uv pip install ./core` (or `maturin develop -m core/Cargo.toml`)",
        pytrace=False,
    )

PublicSuffixList = _first("pipeline.extract.domains:PublicSuffixList")
bundled = importlib.import_module("pipeline.bundled")
Limits = _first("pipeline.extract.page:Limits")
page_rows = _first("pipeline.extract.page:page_rows")
extract_links = _first("pipeline.extract.html:extract_links")
iter_records = _first("pipeline.read.warc:iter_records")
HtmlPage = _first("pipeline.read.warc:HtmlPage")
Redirect = _first("pipeline.read.warc:Redirect")
Skipped = _first("pipeline.read.warc:Skipped")
warc_records = _first("pipeline.read.warc:warc_records")
read_payload = _first("pipeline.read.warc:read_payload")
Damage = _first("pipeline.read.framing:Damage")
CorruptInput = _first("pipeline.errors:CorruptInput")
iter_wat_records = _first("pipeline.extract.wat:iter_wat_records")
page_from_envelope = _first("pipeline.extract.wat:page_from_envelope")
INVALID_JSON = _first("pipeline.extract.wat:INVALID_JSON")
MALFORMED = _first("pipeline.extract.wat:MALFORMED")
WatPage = _first("pipeline.extract.wat:WatPage")
resolve_link = _first("pipeline.extract.urls:resolve_link")
resolve_page_url = _first("pipeline.extract.urls:resolve_page_url")
Resolved = _first("pipeline.extract.urls:Resolved")
host_reject_reason = _first("pipeline.extract.urls:host_reject_reason")
frame = _first("pipeline.extract.rows:frame", "pipeline.parts.part:frame")
LINKS_SCHEMA = _first("pipeline.extract.rows:LINKS_SCHEMA", "pipeline.parts.part:LINKS_SCHEMA")
PAGES_SCHEMA = _first("pipeline.extract.rows:PAGES_SCHEMA", "pipeline.parts.part:PAGES_SCHEMA")

PSL_TEXT = bundled.public_suffix_list().read_text("utf-8")
FALLBACK_CRAWL = "local"
SMALL = Limits(links_per_page=50, url_chars=300, anchor_chars=40)


def engine(limits: Any = Limits(), private: bool = False) -> Any:  # noqa: B008
    return core.Engine(PSL_TEXT, private, limits.links_per_page, limits.url_chars,
                       limits.anchor_chars)


ENGINE = engine()
ENGINE_SMALL = engine(SMALL)


def _wat_event(payload: bytes, crawl: str | None) -> Any:
    """The Python path's event of one WAT metadata payload (iter_wat_records' own steps):
    the core's fallback for the records it leaves to Python."""
    try:
        document = json.loads(payload)
        envelope = document["Envelope"]
        if not isinstance(envelope, dict):
            raise TypeError("Envelope is not an object")
    except (ValueError, KeyError, TypeError, RecursionError):
        return Skipped(INVALID_JSON, 0)
    try:
        return page_from_envelope(envelope, crawl, 0)
    except (AttributeError, TypeError, ValueError):
        return Skipped(MALFORMED, 0)


try:  # wat.py's own function, where it has one (the engine hands it to the core)
    wat_event = _first("pipeline.extract.wat:event_of_payload")
except ImportError:
    wat_event = _wat_event


# --- the two paths over whole files ------------------------------------------------------


class Result:
    """Rows and counters of a file (or a list of events), from one path."""

    def __init__(self, links: pl.DataFrame, pages: pl.DataFrame, counters: Counter[str]):
        self.links, self.pages, self.counters = links, pages, counters

    def assert_same(self, other: Result) -> None:
        assert self.pages.schema == other.pages.schema == PAGES_SCHEMA
        assert self.links.schema == other.links.schema == LINKS_SCHEMA
        assert self.pages.equals(other.pages), _first_difference(self.pages, other.pages)
        assert self.links.equals(other.links), _first_difference(self.links, other.links)
        assert dict(sorted(self.counters.items())) == dict(sorted(other.counters.items()))


def _first_difference(a: pl.DataFrame, b: pl.DataFrame) -> str:
    if a.height != b.height:
        return f"{a.height} rows against {b.height}"
    for i, (x, y) in enumerate(zip(a.iter_rows(), b.iter_rows())):
        if x != y:
            return f"row {i}: {x} != {y}"
    return "frames differ"


def python_rows(events: list[Any], psl: Any, limits: Any) -> Result:
    links, pages, counters = [], [], Counter()
    for event in events:
        if isinstance(event, Skipped):
            counters[f"skipped_{event.reason}"] += 1
            continue
        rows = page_rows(event, event.crawl or FALLBACK_CRAWL, psl, limits)
        counters.update(rows.counters)
        if rows.page is not None:
            pages.append(rows.page)
            links.extend(rows.links)
    return Result(frame(links, LINKS_SCHEMA), frame(pages, PAGES_SCHEMA), counters)


def _concat(frames: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def core_warc_rows(events: list[Any], eng: Any, batch: int = 7) -> Result:
    links, pages, counters = [], [], Counter()
    for event in events:
        if isinstance(event, Skipped):
            counters[f"skipped_{event.reason}"] += 1
    pending = [e for e in events if isinstance(e, (HtmlPage, Redirect))]
    for start in range(0, len(pending), batch):
        got_links, got_pages, got = eng.warc_batch(pending[start : start + batch], FALLBACK_CRAWL)
        links.append(pl.DataFrame(got_links))
        pages.append(pl.DataFrame(got_pages))
        counters.update(got)
    return Result(_concat(links, LINKS_SCHEMA), _concat(pages, PAGES_SCHEMA), counters)


def warc_events(path: Path) -> list[Any]:
    with open(path, "rb") as stream:
        try:
            return [e for e in iter_records(stream, input_name=str(path))
                    if not isinstance(e, Damage)]
        except CorruptInput:
            return []


def wat_payloads(path: Path) -> tuple[list[bytes], Counter[str]]:
    """The payloads of a WAT's metadata records, and the skips of its other records, as
    iter_wat_records reads them (the reading stays in Python)."""
    payloads, skipped = [], Counter()
    with open(path, "rb") as stream:
        try:
            for item in warc_records(stream, input_name=str(path)):
                if isinstance(item, Damage):
                    continue
                if not isinstance(item, tuple):
                    skipped["skipped_other_record_type"] += 1
                    continue
                record, _ = item
                if record.rec_type == "warcinfo":
                    skipped["skipped_warcinfo"] += 1
                elif record.rec_type != "metadata":
                    skipped["skipped_other_record_type"] += 1
                elif (payload := read_payload(record)) is None:
                    skipped["skipped_payload_unreadable"] += 1
                else:
                    payloads.append(payload)
        except CorruptInput:
            return [], Counter()
    return payloads, skipped


def core_wat_rows(payloads: list[bytes], skipped: Counter[str], eng: Any,
                  batch: int = 5) -> Result:
    links, pages, counters = [], [], Counter(skipped)
    crawl = None
    for start in range(0, len(payloads), batch):
        got_links, got_pages, got, crawl = eng.wat_batch(
            payloads[start : start + batch], crawl, FALLBACK_CRAWL, wat_event
        )
        links.append(pl.DataFrame(got_links))
        pages.append(pl.DataFrame(got_pages))
        counters.update(got)
    return Result(_concat(links, LINKS_SCHEMA), _concat(pages, PAGES_SCHEMA), counters)


def wat_events(path: Path) -> list[Any]:
    with open(path, "rb") as stream:
        try:
            return [e for e in iter_wat_records(stream, input_name=str(path))
                    if not isinstance(e, Damage)]
        except CorruptInput:
            return []


def check_warc(path: Path, limits: Any = Limits(), eng: Any = ENGINE) -> int:  # noqa: B008
    """Both paths on a WARC file; the number of page rows."""
    events = warc_events(path)
    expected = python_rows(events, PublicSuffixList.bundled(), limits)
    core_warc_rows(events, eng).assert_same(expected)
    return expected.pages.height


def check_wat(path: Path, limits: Any = Limits(), eng: Any = ENGINE) -> int:  # noqa: B008
    """Both paths on a WAT file; the number of page rows."""
    expected = python_rows(wat_events(path), PublicSuffixList.bundled(), limits)
    payloads, skipped = wat_payloads(path)
    core_wat_rows(payloads, skipped, eng).assert_same(expected)
    return expected.pages.height


def _is_wat(path: Path) -> bool:
    return ".wat" in path.name


def _is_warc(path: Path) -> bool:
    return ".warc" in path.name and not _is_wat(path) and ".wet" not in path.name


SAMPLES = sorted(p for p in (DATA / "cc").rglob("*") if p.is_file())
BROKEN = sorted(p for p in (DATA / "broken").iterdir() if p.suffix == ".gz")


# --- the tests -----------------------------------------------------------------------------


def test_the_compiled_core_loads_selectolax_lexbor() -> None:
    core.check_lexbor()
    assert core.__version__


@pytest.mark.parametrize("path", [p for p in SAMPLES if _is_warc(p)],
                         ids=lambda p: p.relative_to(DATA).as_posix())
def test_genuine_warc_samples(path: Path) -> None:
    assert check_warc(path) > 0
    check_warc(path, SMALL, ENGINE_SMALL)  # limits hit: cut anchors, links over the limit


@pytest.mark.parametrize("path", [p for p in SAMPLES if _is_wat(p)],
                         ids=lambda p: p.relative_to(DATA).as_posix())
def test_genuine_wat_samples(path: Path) -> None:
    check_wat(path)  # whirlwind's WAT holds only its request's envelope: no page
    check_wat(path, SMALL, ENGINE_SMALL)


def test_genuine_wat_samples_have_pages() -> None:
    assert sum(check_wat(p) for p in SAMPLES if _is_wat(p)) > 3


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_archives(path: Path) -> None:
    if _is_wat(path):
        check_wat(path)
    else:
        check_warc(path)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from generate import write_files
    finally:
        sys.path.remove(str(REPO / "bench"))
    warc, wat, _ = write_files(tmp_path_factory.mktemp("generated"), 2, 7, "CC-MAIN-2099-07")
    return warc, wat


def test_generated_warc(generated: tuple[Path, Path]) -> None:
    assert check_warc(generated[0]) > 10


def test_generated_wat(generated: tuple[Path, Path]) -> None:
    eng = engine()
    assert check_wat(generated[1], eng=eng) > 10
    assert eng.fallbacks == 0  # Common Crawl's envelope shape is read by the core itself


# --- URL and suffix list conformance through the compiled path -----------------------------

URL_CASES = [c for c in json.loads((DATA / "conformance" / "urltestdata.json").read_text("utf-8"))
             if isinstance(c, dict)]


def _as_python(result: Any) -> Any:
    return Resolved(*result) if isinstance(result, tuple) else result


def test_whatwg_url_conformance_through_the_core() -> None:
    """Every case of urltestdata.json (not only the http(s) ones): the core resolves as the
    Python path does, and on the http(s) cases as test_whatwg_conformance expects."""
    checked = 0
    for case in URL_CASES:
        base = case.get("base")
        if base is None:
            got, want = core.resolve_page_url(case["input"]), resolve_page_url(case["input"])
        else:
            got, want = core.resolve_link(case["input"], base), resolve_link(case["input"], base)
        assert _as_python(got) == want, case
        checked += 1
        if base is not None and not base.lower().startswith(("http:", "https:")):
            continue
        if case.get("failure"):
            assert not isinstance(got, tuple), case
        elif case.get("protocol") in ("http:", "https:"):
            host, href = case["hostname"].lower(), case["href"]
            if host.endswith("."):
                href, host = href.replace(host, host[:-1], 1), host[:-1]
            reason = host_reject_reason(host)
            assert got == (reason if reason else (href.split("#", 1)[0], host)), case
    assert checked == len(URL_CASES) > 600


_PSL_CASE = re.compile(r"^checkPublicSuffix\((null|'[^']*'),\s*(null|'[^']*')\);", re.M)


def test_public_suffix_list_conformance_through_the_core() -> None:
    from ada_url import idna_to_ascii

    private = engine(private=True)
    cases = _PSL_CASE.findall((DATA / "conformance" / "test_psl.txt").read_text("utf-8"))
    assert len(cases) == 78
    python = PublicSuffixList.bundled(private=True)
    for host, expected in cases:
        if host == "null":
            continue
        host = host.strip("'")
        want = None if expected == "null" else expected.strip("'")
        if want is not None and not want.isascii():
            converted = idna_to_ascii(want)
            want = converted.decode() if isinstance(converted, bytes) else converted
        assert private.registered_domain(host) == want == python.registered_domain(host), host
    assert ENGINE.fold("foo.github.io") == "github.io"
    assert private.fold("foo.github.io") == "foo.github.io"
    assert ENGINE.fold("co.uk") == "co.uk"


# --- hypothesis: generated pages, headers and envelopes ------------------------------------

SETTINGS = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

labels = st.sampled_from(["example", "Www", "a", "xn--bcher-kva", "bücher", "co", "uk", "com",
                          "github", "io", "_dmarc", "-bad", "1", "255", "localhost"])
hosts = st.lists(labels, min_size=1, max_size=4).map(".".join)
pieces = st.sampled_from(["/", "a", "..", ".", "%2e", "?q=1", "#f", "&amp;", "&", "&lt;", " ",
                          "\t", "é", "\\", ":", "@", "[::1]", "1.2.3.4", "%41", "'", '"'])
hrefs = st.one_of(
    st.builds(lambda s, h, p: f"{s}{h}{p}",
              st.sampled_from(["http://", "https://", "//", "HTTP://", "ftp://", "javascript:",
                               "mailto:", "", "/"]),
              hosts, st.lists(pieces, max_size=5).map("".join)),
    st.text(max_size=30),
)
words = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
spaces = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u3000", "\x1c", "", "\u2028"])
rels = st.lists(st.sampled_from(["nofollow", "UGC", "sponsored", "noopener", "canonical",
                                 "NoFollow", "x"]), max_size=3).map(" ".join)
robots_values = st.sampled_from(["nofollow", "none", "index", "noindex, nofollow",
                                 "googlebot: nofollow", "NOFOLLOW", "no follow", "nofollowx"])
refresh_contents = st.builds(
    lambda n, sep, url, q: f"{n}{sep}{url}{q}",
    st.sampled_from(["", "0", "5", " 3.5", "١", "x"]),
    st.sampled_from(["", ";", ",", "; ", " ; URL=", ";url = ", "; url='", ';url="']),
    hrefs, st.sampled_from(["", "'", '"', "' rest"]))
containers = st.sampled_from(["nav", "header", "footer", "aside", "div role=navigation",
                              "ul role='menu Navigation'", "section", "p", "table", "svg",
                              "math", "template", "noscript", "select", "button", "form"])


@st.composite
def html_documents(draw: st.DrawFn) -> str:
    """Markup as pages have it, well formed or not: nesting, misnesting, foreign content."""
    parts = [draw(st.sampled_from(["", "<!DOCTYPE html>", "\ufeff", "<html>"]))]
    if draw(st.booleans()):
        parts.append("<head>")
    for _ in range(draw(st.integers(0, 30))):
        choice = draw(st.integers(0, 15))
        href = draw(hrefs).replace('"', "&quot;")
        text = draw(words)
        if choice == 0:
            parts.append(f'<base href="{href}">' if draw(st.booleans()) else "<base href>")
        elif choice == 1:
            parts.append(f'<meta name="{draw(st.sampled_from(["robots", " ROBOTS ", "x"]))}" '
                         f'content="{draw(robots_values)}">')
        elif choice == 2:
            name = draw(st.sampled_from(["", ' name="x"', ' name="robots"']))
            content = draw(refresh_contents).replace('"', "&quot;")
            parts.append(f'<meta{name} http-equiv="{draw(st.sampled_from(["refresh", "Refresh ", "x"]))}" content="{content}">')
        elif choice == 3:
            parts.append(f'<link rel="{draw(rels)}" href="{href}">')
        elif choice == 4:
            parts.append(f"<{draw(containers)}>")
        elif choice == 5:
            parts.append(f"</{draw(containers).split()[0]}>")
        elif choice == 6:
            parts.append(f'<a href="{href}" rel="{draw(rels)}">{text}{draw(spaces)}')
        elif choice == 7:
            parts.append(f"{text}</a>")
        elif choice == 8:
            parts.append(f'<a href="{href}"><img alt="{text}"></a>')
        elif choice == 9:
            parts.append(f'<area href="{href}" alt="{text}{draw(spaces)}x">')
        elif choice == 10:
            parts.append(draw(st.sampled_from(["<p>", "</p>", "<b>", "</b>", "<i><b>", "</i>",
                                               "<table><tr><td>", "</table>", "<!-- c -->",
                                               "<script>var a='<a href=x>';</script>",
                                               "<![CDATA[x]]>", "<br/>", "<option>", "&amp;",
                                               "\x00", "<a>", "</body>", "<body>", "</head>"])))
        elif choice == 11:
            parts.append(f'<a href="{href}" role="navigation">{text}</a>')
        elif choice == 12:
            parts.append(f'<a xlink:href="{href}">{text}</a><a href>{text}</a>')
        elif choice == 13:
            parts.append(f'<a href="{href}"><span>{text}</span>{draw(spaces)}<img alt="i"></a>')
        elif choice == 14:
            parts.append(f"{text}{draw(spaces)}")
        else:
            parts.append(f'<A HREF="{href}" REL="{draw(rels)}">{text}</A>')
    return "".join(parts)


charset_labels = st.sampled_from(["utf-8", "UTF8", "latin1", "iso-8859-1", "windows-1251",
                                  "shift_jis", "x-sjis", "gb2312", "utf-16", "koi8-r", "bogus",
                                  "base64", "cp1252", "utf-8-sig", "euc-jp", "charſet"])


@st.composite
def pages_and_headers(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, str]]]:
    document = draw(html_documents())
    headers: list[tuple[str, str]] = []
    declared = draw(charset_labels)
    where = draw(st.integers(0, 3))
    if where == 1:
        headers.append(("Content-Type", f"text/html; charset={declared}"))
    elif where == 2:
        document = f'<meta charset="{declared}">' + document
    elif where == 3:
        document = f'<meta http-equiv="Content-Type" content="text/html; charset={declared}">' \
            + document
    if draw(st.booleans()):
        headers.append((draw(st.sampled_from(["X-Robots-Tag", "x-robots-tag"])),
                        draw(robots_values)))
    encoding = draw(st.sampled_from(["utf-8", "cp1251", "shift_jis", "utf-16", "latin-1"]))
    body = document.encode(encoding, errors="replace")
    if draw(st.booleans()):
        body += draw(st.binary(max_size=20))
    return body, headers


def _python_extract(body: bytes, headers: list[tuple[str, str]]) -> Any:
    try:
        got = extract_links(body, headers)
    except LookupError as error:  # the Python path fails on a page naming e.g. base64
        return ("error", type(error).__name__)
    links = [(raw.href, raw.anchor, raw.link_type, raw.nofollow, raw.ugc, raw.sponsored,
              raw.context) for raw in got.links]
    return (links, got.base_href, got.robots_nofollow, got.counters)


def _core_extract(body: bytes, headers: list[tuple[str, str]]) -> Any:
    try:
        return ENGINE.extract_links(body, headers)
    except LookupError as error:
        return ("error", type(error).__name__)


@SETTINGS
@given(pages_and_headers())
def test_generated_pages_extract_the_same(page: tuple[bytes, list[tuple[str, str]]]) -> None:
    body, headers = page
    assert _core_extract(body, headers) == _python_extract(body, headers)


@SETTINGS
@given(pages_and_headers(), st.sampled_from(["http://www.example.co.uk/dir/page.html",
                                             "https://bücher.de/a", "http://1.2.3.4/",
                                             "http://localhost/", "not a url",
                                             "HTTP://WWW.Example.COM.:80/x/../y?z#f"]),
       st.booleans())
def test_generated_pages_give_the_same_rows(page: tuple[bytes, list[tuple[str, str]]], url: str,
                                            truncated: bool) -> None:
    body, headers = page
    event = HtmlPage(url=url, fetch_time=datetime(2024, 1, 1, 12, 30, 5, 123456, tzinfo=UTC),
                     status=200, headers=headers, body=body, truncated=truncated,
                     crawl=None, offset=0)
    if isinstance(_python_extract(body, headers)[0], str):
        return  # the Python path raises on this page (see test_generated_pages_extract_the_same)
    expected = python_rows([event], PublicSuffixList.bundled(), SMALL)
    core_warc_rows([event], ENGINE_SMALL).assert_same(expected)


@SETTINGS
@given(st.binary(max_size=3000), st.sampled_from(["text/html", "text/html; charset=utf-8",
                                                  "text/html; charset=shift_jis", ""]))
def test_arbitrary_bytes_extract_the_same(body: bytes, content_type: str) -> None:
    headers = [("Content-Type", content_type)]
    assert _core_extract(body, headers) == _python_extract(body, headers)


# Envelopes in Common Crawl's shape, with values of every JSON type where strings belong.
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 400),
                         st.floats(allow_nan=False, allow_infinity=False), words)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(words, inner, max_size=3), max_leaves=5)


def odd(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the value, sometimes any JSON value in its place, sometimes absent."""
    return st.one_of(value, value, value, json_values, st.just(...))


def _present(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v is not ...}


@st.composite
def envelopes(draw: st.DrawFn) -> bytes:
    def put(target: dict[str, Any], key: str, value: Any) -> None:
        if value is not ...:
            target[key] = value

    links = []
    for _ in range(draw(st.integers(0, 8))):
        entry: dict[str, Any] = {}
        put(entry, "path", draw(odd(st.sampled_from(["A@/href", "AREA@/href", "IMG@/src",
                                                     "LINK@/href"]))))
        put(entry, "url", draw(odd(hrefs)))
        put(entry, "text", draw(odd(words)))
        put(entry, "alt", draw(odd(words)))
        put(entry, "rel", draw(odd(rels)))
        links.append(entry)
    head: dict[str, Any] = {}
    put(head, "Base", draw(odd(hrefs)))
    put(head, "Metas", draw(odd(st.lists(st.fixed_dictionaries(
        {}, optional={"name": odd(st.sampled_from(["robots", "x"])),
                      "http-equiv": odd(st.sampled_from(["refresh", "x"])),
                      "content": odd(robots_values | refresh_contents)}).map(_present),
        max_size=3))))
    put(head, "Link", draw(odd(st.lists(st.fixed_dictionaries(
        {"path": st.sampled_from(["LINK@/href", "A@/href"]), "url": odd(hrefs),
         "rel": odd(rels)}).map(_present), max_size=3))))
    headers: dict[str, Any] = {}
    put(headers, draw(st.sampled_from(["Location", "location", "LOCATION"])),
        draw(odd(hrefs | st.lists(hrefs, max_size=2))))
    put(headers, "X-Robots-Tag", draw(odd(robots_values | st.lists(robots_values, max_size=2))))
    response: dict[str, Any] = {}
    put(response, "Headers", draw(odd(st.just(headers))))
    put(response, "Response-Message", draw(odd(st.fixed_dictionaries(
        {"Status": odd(st.sampled_from(["200", "301", "404", "3xx", "", "٣٠١", "20"])
                       | st.integers(100, 600))}).map(_present))))
    metadata: dict[str, Any] = {}
    put(metadata, "Head", draw(odd(st.just(head))))
    put(metadata, "Links", draw(odd(st.just(links))))
    put(response, "HTML-Metadata", draw(odd(st.just(metadata))))
    warc: dict[str, Any] = {}
    put(warc, "WARC-Type", draw(odd(st.sampled_from(["response", "response", "request",
                                                     "warcinfo", "metadata", "resource"]))))
    put(warc, "WARC-Target-URI", draw(odd(st.sampled_from(["http://www.example.com/a/b",
                                                           "<https://x.example.org/>",
                                                           "http://1.2.3.4/", ""]))))
    put(warc, "WARC-Date", draw(odd(st.sampled_from(["2024-05-01T10:20:30Z",
                                                     "2024-05-01T10:20:30+02:00",
                                                     "2024-05-01", "nonsense", "",
                                                     "2024-02-30T00:00:00Z"]))))
    info: dict[str, Any] = {}
    put(info, "isPartOf", draw(odd(words)))
    payload: dict[str, Any] = {"HTTP-Response-Metadata": response, "WARC-Info-Metadata": info}
    envelope: dict[str, Any] = {}
    put(envelope, "WARC-Header-Metadata", draw(odd(st.just(warc))))
    put(envelope, "Payload-Metadata", draw(odd(st.just(payload))))
    document: dict[str, Any] = {}
    put(document, "Envelope", draw(odd(st.just(envelope))))
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    mangle = draw(st.integers(0, 9))
    if mangle == 0:
        text = text[: draw(st.integers(0, len(text)))]  # cut short
    elif mangle == 1:
        text = text.replace('"response"', "NaN", 1)
    elif mangle == 2:
        text = text.replace('"http://', '"\\ud800http://', 1)
    return text.encode("utf-8")


def python_wat_rows(payloads: list[bytes], limits: Any) -> Result:
    events, crawl = [], None
    for payload in payloads:
        event = wat_event(payload, crawl)
        if isinstance(event, str):
            crawl = event or crawl
            event = Skipped("warcinfo", 0)
        events.append(event)
    return python_rows(events, PublicSuffixList.bundled(), limits)


@settings(max_examples=600, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(envelopes(), min_size=1, max_size=4))
def test_generated_envelopes_give_the_same_rows(payloads: list[bytes]) -> None:
    expected = python_wat_rows(payloads, SMALL)
    core_wat_rows(payloads, Counter(), ENGINE_SMALL, batch=3).assert_same(expected)

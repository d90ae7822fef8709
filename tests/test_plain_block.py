"""The WAT reader's fast path: a record with a plain WARC header is read without warcio
(pipeline/read/warc.py, ``plain_block``), and must give exactly what warcio gives, or
leave the record to warcio. warcio is the oracle here, on every record of the bundled
files, the broken-archive corpus, the fuzz regressions, and generated header blocks."""

from __future__ import annotations

import io
from collections import Counter

from conftest import DATA
from hypothesis import given, settings
from hypothesis import strategies as st
from warcio.recordloader import ArcWarcRecordLoader

from pipeline.extract.wat import WatPayload, iter_wat_payloads
from pipeline.read.framing import RawRecord, iter_framed
from pipeline.read.warc import Block, plain_block, read_payload

# the types warcio reads no HTTP message for: their payload is their block
BLOCK_TYPES = frozenset({"metadata", "warcinfo", "resource", "conversion"})
FILES = sorted(
    path for path in DATA.rglob("*")
    if path.is_file() and not path.name.endswith((".md", ".txt", ".json", ".dat"))
    and (b"WARC/" in path.read_bytes()[:4096] or path.name.endswith(".gz"))
)


def warcio_reading(record: RawRecord) -> tuple[str, bytes | None] | None:
    """(type, payload) as warc_records and read_payload get them; None when warcio refuses
    the header (the reader then reports bad_header damage)."""
    try:
        parsed = ArcWarcRecordLoader().parse_record_stream(io.BytesIO(record.data),
                                                            known_format="warc")
    except Exception:
        return None
    return parsed.rec_type, read_payload(parsed)


def agrees_with_warcio(record: RawRecord, types: frozenset[str] = BLOCK_TYPES) -> bool:
    """plain_block leaves the record to warcio, or reads it as warcio does. True when it
    took the fast path."""
    block = plain_block(record, types)
    if block is None:
        return False
    assert warcio_reading(record) == (block.rec_type, block.block), record.data[:300]
    assert block.offset == record.offset
    return True


def test_every_framed_record_of_the_test_files_reads_as_warcio_reads_it() -> None:
    assert len(FILES) >= 15, [p.name for p in FILES]
    fast = Counter[str]()
    for path in FILES:
        with open(path, "rb") as stream:
            for item in iter_framed(stream, max_record_bytes=32 << 20):
                if isinstance(item, RawRecord) and agrees_with_warcio(item):
                    fast[path.suffix] += 1
    # the fast path is taken, and on the genuine WAT files' metadata records
    assert fast[".gz"] > 100 and fast[".wat"] > 5, fast


def test_genuine_wat_metadata_records_take_the_fast_path_with_the_same_payloads() -> None:
    """iter_wat_payloads with the fast path gives the payloads warcio's reading gives,
    record for record, and takes the fast path for every metadata record of the
    genuine WAT files (Common Crawl's headers are plain)."""
    wats = [path for path in FILES if ".wat" in path.name and "broken" not in path.parts]
    assert len(wats) >= 3
    for path in wats:
        with open(path, "rb") as stream:
            got = [(item.offset, item.payload) for item in
                   iter_wat_payloads(stream, input_name=str(path))
                   if isinstance(item, WatPayload)]
        with open(path, "rb") as stream:
            records = [item for item in iter_framed(stream, max_record_bytes=32 << 20)
                       if isinstance(item, RawRecord)]
        expected = [(record.offset, reading[1]) for record in records
                    if (reading := warcio_reading(record)) and reading[0] == "metadata"]
        assert got == expected and got, path.name
        blocks = [plain_block(record, frozenset({"metadata"})) for record in records]
        assert sum(isinstance(block, Block) for block in blocks) == len(expected), path.name


def test_only_the_asked_types_take_the_fast_path() -> None:
    record = RawRecord(7, b"WARC/1.0\r\nWARC-Type: metadata\r\nContent-Length: 2\r\n\r\n{}")
    assert plain_block(record, frozenset({"warcinfo"})) is None
    assert plain_block(record, frozenset({"metadata"})) == Block("metadata", 7, b"{}")


# Header lines as they come in real files, and the odd ones warcio reads its own way.
PLAIN_LINES = st.tuples(
    st.sampled_from(["WARC-Type", "warc-type", "WARC-TYPE", "Content-Length",
                     "content-length", "WARC-Date", "Content-Type"]),
    st.just(": "),
    st.sampled_from(["metadata", "warcinfo", "response", "Metadata", "2", "0", "02", "x",
                     "application/json", "a b"]),
    st.just("\r\n"),
)
ODD_LINES = st.tuples(
    st.sampled_from(["WARC-Type", "Content-Length", "X Odd", "", " WARC-Type", "\tx"]),
    st.sampled_from([":", ": ", ":  ", " : ", ":\t", "::", ""]),
    st.one_of(
        st.sampled_from([" metadata", "metadata ", "metadata\t", "2 ", "-1", "", "a\tb",
                         "caf\u00e9", "\u00a0", "+2", "\u0662"]),
        st.text(alphabet=st.characters(min_codepoint=9, max_codepoint=0x2FF), max_size=12),
    ),
    st.sampled_from(["\r\n", "\n", " \r\n", "\r\n ", "\r\n\t"]),
)
VERSIONS = st.sampled_from(["WARC/1.0", "WARC/1.1", "WARC/1.0", "WARC/0.18", "warc/1.0",
                            "WARC/1.0 x", "WARC/2.0"])


TYPE_VALUES = st.sampled_from(["metadata", "warcinfo", "response", "Metadata", "metadata",
                               " metadata", "metadata ", "metadata\t", "meta data", "m\u00e9ta"])
LENGTH_VALUES = st.sampled_from(["2", "2", "0", "02", "2 ", " 2", "+2", "-1", "x", "",
                                 "\u0662", "2\t"])


@settings(max_examples=1500, deadline=None)
@given(version=VERSIONS, kind=TYPE_VALUES, length=LENGTH_VALUES, data=st.data(),
       extra=st.lists(st.one_of(PLAIN_LINES, ODD_LINES), max_size=4),
       block=st.binary(min_size=2, max_size=4))
def test_generated_header_blocks_read_as_warcio_reads_them(
    version: str, kind: str, length: str, data: st.DataObject,
    extra: list[tuple[str, str, str, str]], block: bytes,
) -> None:
    """Headers with a type and a length (plain or not) among other lines, plain or odd, in
    any order. The framing cut the record at its length, so the block is as long as the
    length says when the length is digits."""
    if length.strip().isdigit():
        block = block[: int(length.strip())]
    separator = data.draw(st.sampled_from([": ", ":", " : ", ":\t"]))
    lines = [("WARC-Type", separator, kind, "\r\n"), ("Content-Length", ": ", length, "\r\n"),
             *extra]
    lines = data.draw(st.permutations(lines))
    header = version + "\r\n" + "".join(f"{n}{s}{v}{e}" for n, s, v, e in lines) + "\r\n"
    agrees_with_warcio(RawRecord(0, header.encode("utf-8") + block))


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["metadata", "warcinfo", "response", "resource"]),
       extra=st.lists(PLAIN_LINES, max_size=4), block=st.binary(max_size=64))
def test_plain_generated_records_take_the_fast_path_when_asked(
    kind: str, extra: list[tuple[str, str, str, str]], block: bytes
) -> None:
    """Plain headers as Common Crawl writes them: the fast path reads every record of an
    asked type that has one type and one length, as warcio does."""
    lines = [("WARC-Type", kind), ("Content-Length", str(len(block)))] + [
        (name, value) for name, _, value, _ in extra
        if name.lower() not in ("warc-type", "content-length")
    ]
    record = RawRecord(3, ("WARC/1.0\r\n" + "".join(f"{n}: {v}\r\n" for n, v in lines)
                           + "\r\n").encode("ascii") + block)
    assert agrees_with_warcio(record) == (kind in BLOCK_TYPES)

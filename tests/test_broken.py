"""The corpus of broken archives (tests/data/broken/, made by tests/make_broken.py).

For each file the expected behaviour is written down in tests/data/broken/README.md; these
tests hold the code to it: the records before the damage (and after it, wherever a next
record can be found) are kept, the damage is counted and described with its offset, and a
file with no readable record fails with an error that names it.
"""

from __future__ import annotations

import io
import shutil
import tracemalloc
from collections import Counter
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from conftest import DATA, SAMPLE, run_cli
from make_broken import main as make_broken

from pipeline.config import Settings
from pipeline.errors import CorruptInput
from pipeline.extract.wat import WatPage, iter_wat_records
from pipeline.parts.process import process_input
from pipeline.read.framing import Damage
from pipeline.read.sources import InputFile
from pipeline.read.warc import HtmlPage, Redirect, Skipped, iter_records

BROKEN = DATA / "broken"
ORIGINAL = SAMPLE / "resiliparse" / "warcfile.warc.gz"

Event = HtmlPage | WatPage | Redirect | Skipped | Damage


def events(path: Path, **options: int) -> list[Event]:
    reader = iter_wat_records if ".wat" in path.name else iter_records
    with open(path, "rb") as handle:
        return list(reader(handle, input_name=path.name, **options))  # type: ignore[operator]


def page_urls(found: list[Event]) -> list[str]:
    return [e.url for e in found if isinstance(e, HtmlPage | WatPage)]


def damage_of(found: list[Event]) -> list[Damage]:
    return [e for e in found if isinstance(e, Damage)]


ORIGINAL_PAGES = page_urls(events(ORIGINAL))


def test_the_original_has_sixteen_pages() -> None:
    assert len(ORIGINAL_PAGES) == 16 and len(set(ORIGINAL_PAGES)) == 16


def test_the_corpus_is_what_the_script_makes(tmp_path: Path) -> None:
    make_broken(tmp_path)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in BROKEN.iterdir() if p.name != "README.md")
    for name in made:
        assert (tmp_path / name).read_bytes() == (BROKEN / name).read_bytes(), name


def test_every_file_is_described_in_the_readme() -> None:
    readme = (BROKEN / "README.md").read_text()
    for path in BROKEN.iterdir():
        if path.name != "README.md":
            assert f"`{path.name}`" in readme, path.name


# (file, pages lost from the original, pages added, damage kinds, offset of the first damage)
DAMAGED = [
    ("truncated-member.warc.gz", ORIGINAL_PAGES[6:], [], ["truncated"], 61090),
    ("wrong-content-length.warc.gz", ORIGINAL_PAGES[:2], [], ["length_mismatch"] * 2, 940),
    ("garbage-between-records.warc.gz", [], [], ["not_a_record"], 42425),
    ("declared-200mb.warc.gz", [], [], ["too_large"], 31915),
    ("decompression-bomb.warc.gz", [], [], ["too_large"], 38091),
    ("uncompressed.warc.gz", [], [], [], None),
]


@pytest.mark.parametrize(("name", "lost", "added", "kinds", "offset"), DAMAGED, ids=lambda v: str(v)[:30])
def test_damage_costs_only_the_damaged_records(
    name: str, lost: list[str], added: list[str], kinds: list[str], offset: int | None
) -> None:
    found = events(BROKEN / name)
    assert page_urls(found) == [url for url in ORIGINAL_PAGES if url not in lost] + added
    damage = damage_of(found)
    assert [d.kind for d in damage] == kinds
    if offset is not None:
        assert damage[0].offset == offset
        assert all(d.detail for d in damage)


def test_garbage_is_skipped_byte_for_byte() -> None:
    (damage,) = damage_of(events(BROKEN / "garbage-between-records.warc.gz"))
    assert damage.skipped == 5000  # exactly the garbage, though it holds a stray gzip magic


def test_a_truncated_file_keeps_what_precedes_the_cut_and_says_to_re_download() -> None:
    (damage,) = damage_of(events(BROKEN / "truncated-member.warc.gz"))
    assert "re-download" in damage.detail
    assert damage.offset + damage.skipped == (BROKEN / "truncated-member.warc.gz").stat().st_size


def test_decompression_bomb_is_skipped_within_the_record_limit() -> None:
    """1 MB that inflates to 1 GiB: read no further than max_record_bytes, in memory too."""
    limit = 8 * 1024 * 1024
    tracemalloc.start()
    try:
        found = events(BROKEN / "decompression-bomb.warc.gz", max_record_bytes=limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert page_urls(found) == ORIGINAL_PAGES
    (damage,) = damage_of(found)
    assert damage.kind == "too_large" and "max_record_bytes" in damage.detail
    assert peak < 4 * limit, f"peak {peak:,} bytes"


def test_a_larger_record_limit_reads_the_200mb_record_up_to_the_end_of_its_member() -> None:
    found = events(BROKEN / "declared-200mb.warc.gz", max_record_bytes=300 * 10**6)
    (damage,) = damage_of(found)
    assert damage.kind == "length_mismatch" and "declares 200,000,000 bytes" in damage.detail
    assert page_urls(found) == ORIGINAL_PAGES


def test_malformed_http_headers_cost_their_own_records_only() -> None:
    found = events(BROKEN / "malformed-http-headers.warc.gz")
    urls = page_urls(found)
    assert [u for u in urls if u in ORIGINAL_PAGES] == ORIGINAL_PAGES
    # A header line without a colon or a missing blank line still leaves a readable page;
    # a status line that is not a status, or binary bytes, do not.
    assert sorted(set(urls) - set(ORIGINAL_PAGES)) == [
        "http://bad-http-3.example/", "http://bad-http-4.example/"
    ]
    reasons = Counter(e.reason for e in found if isinstance(e, Skipped))
    assert reasons["status_invalid"] == 1
    assert [d.kind for d in damage_of(found)] == ["bad_header"]


def test_invalid_json_in_a_wat_record_costs_that_record() -> None:
    good = events(next((SAMPLE / "warc-js").glob("*.warc.wat")))
    bad = events(BROKEN / "invalid-json.warc.wat.gz")
    assert len(bad) == len(good) == 9
    differ = [i for i, (a, b) in enumerate(zip(good, bad, strict=True))
              if (type(a), getattr(a, "reason", None)) != (type(b), getattr(b, "reason", None))]
    assert differ == [2] and isinstance(bad[2], Skipped) and bad[2].reason == "wat_invalid_json"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.warc.gz", r"empty\.warc\.gz: is empty: it holds no WARC record.* at byte offset 0"),
        ("not-gzip.warc.gz", r"not-gzip\.warc\.gz: holds no readable WARC record \(bytes that "
         r"are not a WARC record\).* at byte offset 0"),
    ],
)
def test_a_file_with_no_record_fails_with_its_name(name: str, message: str) -> None:
    with pytest.raises(CorruptInput, match=message):
        events(BROKEN / name)


def test_damage_is_counted_and_described_in_the_part(tmp_path: Path) -> None:
    settings = replace(Settings.defaults(), data_dir=str(tmp_path))
    result = process_input(InputFile(str(BROKEN / "wrong-content-length.warc.gz")), settings)
    assert result.counters["damaged_length_mismatch"] == 2
    assert result.pages == 14
    assert len(result.damage) == 2 and result.damage[0].startswith("at byte 940: length_mismatch")
    again = process_input(InputFile(str(BROKEN / "wrong-content-length.warc.gz")), settings)
    assert again.reused and again.damage == result.damage  # part.json keeps the notes


def test_a_run_over_the_corpus_keeps_everything_readable(
    prefect_api: str, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs"
    shutil.copytree(BROKEN, inputs, ignore=shutil.ignore_patterns("README.md"))
    # (a path that does not exist is refused before the run starts: tests/test_first_hour_*)
    run = run_cli("run", "--data", str(tmp_path / "data"), "--workers", "2",
                  "--input", str(inputs), env={"PREFECT_API_URL": prefect_api})
    out = run.stdout
    assert run.returncode == 1, out + run.stderr  # some inputs failed
    failed = {line.split()[1] for line in out.splitlines() if line.startswith("  FAILED")}
    assert {Path(f.rstrip(":")).name for f in failed} == {"empty.warc.gz", "not-gzip.warc.gz"}
    damaged = [line for line in out.splitlines() if line.startswith("  DAMAGED")]
    assert len(damaged) == 6, out  # truncated, lengths, garbage, 200 MB, http headers, bomb
    assert "damaged_too_large 2" in out and "damaged_truncated 1" in out
    con = duckdb.connect(str(run.db), read_only=True)
    urls = {row[0] for row in con.execute("select url from pages").fetchall()}
    assert set(ORIGINAL_PAGES) <= urls  # every genuine page survives somewhere in the corpus
    status, failed_inputs = con.execute("select status, failed_inputs from runs").fetchone()
    assert status == "partial" and len(failed_inputs) == 2
    parts = list((tmp_path / "data" / "parts").iterdir())
    # 9 WARC files in the folder (the WAT is not a WARC input), 2 failed: 7 parts, no debris
    assert len(parts) == 7 and not any(p.name.startswith(".") for p in parts)


def test_every_sample_file_reads_without_damage() -> None:
    for path in sorted(SAMPLE.rglob("*")):
        if path.name.endswith((".warc", ".warc.gz", ".wat", ".wat.gz")):
            assert damage_of(events(path)) == [], path.name


def test_a_stream_read_in_tiny_pieces_frames_the_same() -> None:
    """The framer never assumes a read returns what it asked for."""

    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data, self.pos = data, 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            chunk = self.data[self.pos : self.pos + min(size if size >= 0 else 7, 7)]
            self.pos += len(chunk)
            return chunk

    for name in ("garbage-between-records.warc.gz", "uncompressed.warc.gz"):
        data = (BROKEN / name).read_bytes()
        whole = list(iter_records(io.BytesIO(data), input_name=name))
        trickled = list(iter_records(Trickle(data), input_name=name))  # type: ignore[arg-type]
        assert trickled == whole, name

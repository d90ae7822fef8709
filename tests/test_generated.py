"""The pipeline recovers the host graph the benchmark generator (bench/generate.py) put in:
links, linking pages and nofollow links per edge, exactly, from the WARC and from the WAT."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import REPO

from pipeline.config import Settings
from pipeline.graph.aggregate import aggregate, read_table
from pipeline.parts.process import process_input
from pipeline.read.sources import InputFile
from pipeline.storage import LocalData

sys.path.insert(0, str(REPO / "bench"))
from generate import write_files  # noqa: E402


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:  # type: ignore[type-arg]
    warc, wat, truth = write_files(tmp_path_factory.mktemp("gen"), mb=8, seed=3)
    return warc, wat, json.loads(truth.read_text())


def host_edges(data: Path) -> dict[tuple[str, str], tuple[int, int, int]]:
    frame = read_table(data, "host_edges")
    return {(s, d): (links, pages, nofollow) for s, d, links, pages, nofollow in
            frame.select("src_host", "dst_host", "links", "pages", "nofollow_links").iter_rows()}


@pytest.mark.parametrize("which", ["warc", "wat"])
def test_the_generated_host_graph_is_recovered_exactly(
    generated: tuple[Path, Path, dict], which: str, tmp_path: Path  # type: ignore[type-arg]
) -> None:
    warc, wat, truth = generated
    settings = replace(Settings.defaults(), data_dir=str(tmp_path))
    result = process_input(InputFile(str(warc if which == "warc" else wat)), settings)
    aggregate(LocalData(tmp_path))
    expected = {(s, d): (links, pages, nofollow)
                for s, d, links, pages, nofollow in truth["host_edges"]}
    assert len(expected) > 1000  # a graph worth checking
    assert host_edges(tmp_path) == expected
    assert result.pages == truth["pages"]
    assert result.counters.get("redirects", 0) == truth["redirects"] > 0
    for reason in ("not_html", "status_4xx"):
        assert result.counters.get(f"skipped_{reason}", 0) == truth["skipped"].get(reason, 0)


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first = write_files(tmp_path / "a", mb=1, seed=9)  # (the size changes nothing here)
    second = write_files(tmp_path / "b", mb=1, seed=9)
    other = write_files(tmp_path / "c", mb=1, seed=10)
    for a, b, c in zip(first, second, other, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()


def test_generated_shape_is_common_crawl_like(generated: tuple[Path, Path, dict]) -> None:  # type: ignore[type-arg]
    """Median page about 50 KB, median link count about 100, a long tail of both."""
    import statistics

    from pipeline.read.warc import HtmlPage, iter_records

    warc, _, _ = generated
    with open(warc, "rb") as handle:
        pages = [e for e in iter_records(handle, input_name="g") if isinstance(e, HtmlPage)]
    sizes = [len(p.body) for p in pages]
    links = [p.body.count(b"<a ") for p in pages]
    assert 35_000 < statistics.median(sizes) < 70_000 and max(sizes) > 150_000
    assert 70 < statistics.median(links) < 140 and max(links) > 300

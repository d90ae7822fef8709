"""Limits: a page that hits one is kept and counted, never dropped silently."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from conftest import SAMPLE

from pipeline.config import Settings, load_settings
from pipeline.extract.domains import PublicSuffixList
from pipeline.extract.page import Limits, page_rows
from pipeline.parts.process import process_input
from pipeline.read.sources import InputFile
from pipeline.read.warc import HtmlPage

PSL = PublicSuffixList.bundled()


def html_page(body: str) -> HtmlPage:
    return HtmlPage(url="http://source.example/", fetch_time=datetime(2024, 1, 1, tzinfo=UTC),
                    status=200, headers=[("Content-Type", "text/html")], body=body.encode(),
                    truncated=False, crawl=None, offset=0)


def test_links_beyond_the_limit_are_counted_and_the_first_kept() -> None:
    body = "".join(f'<a href="http://t{i}.example/">{i}</a>' for i in range(30))
    rows = page_rows(html_page(body), "c", PSL, Limits(links_per_page=10))
    assert rows.page is not None
    assert [link[5] for link in rows.links] == [f"t{i}.example" for i in range(10)]
    assert rows.counters["pages_over_link_limit"] == 1
    assert rows.counters["links_over_limit"] == 20
    assert rows.counters["links_found"] == 30


def test_long_urls_are_rejected_and_counted() -> None:
    long_path = "x" * 300
    body = f'<a href="http://a.example/{long_path}">long</a><a href="http://b.example/">ok</a>'
    rows = page_rows(html_page(body), "c", PSL, Limits(url_chars=100))
    assert [link[5] for link in rows.links] == ["b.example"]
    assert rows.counters["links_rejected_url_too_long"] == 1


def test_long_anchors_are_cut_and_counted() -> None:
    body = '<a href="http://a.example/">' + "word " * 100 + "</a>"
    rows = page_rows(html_page(body), "c", PSL, Limits(anchor_chars=23))
    (link,) = rows.links
    assert link[7] == "word word word word wor" and rows.counters["anchors_cut"] == 1
    rows = page_rows(html_page(body), "c", PSL, Limits(anchor_chars=25))
    assert rows.links[0][7] == "word word word word word"  # cut, then no trailing space


def test_limits_come_from_settings_and_reach_the_part(tmp_path: Path) -> None:
    settings = load_settings(environ={"BACKLINKS_MAX_LINKS_PER_PAGE": "5",
                                      "BACKLINKS_MAX_ANCHOR_CHARS": "8"})
    assert Limits.from_settings(settings) == Limits(links_per_page=5, url_chars=2048, anchor_chars=8)
    settings = replace(settings, data_dir=str(tmp_path))
    source = InputFile(str(SAMPLE / "resiliparse" / "warcfile.warc.gz"))
    result = process_input(source, settings)
    unlimited = process_input(source, replace(Settings.defaults(), data_dir=str(tmp_path / "u")))
    assert result.pages == unlimited.pages == 16  # every page kept
    assert result.counters["pages_over_link_limit"] > 0
    assert result.links < unlimited.links
    assert result.counters["anchors_cut"] > 0

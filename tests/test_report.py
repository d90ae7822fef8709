"""The HTML report: rendered in a real headless Chromium, its numbers checked against SQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from browser import start_chromium
from conftest import CliRun, run_cli
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from pipeline.serve.report import ReportData, classify_anchor, render_html

TARGET = "google.com"
CHARTS = ("authority", "flags", "link_types", "contexts", "anchor_kinds", "crawl_changes")


@pytest.fixture(scope="module")
def chromium() -> Iterator[WebDriver]:
    try:
        driver = start_chromium()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield driver
    driver.quit()


def severe_console_entries(driver: WebDriver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def sample_report(sample_run: CliRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "google.html"
    result = run_cli("report", TARGET, "-o", str(path), "--db", str(sample_run.db))
    assert result.returncode == 0, result.stderr
    assert "Wrote the backlink profile of 'google.com'" in result.stderr
    return path


def test_the_report_is_self_contained(sample_report: Path) -> None:
    text = sample_report.read_text()
    # nothing is fetched: no src=, no stylesheet link, no url(...) to anywhere
    assert not re.search(r"""\bsrc\s*=|<link\b|url\(""", text)
    assert text.count("<script>") == 1 and "<style>" in text


def test_the_report_renders_with_its_charts_and_the_sql_numbers(
    chromium: WebDriver, sample_report: Path, sample_run: CliRun, tmp_path: Path
) -> None:
    chromium.get(sample_report.as_uri())
    assert severe_console_entries(chromium) == []
    for name in CHARTS:
        chart = chromium.find_element(By.CSS_SELECTOR, f'figure[data-chart="{name}"] svg')
        assert chart.size["width"] > 50 and chart.size["height"] > 10, name
    con = duckdb.connect(str(sample_run.db), read_only=True)
    result = con.execute("select * from link_profile(?)", [TARGET])
    profile = dict(zip([c[0] for c in result.description], result.fetchone(), strict=True))
    shown = {
        element.get_attribute("data-metric"): element.find_element(By.CLASS_NAME, "value").text
        for element in chromium.find_elements(By.CSS_SELECTOR, "[data-metric]")
    }
    assert shown == {
        "backlinks": f"{profile['backlinks']:,}",
        "referring_domains": f"{profile['referring_domains']:,}",
        "referring_hosts": f"{profile['referring_hosts']:,}",
        "dofollow_share": f"{100 * profile['dofollow_share']:.1f}%",
        "sitewide_share": f"{100 * profile['sitewide_share']:.1f}%",
        "authority": f"{profile['authority']:,.0f}",
    }
    assert profile["backlinks"] > 0
    # the tables show the SQL's rows, in its order
    domains = [row[0] for row in con.execute(
        "select referring_domain from referring_domains(?) limit 25", [TARGET]).fetchall()]
    cells = chromium.find_elements(By.CSS_SELECTOR, 'table[data-table="referring_domains"] tbody tr td:first-child')
    assert [cell.text for cell in cells] == domains
    pages = [row[0] for row in con.execute(
        "select page from top_pages(?) limit 15", [TARGET]).fetchall()]
    cells = chromium.find_elements(By.CSS_SELECTOR, 'table[data-table="top_pages"] tbody tr td:first-child')
    assert [cell.text for cell in cells] == pages
    # the link types chart says what the SQL says
    description = chromium.find_element(By.CSS_SELECTOR, 'figure[data-chart="link_types"] desc')
    for link_type, links in con.execute("select link_type, links from link_types(?)", [TARGET]).fetchall():
        assert f"{link_type}: {links}" in description.get_attribute("textContent")
    png = tmp_path / "report.png"
    chromium.save_screenshot(str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_tables_sort_when_a_header_is_clicked(chromium: WebDriver, sample_report: Path) -> None:
    chromium.get(sample_report.as_uri())
    table = 'table[data-table="referring_domains"]'
    header = chromium.find_elements(By.CSS_SELECTOR, f"{table} th")[2]  # links
    assert header.text == "links"
    header.click()
    ascending = [int(c.text.replace(",", "")) for c in
                 chromium.find_elements(By.CSS_SELECTOR, f"{table} tbody td:nth-child(3)")]
    assert ascending == sorted(ascending) and len(set(ascending)) > 1
    header.click()
    descending = [int(c.text.replace(",", "")) for c in
                  chromium.find_elements(By.CSS_SELECTOR, f"{table} tbody td:nth-child(3)")]
    assert descending == sorted(ascending, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"
    assert severe_console_entries(chromium) == []


def test_a_target_without_backlinks_gets_a_clear_empty_state(
    chromium: WebDriver, sample_run: CliRun, tmp_path: Path
) -> None:
    path = tmp_path / "none.html"
    result = run_cli("report", "nowhere.example", "-o", str(path), "--db", str(sample_run.db))
    assert result.returncode == 0 and "No backlinks of 'nowhere.example'" in result.stderr
    chromium.get(path.as_uri())
    status = chromium.find_element(By.CSS_SELECTOR, '[role="status"]')
    assert "No backlinks of nowhere.example in this graph" in status.text
    assert chromium.find_elements(By.CSS_SELECTOR, "figure[data-chart]") == []
    backlinks = chromium.find_element(By.CSS_SELECTOR, '[data-metric="backlinks"] .value')
    assert backlinks.text == "0"
    assert severe_console_entries(chromium) == []


def test_a_database_without_the_tables_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "other.duckdb"
    duckdb.connect(str(db)).execute("create table t (x int)").close()
    result = run_cli("report", TARGET, "-o", str(tmp_path / "r.html"), "--db", str(db))
    assert result.returncode == 2
    assert "is not a cc-backlinks database" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_hostile_text_from_the_web_is_shown_not_run(chromium: WebDriver, tmp_path: Path) -> None:
    evil = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    data = ReportData(
        target="shop.test",
        profile={"target": "shop.test", "backlinks": 1, "referring_domains": 1,
                 "referring_hosts": 1, "referring_pages": 1, "dofollow_share": 1.0,
                 "sitewide_share": 0.0, "top_anchors": [evil], "authority": 50.0,
                 "first_seen": "c", "last_seen": "c"},
        crawls=["c"],
        anchors=[(evil, 1, 1, "other")],
        top_domains=[{"referring_domain": evil, "authority": 0.0, "links": 1,
                      "dofollow_links": 1, "pages": 1, "first_seen": "c", "last_seen": "c"}],
        top_pages=[{"page": "https://shop.test/" + evil, "referring_domains": 1, "links": 1,
                    "top_anchors": [evil]}],
    )
    path = tmp_path / "evil.html"
    path.write_text(render_html(data))
    chromium.get(path.as_uri())
    assert chromium.execute_script("return window.pwned") is None
    assert evil in chromium.find_element(By.CSS_SELECTOR, 'table[data-table="anchors"]').text
    assert severe_console_entries(chromium) == []


@pytest.mark.parametrize(("anchor", "kind"), [
    ("", "empty"),
    ("  ", "empty"),
    ("https://www.google.com/", "naked URL"),
    ("www.google.com", "naked URL"),
    ("google.com", "naked URL"),
    ("see google.com for more", "naked URL"),
    ("Google", "brand"),
    ("Google+ page", "brand"),
    ("More on Google Scholar", "brand"),
    ("click here", "generic"),
    ("Read more »", "generic"),
    ("Weiterlesen", "generic"),
    ("Mailing List Archive", "other"),
    ("best search engine", "other"),
])
def test_anchor_kinds(anchor: str, kind: str) -> None:
    assert classify_anchor(anchor, "google.com", "google.com") == kind


def test_a_host_target_uses_its_domain_brand() -> None:
    assert classify_anchor("Example blog", "blog.example.co.uk", "example.co.uk") == "brand"
    assert classify_anchor("Blog", "blog.example.co.uk", "example.co.uk") == "other"


def test_the_report_reads_at_phone_width_and_links_its_domains_and_pages(
    chromium: WebDriver, sample_report: Path, sample_run: CliRun
) -> None:
    chromium.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                             {"width": 420, "height": 900, "deviceScaleFactor": 1, "mobile": True})
    try:
        chromium.get(sample_report.as_uri())
        widths = chromium.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[1] == 420 and widths[0] <= 420  # no horizontal scroll
        domains = chromium.find_elements(
            By.CSS_SELECTOR, 'table[data-table="referring_domains"] tbody tr')
        links = chromium.find_elements(
            By.CSS_SELECTOR, 'table[data-table="referring_domains"] tbody td a[href^="https://"]')
        assert domains and len(links) == len(domains)
        pages = chromium.find_elements(By.CSS_SELECTOR, 'table[data-table="top_pages"] td.url a')
        assert pages and all(a.get_attribute("href").startswith("http") for a in pages)
    finally:
        chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    con = duckdb.connect(str(sample_run.db), read_only=True)
    (total,) = con.execute("select count(*) from referring_domains(?)", [TARGET]).fetchone()
    assert f"Top referring domains ({total})" in sample_report.read_text()


def test_tables_say_top_n_of_all_and_crawls_sort_by_date_with_local_last() -> None:
    from pipeline.serve.report import LOCAL_NOTE, crawl_order

    assert crawl_order("CC-MAIN-2014-35") < crawl_order("CC-MAIN-2024-10") < crawl_order("local")
    rows = [{"referring_domain": f"d{i}.test", "authority": 0.0, "links": 1,
             "dofollow_links": 1, "pages": 1, "first_seen": first, "last_seen": "local"}
            for i, first in enumerate(["local", "CC-MAIN-2024-10", "CC-MAIN-2014-35"])]
    data = ReportData(
        target="t.test",
        profile={"target": "t.test", "backlinks": 3, "referring_domains": 6403,
                 "referring_hosts": 3, "referring_pages": 3, "dofollow_share": 1.0,
                 "sitewide_share": 0.0, "top_anchors": [], "authority": 1.0,
                 "first_seen": "local", "last_seen": "local"},
        crawls=["CC-MAIN-2014-35", "local"], top_domains=rows, total_domains=6403,
    )
    page = render_html(data)
    assert "Top referring domains (top 3 of 6,403)" in page
    assert LOCAL_NOTE in page
    sort_values = re.findall(r'data-sort="(\d+)">(CC-MAIN-[\d-]+|local)<', page)
    assert ("999999", "local") in sort_values and ("201435", "CC-MAIN-2014-35") in sort_values

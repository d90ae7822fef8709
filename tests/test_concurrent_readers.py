"""Analysts query while a run publishes: every query sees the old graph or the new one,
whole, never a broken or half-built one."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
from conftest import SAMPLE, run_cli

ONE_FILE = SAMPLE / "jwarc" / "cc.warc.gz"


def snapshot(db: Path) -> tuple[int, int, int]:
    """(pages, links, referring domains of the busiest target) from one open of the
    database, checked for consistency; raises if the file is not a whole database."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        pages, links = con.execute("select pages, links from graph_summary").fetchone()
        assert links == con.execute("select count(*) from links").fetchone()[0]
        target, domains = con.execute(
            "select dst_domain, count(distinct src_domain) from external_links "
            "group by 1 order by 2 desc, 1 limit 1").fetchone()
        assert con.execute("select count(*) from referring_domains(?)", [target]).fetchone()[0] == domains
        return pages, links, domains
    finally:
        con.close()


def test_readers_see_the_old_or_the_new_graph_while_a_run_publishes(
    prefect_api: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    api = {"PREFECT_API_URL": prefect_api}
    first = run_cli("run", "--data", str(data), "--input", str(ONE_FILE), "--workers", "1",
                    env=api)
    assert first.returncode == 0, first.stderr
    db = data / "graph.duckdb"
    old = snapshot(db)
    seen: list[tuple[int, int, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_continuously() -> None:
        while not stop.is_set():
            try:
                seen.append(snapshot(db))
            except BaseException as exc:  # noqa: BLE001 (recorded, asserted below)
                errors.append(exc)

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        second = run_cli("run", "--data", str(data), "--workers", "2", env=api)  # all files
    finally:
        stop.set()
        reader.join()
    assert second.returncode == 0, second.stderr
    new = snapshot(db)
    assert new != old and new[0] > old[0]
    assert errors == []
    assert len(seen) > 10, "the reader ran throughout the run"
    assert set(seen) <= {old, new}
    assert seen[0] == old

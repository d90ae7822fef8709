"""Save docs/report.png: the report of google.com on the bundled sample, as Chromium
renders it (the README shows it).

    python3 -m uv run --frozen --extra test python tests/render_report_screenshot.py backlinks-data/graph.duckdb
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import duckdb
from browser import screenshot

from pipeline.serve.report import gather, render_html

REPO = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    database = sys.argv[1] if len(sys.argv) > 1 else "backlinks-data/graph.duckdb"
    target = sys.argv[2] if len(sys.argv) > 2 else "google.com"
    con = duckdb.connect(database, read_only=True)
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        page.write_text(render_html(gather(con, target)), "utf-8")
        screenshot(page, REPO / "docs" / "report.png")
    print(f"saved {REPO / 'docs' / 'report.png'} (the report of {target} on {database})")

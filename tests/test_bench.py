"""Smoke runs of every benchmark script on a tiny input, so that `make bench` cannot break
silently: each script runs in a child process, as `make bench` or a reader runs it, must exit
0 and print its table (a header and data rows with numbers). No speed is asserted.

bench/engines.py runs when the Rust core is built (skipped otherwise).

Everything is written under one temporary folder (passed with each script's own flags):
nothing goes to docs/ or bench/data/. bench/same_answers.py builds graphs with `backlinks
run` (Prefect) six times, too slow for the suite: only its command line is checked here.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pipeline.parts.part import complete_parts, read_part_table
from pipeline.storage import LocalData

REPO = Path(__file__).resolve().parent.parent
EDGES = 3000  # host edges, at least, of the query database shared by queries.py and run.py
CRAWL = "CC-MAIN-2099-07"


def bench(script: str, *args: str | Path) -> str:
    """Run bench/<script> with the interpreter of the tests; its stdout (stderr on failure)."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *map(str, args)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"{script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def markdown_table(text: str) -> tuple[list[str], list[list[str]]]:
    """The first Markdown table in ``text``: header cells and data rows."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    assert len(lines) >= 3, f"no table with a data row in:\n{text}"
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert set("".join(cells[1])) <= set("-: "), f"no separator line under {cells[0]}"
    assert all(len(row) == len(cells[0]) for row in cells[2:]), text
    return cells[0], cells[2:]


def number(text: str) -> float:
    """The first number in ``text`` (thousands separators allowed)."""
    found = re.search(r"-?\d[\d,]*(\.\d+)?", text)
    assert found, f"no number in {text!r}"
    return float(found.group().replace(",", ""))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every script of this module writes to."""
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(scope="module")
def generated(data: Path) -> str:
    """bench/generate.py's output for a 1 MB file (run.py measures the same file)."""
    return bench("generate.py", "--mb", 1, "--seed", 1, "--crawl", CRAWL, "--out", data)


@pytest.fixture(scope="module")
def queries(data: Path) -> str:
    """bench/queries.py on a small database (run.py and digest.py reuse the database)."""
    return bench("queries.py", data / f"queries-{EDGES}.duckdb", EDGES, "--runs", 3)


def test_generate(generated: str, data: Path) -> None:
    files = {Path(line.split()[0]).name: number(line.split(maxsplit=1)[1])
             for line in generated.splitlines()}
    assert set(files) == {"gen-1-1mb.warc.gz", "gen-1-1mb.warc.wat.gz", "gen-1-1mb.truth.json"}
    assert all(size > 0 for size in files.values())
    with gzip.open(data / "gen-1-1mb.warc.gz", "rb") as warc:
        assert f"isPartOf: {CRAWL}".encode() in warc.read(4096)
    truth = json.loads((data / "gen-1-1mb.truth.json").read_text())
    assert truth["pages"] > 0 and truth["host_edges"]


def test_queries(queries: str) -> None:
    header, rows = markdown_table(queries)
    assert header == ["measure", "result", "notes"]
    assert rows[0][0] == "query database" and number(rows[0][1]) >= EDGES
    timed = {label: (value, note) for label, value, note in rows[1:]}
    assert len(timed) == 14  # 3 macros x 2 targets x (all rows, first 20), first_backlinks x 2
    for label, (value, note) in timed.items():
        assert value.startswith("p50 ") and number(value) > 0, label
        assert "3 runs" in note, label
    rare = timed["backlinks, rare target"][1]
    assert re.search(r"has 2 links, 2 rows returned", rare), rare
    assert "20 rows returned" in timed["backlinks, popular target limit 20"][1]
    assert "20 rows returned" in timed["first_backlinks(target, 20), popular target"][1]
    assert "1 rows returned" in timed["link_profile, rare target"][1]
    assert "; tables; file " in rows[0][2]


def test_queries_over_views(data: Path) -> None:
    """--views: a database of views over a generated partitioned folder, queried the same."""
    out = bench("queries.py", data / "queries-views.duckdb", "--views", 20_000,
                "--partitions", 4, "--runs", 2)
    header, rows = markdown_table(out)
    assert rows[0][0] == "query database" and "20,000 links; views; file " in rows[0][2]
    timed = {label: (value, note) for label, value, note in rows[1:]}
    assert len(timed) == 14
    assert all(number(value) > 0 for value, _ in timed.values())
    links = len(list((data / "queries-views-graph" / "graph" / "links").glob("p*.parquet")))
    assert links >= 4  # one file (or more) per partition


def test_digest(queries: str, data: Path) -> None:
    out = bench("digest.py", data / f"queries-{EDGES}.duckdb", "--json", data / "digest.json")
    printed = {line.split()[0]: (number(line.split()[1]), line.split()[2])
               for line in out.splitlines()}
    assert {"pages", "links", "host_edges", "hosts"} <= set(printed)
    assert all(re.fullmatch(r"[0-9a-f]{32}", md5) for _, md5 in printed.values())
    database = dict(row[:2] for row in markdown_table(queries)[1])["query database"]
    assert printed["host_edges"][0] == number(database)
    assert json.loads((data / "digest.json").read_text())["links"][1] == printed["links"][1]


def test_run(generated: str, queries: str, data: Path) -> None:
    """make bench's script end to end on the 1 MB file; the report goes to the folder."""
    report = data / "benchmarks.md"
    out = bench("run.py", "--mb", 1, "--seed", 1, "--edges", EDGES, "--query-runs", 3,
                "--data", data, "--out", report)
    printed = [line.split() for line in out.splitlines()]
    assert printed[0] == ["measure", "result", "notes"]
    header, rows = markdown_table(report.read_text())
    assert header == ["measure", "result", "notes"]
    assert len(printed) == len(rows) + 1
    results = {label: (value, note) for label, value, note in rows}
    for label in ("gzip decompression, zlib", "gzip decompression, isal (igzip)",
                  "warcio iteration, every payload read", "Lexbor parse of every HTML payload",
                  "end-to-end extraction (file -> part), one core"):
        value = results[label][0]
        assert value.endswith(" MB/s") and number(value) > 0, (label, value)
    for label in ("gzip decompression, zlib-ng", "fastwarc iteration, every payload read"):
        assert results[label][0] == "n/a" or number(results[label][0]) > 0  # bench extra
    pages, links = (number(part) for part in
                    results["end-to-end extraction (file -> part), one core"][1].split(",")[:2])
    assert pages > 0 and links > 0
    assert number(results["peak RSS of a worker (extraction)"][0]) > 0
    assert number(results["two processes on two cores, speed-up over one"][0]) > 0
    aggregation = results["aggregation: link rows/s into host and domain edges"]
    assert number(aggregation[0]) > 0 and f"{links:,.0f} rows" in aggregation[1]
    assert number(results["query database"][0]) >= EDGES
    assert number(results["backlinks, rare target"][0]) > 0
    # both engines side by side in the same table (the test command installs the core)
    assert results["engines: WARC rows and counters identical"][0] == "yes"
    assert results["engines: WAT rows and counters identical"][0] == "yes"
    for engine in ("python", "core"):
        assert number(results[f"engines: WARC extraction, {engine}"][0]) > 0
        assert number(results[f"engines: WAT extraction, {engine}"][0]) > 0
    assert "<!-- analysis -->" in report.read_text()


def test_engines(generated: str, data: Path) -> None:
    """The Python path against the Rust core on the 1 MB file: both must find the same rows."""
    pytest.importorskip("backlinks_core", reason="the Rust core (core/) is not built")
    header, rows = markdown_table(bench("engines.py", "--mb", 1, "--seed", 1, "--data", data))
    assert header == ["measure", "value", "note"]
    results = {label: value for label, value, _ in rows}
    assert results["WARC rows and counters identical"] == "yes"
    assert results["WAT rows and counters identical"] == "yes"
    for engine in ("python", "core"):
        assert number(results[f"WARC extraction, {engine}"]) > 0
        assert number(results[f"WAT extraction, {engine}"]) > 0


def test_ranks() -> None:
    out = bench("ranks.py", "--hosts", 2000, "--edges", 20_000, "--samples", 8,
                "--compare", 400)
    header, rows = markdown_table(out)
    assert header == ["measure", "seconds", "peak MiB", "notes"]
    results = {label: (number(seconds), number(peak), note)
               for label, seconds, peak, note in rows}
    assert abs(number(results["pagerank"][2].removeprefix("sum")) - 1) < 1e-6
    assert all(seconds >= 0 and peak > 0 for seconds, peak, _ in results.values())
    # 1,024 samples of a 400-node graph are every node: the exact values
    exact = results["sampled harmonic centrality, 1,024 samples"][2]
    assert "mean 0.00%, max 0.00%" in exact and "top-100 overlap 100%" in exact


def test_ranks_versus_networkx() -> None:
    header, rows = markdown_table(bench("ranks.py", "--versus", 200))
    labels = [row[0].split(", ") for row in rows]  # measure, then whose implementation
    assert [measure for measure, _ in labels] == ["pagerank"] * 2 + ["harmonic exact"] * 2
    assert [who == "networkx" for _, who in labels] == [False, True, False, True]
    assert all(number(row[1]) >= 0 for row in rows)


def test_ranks_of_the_tables_both_ways() -> None:
    out = bench("ranks.py", "--tables", 3000, "--parts", 4, "--memory-mb", 256)
    header, rows = markdown_table(out)
    assert header[0] == "rank_method" and [row[0] for row in rows] == ["memory", "partitions"]
    assert all(number(row[1]) > 0 for row in rows)
    assert number(rows[1][3]) > 0  # the largest task's peak
    difference = float(out.split("largest difference ")[1].split()[0])
    assert difference < 1e-12
    assert "split_by_source" in out and "frontier_step" in out


def test_aggregate_memory(data: Path) -> None:
    out = bench("aggregate_memory.py", "--memory-mb", 500, "--rows", 20_000, "--buckets", 2,
                "--data", data)
    header, rows = markdown_table(out)
    assert header[:3] == ["link rows", "link Parquet", "sub-buckets"] and len(header) == 7
    assert len(rows) == 1
    assert number(rows[0][0]) == 20_000 and number(rows[0][2]) == 2
    for cell in rows[0][3:]:  # "seconds / peak MiB" per step
        seconds, peak = cell.split(" / ")
        assert number(seconds) >= 0 and number(peak) > 0, cell
    # one partition, reduced in the two sub-buckets asked for
    assert sorted(p.name for p in (data / "aggregate-20000" / "graph" / "links").iterdir()) == [
        "p0000-s000.parquet", "p0000-s001.parquet"]


def test_aggregate_memory_with_one_source_into_one_target(data: Path) -> None:
    """--one-source: a source domain's links into one target, more than a sub-bucket holds
    at the smallest setting (34 k link rows), reduced in splits by page."""
    out = bench("aggregate_memory.py", "--memory-mb", 465, "--rows", 20_000,
                "--one-source", 80_000, "--data", data)
    _, rows = markdown_table(out)
    assert number(rows[0][0]) == 20_000 and number(rows[0][2]) >= 3
    links = data / "aggregate-20000-one-80000" / "graph" / "links"
    splits = [frame for frame in (pl.read_parquet(path) for path in links.iterdir())
              if frame["src_domain"].unique().to_list() == ["big.com"]]
    assert len(splits) >= 3 and sum(frame.height for frame in splits) == 80_000
    assert all(frame["dst_domain"].unique().to_list() == ["target.org"] for frame in splits)


def test_stream_memory() -> None:
    lines = bench("stream_memory.py", 1).splitlines()
    assert lines[0].split() == ["file", "MB", "pages", "links", "seconds", "peak", "RSS",
                                "MiB", "retries"]
    assert len(lines) == 2
    size, pages, links, seconds, peak = (number(cell) for cell in lines[1].split()[:5])
    assert 0.5 < size < 2 and pages > 0 and links > 0 and seconds >= 0 and peak > 0


def test_same_answers_command_line() -> None:
    """Imports (digest, generate) and arguments only; the scenarios need `backlinks run`."""
    assert "--corpora" in bench("same_answers.py", "--help")


def test_scale_counts_the_bytes_that_leave_an_s3_data_location(data: Path) -> None:
    """bench/scale.py --s3 on a small input: one row, every stage measured; the pages step
    reads each pages file of the parts once, so its bytes over the input's are the pages'
    share of the parts (the server counts what it sends)."""
    out = bench("scale.py", "--s3", "--rows", 20_000, "--factors", 1, "--partitions", 2,
                "--memory-mb", 500, "--data", data)
    assert "from a local S3 server" in out
    header, rows = markdown_table(out)
    assert header[:2] == ["link rows", "input MiB"] and len(rows) == 1
    stages = dict(zip(header[2:], rows[0][2:], strict=True))
    ratio = {stage: float(cell.split(" · ")[1]) for stage, cell in stages.items()}
    parts = data / "scale-20000-p2" / "parts"
    pages = sum(p.stat().st_size for p in parts.rglob("pages.partitions"))
    total = sum(p.stat().st_size for p in parts.rglob("*.partitions"))
    assert abs(ratio["pages"] - pages / total) <= 0.011, (ratio, pages / total)
    assert ratio["links"] >= (total - pages) / total - 0.011  # every link file, at least once


def test_scale_builds_parts_of_the_crawl_shape_when_asked(data: Path) -> None:
    """bench/scale.py --shape crawl: parts of 100 links a page, pages grouped in hosts,
    each page's footer linking to ten targets of its host, so that the graph flags those
    links sitewide."""
    out = bench("scale.py", "--shape", "crawl", "--rows", 20_000, "--factors", 1,
                "--partitions", 2, "--data", data)
    assert out.startswith("crawl shape") and len(markdown_table(out)[1]) == 1
    folder = data / "scale-20000-p2-crawl"
    store = LocalData(folder)
    links = pl.concat([read_part_table(store, info, "links")
                       for _, info in complete_parts(store)])
    pages = links["src_url"].n_unique()
    assert 95 <= links.height / pages <= 100, links.height / pages
    assert pages / links["src_host"].n_unique() >= 8  # 20 hosts: 10 pages a host here
    published = pl.read_parquet(sorted((folder / "graph" / "links").glob("*.parquet")))
    assert published.height == links.height
    assert published["sitewide"].mean() >= 0.1, published["sitewide"].mean()


def test_scale_aggregates_copies_of_the_parts_when_asked(data: Path) -> None:
    """bench/scale.py --copies 2: every generated part a second time under another name;
    the rows measured are both copies', and the graph holds one copy's links (the other's
    captures superseded)."""
    out = bench("scale.py", "--copies", 2, "--rows", 20_000, "--factors", 1,
                "--partitions", 2, "--data", data)
    header, rows = markdown_table(out)
    assert len(rows) == 1 and rows[0][0] == "40,000"
    folder = data / "scale-20000-p2-copies2"
    parts = sorted(p.name for p in (folder / "parts").iterdir())
    assert parts == ["copy00000-gen-0000", "copy00001-gen-0000"]
    store = LocalData(data / "scale-20000-p2")
    links = pl.concat([read_part_table(store, info, "links")
                       for _, info in complete_parts(store)])
    published = pl.read_parquet(sorted((folder / "graph" / "links").glob("*.parquet")))
    assert published.height == links.height


def test_scale_measures_the_plan_as_the_parts_grow(data: Path) -> None:
    """bench/scale.py --plan-parts: one generated part hard-linked 2 and 30 times, a row
    each; the plan that goes to every task is the same size whatever the parts (their
    ranges written beside it grow with them), a task of an empty partition runs, and what a
    run with nothing new reads of the parts is timed (every part found complete both ways,
    or the bench fails)."""
    out = bench("scale.py", "--plan-parts", 2, 30, "--rows", 2_000, "--partitions", 256,
                "--shape", "crawl", "--data", data)
    header, rows = markdown_table(out)
    assert header[:4] == ["parts", "plan s · MiB", "plan pickled", "ranges written"]
    assert [row[0] for row in rows] == ["2", "30"]
    assert rows[0][2] == rows[1][2]  # the plan's pickled bytes
    assert 0 < number(rows[0][3].split()[0]) < number(rows[1][3].split()[0])
    assert all(number(cell.split(" · ")[0]) > 0 for row in rows for cell in row[4:6])
    # a run with nothing new: its check, and its lookups from the records and from part.json
    assert header[6:] == ["nothing-new check s", "lookups s: records · part.json"]
    assert all(len(row[7].split(" · ")) == 2 for row in rows)
    copies = data / "plan-30-2000-p256-crawl" / "parts"
    assert len(list(copies.glob("*/part.json"))) == 30
    linked = next(copies.glob("*/links.partitions"))
    assert linked.stat().st_nlink == 1 + 2 + 30  # the generated part and every copy
    assert not list(copies.parent.glob(".graph-*"))


def test_scale_measures_what_a_task_costs_on_each_runner(
        data: Path, prefect_api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/scale.py --overhead-parts (make bench-scale runs it): `backlinks run` over
    one-page WARC files with the local runner (in threads on the tiny files; on files
    padded past SMALL_RUN_BYTES in all, in its process pool) and with Dask, a row each (the
    test's Prefect API instead of a temporary server a run), with the same run again and
    with one file more."""
    monkeypatch.setenv("PREFECT_API_URL", prefect_api)
    out = bench("scale.py", "--overhead-parts", 3, "--data", data)
    assert out.startswith("3 one-page WARC files")
    header, rows = markdown_table(out)
    assert header == ["runner", "wall s", "s per file", "again (nothing new) s",
                      "one file more s"]
    assert [row[0] for row in rows] == ["local (threads)", "local (processes)", "dask"]
    assert all(number(cell) > 0 for row in rows for cell in row[1:])
    assert len(list((data / "tiny-3").glob("*.warc.gz"))) == 3
    from flows.build import SMALL_RUN_BYTES, small_local_run
    from pipeline.config import Settings
    from pipeline.read.sources import InputFile

    padded = [InputFile(str(path)) for path in data.glob("tiny-3-padded-*/*.warc.gz")]
    assert len(padded) == 3 and sum(path.stat().st_size for path in
                                    data.glob("tiny-3-padded-*/*")) > SMALL_RUN_BYTES
    assert not small_local_run(padded, Settings.defaults())  # the process pool


def test_scale_times_writing_one_part_locally_and_in_s3(data: Path) -> None:
    """bench/scale.py --write-part: one generated part's rows written again by PartWriter,
    into a local folder and a local S3 server: a row each, a part of three files (a file a
    table and part.json) however many partitions."""
    out = bench("scale.py", "--write-part", "--rows", 5_000, "--partitions", 8, "--data", data)
    assert "8 partitions" in out
    header, rows = markdown_table(out)
    assert header == ["where", "seconds", "files"]
    assert [row[0] for row in rows] == ["local", "s3"]
    assert all(number(row[1]) > 0 and row[2] == "3" for row in rows)

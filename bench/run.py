"""``make bench``: every figure measured in one run, on the same generated file.

    python3 -m uv run --frozen --extra bench --extra core python bench/run.py [--mb 1024] [--seed 1]
        [--edges 10000000] [--query-runs 40] [--data bench/data] [--out docs/benchmarks.md]

Generates (once, cached in ``--data``, bench/data/ by default) a Common-Crawl-shaped WARC
of about ``--mb`` MB uncompressed with bench/generate.py, then measures, each in a fresh
process so that its peak RSS is its own:

- floors: gzip decompression alone (zlib; isal; zlib-ng), warcio iteration reading every
  payload, fastwarc iteration reading every payload, Lexbor parsing every HTML payload;
- end-to-end extraction (file -> part, ``process_input``) per core, and its ratios to
  (warcio + parse) and (fastwarc + parse), each pair's throughput combined as 1/(1/a + 1/b);
- two processes on two cores against one;
- aggregation of the parts (link rows per second into host and domain edges), peak RSS;
- both extraction engines side by side (bench/engines.py: the Python path and the compiled
  core, WARC MB/s and WAT records/s per CPU second, their floors, whether their rows agree);
- queries: p50 and p95 of ``referring_domains`` and ``backlinks`` on a database of at least
  ``--edges`` host edges, for a popular and a rare target.

Speeds are MB/s of *uncompressed* WARC. The table is printed and written to ``--out``
(docs/benchmarks.md) with the machine and the date. No test asserts a speed;
tests/test_bench.py runs this script end to end on a 1 MB file (``--mb 1 --edges 3000
--query-runs 3``, everything in a temporary folder), so that it cannot break unnoticed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

# Each measurement is a small program run in its own process; it prints one JSON object.
PRELUDE = """
import json, resource, sys, time
def peak_mib():
    # VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so a child would report
    # the parent's peak if that was higher
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def done(seconds, **extra):
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib(), **extra}))
path = sys.argv[1]
"""

def _decompress_program(opener: str) -> str:
    """Read the whole file through a gzip reader (``opener`` is an import and a call)."""
    module, call = opener.split(":")
    return f"""
{module}
t = time.perf_counter(); n = 0
with {call}(path, "rb") as f:
    while chunk := f.read(1 << 20):
        n += len(chunk)
done(time.perf_counter() - t, bytes=n)
"""


MEASURES = {
    "gzip_zlib": _decompress_program("import gzip:gzip.open"),
    "gzip_isal": _decompress_program("from isal import igzip:igzip.open"),
    "gzip_zlib_ng": _decompress_program("from zlib_ng import gzip_ng:gzip_ng.open"),
    "warcio": """
from warcio.archiveiterator import ArchiveIterator
t = time.perf_counter(); n = 0
with open(path, "rb") as f:
    for record in ArchiveIterator(f):
        n += len(record.content_stream().read())
done(time.perf_counter() - t, payload_bytes=n)
""",
    "fastwarc": """
from fastwarc.warc import ArchiveIterator
t = time.perf_counter(); n = 0
with open(path, "rb") as f:
    for record in ArchiveIterator(f, parse_http=True):
        n += len(record.reader.read())
done(time.perf_counter() - t, payload_bytes=n)
""",
    "parse": """
from warcio.archiveiterator import ArchiveIterator
from selectolax.lexbor import LexborHTMLParser
bodies = []
with open(path, "rb") as f:
    for record in ArchiveIterator(f):
        if record.rec_type == "response" and record.http_headers is not None and \\
                (record.http_headers.get_header("Content-Type") or "").startswith("text/html"):
            body = record.content_stream().read()
            if body:
                bodies.append(body)
t = time.perf_counter()
for body in bodies:
    LexborHTMLParser(body)
done(time.perf_counter() - t, pages=len(bodies), html_bytes=sum(map(len, bodies)))
""",
    "extract": """
from dataclasses import replace
from pipeline.config import Settings
from pipeline.parts.process import process_input
from pipeline.read.sources import InputFile
settings = replace(Settings.defaults(), data_dir=sys.argv[2])
t = time.perf_counter()
result = process_input(InputFile(path), settings)
done(time.perf_counter() - t, pages=result.pages, links=result.links)
""",
    "aggregate": """
from pathlib import Path
from pipeline.graph.aggregate import aggregate
from pipeline.storage import LocalData
t = time.perf_counter()
graph = aggregate(LocalData(Path(sys.argv[2])))
done(time.perf_counter() - t, host_edges=graph.host_edges, domain_edges=graph.domain_edges)
""",
}


# Floors measured with tools of the bench extra only: without them the row says so.
OPTIONAL = {"gzip_zlib_ng": "zlib_ng", "fastwarc": "fastwarc"}


def _result(name: str, returncode: int, stdout: str, stderr: str) -> dict[str, float]:
    """The JSON line a measurement printed; a failed one stops the run with its error."""
    if returncode != 0:
        raise SystemExit(f"measurement {name!r} failed (exit {returncode}):\n{stderr}")
    return dict(json.loads(stdout.strip().splitlines()[-1]))


def measure(name: str, *args: str) -> dict[str, float]:
    program = PRELUDE + MEASURES[name]
    out = subprocess.run([sys.executable, "-c", program, *args], cwd=REPO,
                         capture_output=True, text=True)
    return _result(name, out.returncode, out.stdout, out.stderr)


def measure_pair(name: str, *args_per_process: tuple[str, ...]) -> tuple[float, list[dict[str, float]]]:
    """Run the same measurement in several processes at once; wall time and their results."""
    program = PRELUDE + MEASURES[name]
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, "-c", program, *args], cwd=REPO,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for args in args_per_process]
    results = []
    for child in children:
        stdout, stderr = child.communicate()
        results.append(_result(name, child.returncode, stdout, stderr))
    return time.perf_counter() - started, results


def combined(a: float, b: float) -> float:
    """Throughput of doing a then b on the same bytes: 1/(1/a + 1/b)."""
    return 1.0 / (1.0 / a + 1.0 / b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--query-runs", type=int, default=40,
                        help="timed runs per query (at least 2)")
    parser.add_argument("--data", type=Path, default=BENCH / "data",
                        help="generated files, scratch folders and the query database")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.query_runs < 2:
        parser.error("--query-runs must be at least 2")

    from generate import write_files

    data = args.data
    warc = data / f"gen-{args.seed}-{args.mb}mb.warc.gz"
    if not warc.with_name(f"gen-{args.seed}-{args.mb}mb.truth.json").exists():
        # the truth is written last: without it the files are from an interrupted run
        print(f"generating {warc.name} ...", file=sys.stderr)
        write_files(data, args.mb, args.seed)
    zlib_floor = measure("gzip_zlib", str(warc))  # the first floor, and the file's size
    size = int(zlib_floor["bytes"])
    mb = size / 1e6
    rows: list[tuple[str, str, str]] = []

    def line(label: str, value: str, note: str) -> None:
        print(f"{label:52} {value:>16}  {note}", flush=True)

    def row(label: str, value: str, note: str = "") -> None:
        rows.append((label, value, note))
        line(label, value, note)

    line("measure", "result", "notes")

    speeds: dict[str, float] = {}
    for name, label in [("gzip_zlib", "gzip decompression, zlib"),
                        ("gzip_isal", "gzip decompression, isal (igzip)"),
                        ("gzip_zlib_ng", "gzip decompression, zlib-ng"),
                        ("warcio", "warcio iteration, every payload read"),
                        ("fastwarc", "fastwarc iteration, every payload read")]:
        if name in OPTIONAL and importlib.util.find_spec(OPTIONAL[name]) is None:
            row(label, "n/a", f"{OPTIONAL[name]} is not installed (it is in the bench extra)")
            continue
        result = zlib_floor if name == "gzip_zlib" else measure(name, str(warc))
        speeds[name] = mb / result["seconds"]
        row(label, f"{speeds[name]:.1f} MB/s", f"{result['seconds']:.1f} s, peak {result['peak_mib']:.0f} MiB")
    parsed = measure("parse", str(warc))
    speeds["parse"] = mb / parsed["seconds"]
    row("Lexbor parse of every HTML payload", f"{speeds['parse']:.1f} MB/s",
        f"{parsed['pages']:,} pages, {parsed['html_bytes'] / 1e6:.0f} MB of HTML in "
        f"{parsed['seconds']:.1f} s; MB/s of the whole file")

    scratch = data / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    one = measure("extract", str(warc), str(scratch / "one"))
    speeds["extract"] = mb / one["seconds"]
    warcio_parse = combined(speeds["warcio"], speeds["parse"])
    row("end-to-end extraction (file -> part), one core", f"{speeds['extract']:.1f} MB/s",
        f"{one['pages']:,} pages, {one['links']:,} links stored, {one['seconds']:.1f} s")
    row("  ratio to (warcio iteration + parse)", f"{speeds['extract'] / warcio_parse:.2f}",
        f"(warcio + parse) = {warcio_parse:.1f} MB/s; target >= 0.75")
    if "fastwarc" in speeds:
        fastwarc_parse = combined(speeds["fastwarc"], speeds["parse"])
        row("  ratio to (fastwarc iteration + parse)",
            f"{speeds['extract'] / fastwarc_parse:.2f}",
            f"(fastwarc + parse) = {fastwarc_parse:.1f} MB/s")
    row("peak RSS of a worker (extraction)", f"{one['peak_mib']:.0f} MiB", "target < 500 MiB")

    wall, both = measure_pair("extract", (str(warc), str(scratch / "a")), (str(warc), str(scratch / "b")))
    slowest = max(result["seconds"] for result in both)  # each child's own extraction time
    speedup = (2 * mb / slowest) / speeds["extract"]
    row("two processes on two cores, speed-up over one", f"{speedup:.2f}x",
        f"{2 * mb / slowest:.1f} MB/s together ({wall:.1f} s wall with start-up); "
        "target >= 1.8")

    aggregated = measure("aggregate", "", str(scratch / "one"))
    link_rows = one["links"]
    row("aggregation: link rows/s into host and domain edges",
        f"{link_rows / aggregated['seconds']:,.0f} rows/s",
        f"{link_rows:,} rows -> {aggregated['host_edges']:,} host edges in "
        f"{aggregated['seconds']:.1f} s, peak {aggregated['peak_mib']:.0f} MiB")

    # issue 17: the Python path and the compiled core side by side, WARC and WAT, with floors
    if importlib.util.find_spec("backlinks_core") is None:
        row("engines side by side", "n/a", "the compiled core is not installed (--extra core)")
    else:
        from engines import engine_rows

        for label, value, note in engine_rows(data, args.mb, args.seed, say=False):
            row(f"engines: {label}", value, note)

    from queries import query_latencies

    for label, value, note in query_latencies(data / f"queries-{args.edges}.duckdb", args.edges,
                                              args.query_runs):
        row(label, value, note)

    write_report(args.out, rows, warc, size)


def write_report(out: Path, rows: list[tuple[str, str, str]], warc: Path, size: int) -> None:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); every figure below comes from one run on one",
        "generated file. Speeds are MB/s of uncompressed WARC per core unless stated.",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"- input: `{warc.name}` (bench/generate.py), {warc.stat().st_size / 1e6:,.0f} MB "
        f"gzipped, {size / 1e6:,.0f} MB uncompressed",
        "",
        "| measure | result | notes |",
        "|---|---:|---|",
        *[f"| {label.strip()} | {value} | {note} |" for label, value, note in rows],
        "",
    ]
    previous = out.read_text() if out.exists() else ""
    marker = "<!-- analysis -->"
    analysis = previous[previous.index(marker):] if marker in previous else marker + "\n"
    out.write_text("\n".join(lines) + "\n" + analysis)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Proof of shape: the aggregation's cost per row as the input grows 1x, 4x, 16x.

Builds data folders of generated parts already split into ``--partitions`` (as the
extractor writes them: bench/aggregate_memory.py's generator) and aggregates each as the
flow does, every task in a fresh process: plan, then per step (pages, links, hosts,
domains) one process per task (a group of partitions, plan.groups), the ranks, the
referrals (one process per task again), then finish. Reports
per stage: seconds per million link rows, bytes read over bytes of input (the process's
``rchar``: every byte read through a system call, the parts' Parquet included, minus
Python's own start-up), the peak RSS (VmHWM) of the largest task, and the task count.

    python3 -m uv run --frozen --extra bench python bench/scale.py \\
        --rows 3200000 --factors 1 4 16 [--partitions 16] [--memory-mb 1024]
    python3 -m uv run --frozen --extra bench python bench/scale.py --overhead-parts 1000

``--s3`` measures bytes as they leave the data location instead: the parts go into a local
S3 server (moto, the ``test`` extra) that counts the bytes of every object it serves, and each
task reads them from there as an S3 data location would. ``rchar`` (the default) also counts
what Polars reads that is not data: /sys/devices/system/cpu/online, read again by each of its
queries, and the Python modules a step imports lazily, so it overstates the bytes a task reads
the more queries it runs; and it misses what Polars reads of a local file through mmap.

``--overhead-parts N`` instead runs ``backlinks run`` over N one-page WARC files with the
local runner (twice: in threads, as it runs inputs of 32 MB or less in all, and on the files
padded past that, in its process pool) and with Dask, and reports what each task costs
(wall time over files); then the same run again (nothing new) and with one file more (the
others reused, as in a run resumed after a failure).
Generated folders are kept in ``--data`` and reused.

    python3 -m uv run --frozen --extra bench --extra test python bench/scale.py --s3 \\
        --rows 400000 --factors 1 4 16

``--plan-parts N [N ...]`` instead measures the plan as the parts grow: one generated part
hard-linked N times, then the plan (seconds, peak, its pickled bytes, the ranges it writes)
and a pages and a links task of a partition with no rows (what a task pays for the plan):

    python3 -m uv run --frozen --extra bench python bench/scale.py --plan-parts 1000 4000 \\
        --partitions 1500 --shape crawl --rows 1000000

``--write-part`` instead writes the rows of one generated part of ``--rows`` link rows
through the extractor's ``PartWriter`` into ``--partitions``, into a local folder and into a
local S3 server, and reports the seconds (flush and commit) and the files written.

``--copies N`` aggregates every generated part N times, each copy under a name of its own (a
location that processed a crawl's files again under new names): every capture but the first
part's is superseded, and the links step drops their links (rows in the table: all copies).

``--shape crawl`` generates parts closer to Common Crawl's (100 links a page, 50 pages a
host, a tenth of the links sitewide) instead of the default ``stress`` shape (about a page
and an eighth of a host a link row), in which the pages, the hosts and the sitewide
candidates are as large as they can be beside the links.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from aggregate_memory import ROWS_PER_PART, SHAPES, build_parts  # noqa: E402

CHILD = """
import pickle, sys, time
from pathlib import Path
def io_read():
    return int(next(l.split()[1] for l in open("/proc/self/io") if l.startswith("rchar")))
before = io_read()
from pipeline.graph import aggregate as agg
from pipeline.storage import open_store
import os
step, data, plan_file, memory_mb = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
ranks = sys.argv[5] == "1"
group = [int(p) for p in sys.argv[6].split(",") if p] if len(sys.argv) > 6 else []
options = agg.GraphOptions(aggregate_memory_mb=memory_mb, harmonic_samples=16, ranks=ranks)
started_io = io_read()
started = time.perf_counter()
if step == "plan":
    plan = agg.plan_aggregation(open_store(data, os.environ.get("SCALE_S3_ENDPOINT", "")),
                                options)
    plan_file.write_bytes(pickle.dumps(plan))
else:
    plan = pickle.loads(plan_file.read_bytes())
    ranked_file = plan_file.with_name("ranked.pickle")
    if step == "ranks":
        ranked_file.write_bytes(pickle.dumps(agg.rank_graph(plan, options)))
    elif step == "referrals":
        agg.write_referrals(plan, group, options)
    elif step == "finish":
        agg.finish_aggregation(plan, options, pickle.loads(ranked_file.read_bytes()))
    elif step == "links":
        agg.reduce_links(plan, group, options)
    elif step == "pages":
        agg.reduce_pages(plan, group, options)
    else:
        {"hosts": agg.reduce_hosts, "domains": agg.reduce_domains}[step](plan, group)
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(f"{time.perf_counter() - started:.3f} {peak / 1024:.0f} {io_read() - started_io}")
"""
STAGES = ("plan", "pages", "links", "hosts", "domains", "ranks", "referrals", "finish")
GROUPED = ("pages", "links", "hosts", "domains", "referrals")  # a task per group of partitions


class CountingS3:
    """A local S3 server (moto) that counts the bytes of the objects it serves (GET bodies;
    listings and HEADs are not data): what tasks read from an S3 data location."""

    BUCKET = "scale"

    def __init__(self) -> None:
        import logging
        import threading

        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        self.served = 0
        lock = threading.Lock()

        def counting(environ: dict, start_response: object) -> object:
            body = app(environ, start_response)
            query = environ.get("QUERY_STRING", "")
            if environ["REQUEST_METHOD"] != "GET" or "list-type" in query or "prefix=" in query:
                return body

            def counted() -> object:
                for chunk in body:
                    with lock:
                        self.served += len(chunk)
                    yield chunk
            return counted()

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self.server = make_server("127.0.0.1", 0, counting, threaded=True)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        os.environ.update(AWS_ACCESS_KEY_ID="scale", AWS_SECRET_ACCESS_KEY="scale",
                          AWS_DEFAULT_REGION="us-east-1", SCALE_S3_ENDPOINT=self.endpoint)
        from pipeline.storage import open_store

        open_store(f"s3://{self.BUCKET}/x", self.endpoint).client.create_bucket(  # type: ignore[attr-defined]
            Bucket=self.BUCKET)

    def upload(self, data: Path) -> str:
        """The parts of a local data folder copied into the bucket (as the S3 store lays them
        out and checks them); the S3 location."""
        import hashlib

        from pipeline.storage import open_store

        location = f"s3://{self.BUCKET}/{data.name}"
        store = open_store(location, self.endpoint)
        for path in sorted((data / "parts").rglob("*")):
            name = path.relative_to(data).as_posix()
            if path.name == "part.json":
                store.write_text(name, path.read_text())
            elif path.is_file():
                store.put_file(path, name, hashlib.sha256(path.read_bytes()).hexdigest())
        return location


def run_step(step: str, data: Path | str, plan_file: Path, memory_mb: int, ranks: bool,
             group: list[int] | None = None,
             s3: CountingS3 | None = None) -> tuple[float, int, int]:
    """(seconds, peak MiB, bytes read) of one task in a fresh process: bytes by ``rchar``,
    or with ``s3`` the bytes the server sent it."""
    arguments = [sys.executable, "-c", CHILD, step, str(data), str(plan_file), str(memory_mb),
                 "1" if ranks else "0"]
    if group is not None:
        arguments.append(",".join(map(str, group)) or ",")
    served = s3.served if s3 else 0
    out = subprocess.run(arguments, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"step {step} of {data} failed (exit {out.returncode}):\n{out.stderr}")
    seconds, peak, read = out.stdout.split()[-3:]
    return float(seconds), int(peak), s3.served - served if s3 else int(read)


def input_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in (data / "parts").rglob("*.partitions"))


def measure(data: Path, memory_mb: int, ranks: bool,
            s3: CountingS3 | None = None) -> dict[str, tuple[float, int, int, int]]:
    """Stage -> (seconds summed over tasks, largest peak MiB, bytes read, tasks)."""

    for leftover in data.glob(".graph-*"):
        shutil.rmtree(leftover)
    plan_file = data / "plan.pickle"
    location = s3.upload(data) if s3 else data
    results: dict[str, tuple[float, int, int, int]] = {}
    seconds, peak, read = run_step("plan", location, plan_file, memory_mb, ranks, s3=s3)
    results["plan"] = (seconds, peak, read, 1)
    plan = pickle.loads(plan_file.read_bytes())
    for stage in STAGES[1:]:
        if stage not in GROUPED:
            seconds, peak, read = run_step(stage, location, plan_file, memory_mb, ranks, s3=s3)
            results[stage] = (seconds, peak, read, 1)
            continue
        total_s, top, total_read = 0.0, 0, 0
        groups = plan.groups(stage)
        # what a task reads that is not data (modules Python and Polars load on first use):
        # a task of no partition, subtracted from each task
        _, _, fixed = run_step(stage, location, plan_file, memory_mb, ranks, [], s3=s3)
        for group in groups:
            seconds, peak, read = run_step(stage, location, plan_file, memory_mb, ranks, group,
                                           s3=s3)
            total_s, top = total_s + seconds, max(top, peak)
            total_read += max(0, read - fixed)
        results[stage] = (total_s, top, total_read, len(groups))
    return results


def copy_parts(source: Path, target: Path, copies: int, link: bool = False) -> None:
    """``target`` holds every part of ``source`` ``copies`` times, each copy a part of its own
    (its key and input named ``copyN-...``), unless it already holds these copies; with
    ``link``, each copy's files hard links to the source's (no disk but part.json)."""
    import json

    def described(folder: Path) -> object:  # a part's files as part.json lists them
        return json.loads((folder / "part.json").read_text())["files"]

    parts = sorted(p.parent for p in (source / "parts").glob("*/part.json"))
    copied = {f"copy{n:05d}-{part.name}": part for n in range(copies) for part in parts}
    held = {p.parent.name for p in (target / "parts").glob("*/part.json")}
    if held == set(copied) and all(described(target / "parts" / name) == described(part)
                                   for name, part in copied.items()):
        return
    shutil.rmtree(target, ignore_errors=True)
    for name, part in copied.items():
        copy = target / "parts" / name
        shutil.copytree(part, copy, copy_function=os.link if link else shutil.copy2)
        info = json.loads((copy / "part.json").read_text())
        info["key"], info["input"] = name, f"{name.split('-')[0]}-{info['input']}"
        (copy / "part.json").unlink()  # (a hard link to the source's, with ``link``)
        (copy / "part.json").write_text(json.dumps(info))


def plan_parts(args: argparse.Namespace) -> None:
    """The plan and what a task pays for it as the parts grow: one generated part of
    ``--rows`` link rows (at most a part's) in ``--partitions``, hard-linked N times under
    names of their own; per N, in fresh processes, the plan (seconds, peak MiB, the plan's
    pickled bytes as it goes to every task, and the bytes of the parts' ranges it writes for
    the tasks) and a pages and a links task of a partition with no rows (seconds, peak MiB:
    all of it the plan's cost and the task's fixed one). Then what a run with nothing new
    reads of the parts, in this process: the check that the graph is current (one listing
    and its digest), and the lookup of every input's part from the graph's records (one
    listing, the records as the plan wrote them) and from each part.json."""
    import json

    shape = "" if args.shape == "stress" else f"-{args.shape}"
    rows = min(args.rows, ROWS_PER_PART)
    base = args.data / f"scale-{rows}-p{args.partitions}{shape}"
    build_parts(base, rows, args.partitions, shape=args.shape)
    first = sorted((base / "parts").glob("*/part.json"))[0]
    held = {entry[0] for described in json.loads(first.read_text())["files"].values()
            for entry in described["partitions"]}
    empty = next((p for p in range(args.partitions) if p not in held), None)
    if empty is None:
        raise SystemExit(f"every partition of {args.partitions} has rows: use fewer --rows")
    print(f"one {args.shape} part of {rows:,} link rows in {args.partitions} partitions "
          f"({len(held)} with rows), hard-linked N times; the tasks of partition {empty} "
          "(no rows)")
    print("| parts | plan s · MiB | plan pickled | ranges written | pages task s · MiB "
          "| links task s · MiB | nothing-new check s | lookups s: records · part.json |")
    print("|---:|---|---:|---:|---|---|---:|---|")
    for parts in args.plan_parts:
        data = args.data / f"plan-{parts}-{rows}-p{args.partitions}{shape}"
        copy_parts(base, data, parts, link=True)
        for leftover in data.glob(".graph-*"):
            shutil.rmtree(leftover)
        plan_file = data / "plan.pickle"
        seconds, peak, _ = run_step("plan", data, plan_file, args.memory_mb, False)
        ranges = sum(path.stat().st_size for folder in data.glob(".graph-*/work/*_ranges")
                     for path in folder.iterdir())
        cells = [f"{seconds:.2f} · {peak}", f"{plan_file.stat().st_size / 1e6:,.2f} MB",
                 f"{ranges:,} B"]
        for step in ("pages", "links"):
            seconds, peak, _ = run_step(step, data, plan_file, args.memory_mb, False, [empty])
            cells.append(f"{seconds:.2f} · {peak}")
        records = [json.loads(line) for path in sorted(data.glob(".graph-*/work/parts-*.jsonl"))
                   for line in path.read_text().splitlines()]  # (a file a slice of the plan)
        cells += _nothing_new_reads(data, records, args.partitions)
        for leftover in data.glob(".graph-*"):
            shutil.rmtree(leftover)
        print(f"| {parts:,} | " + " | ".join(cells) + " |", flush=True)


def _nothing_new_reads(data: Path, records: list[dict[str, Any]], partitions: int) -> list[str]:
    """The seconds of a run's check that nothing is new, and of its lookups of every part
    from the graph's ``records`` and from the part.json files, one after another (a run
    makes them 16 side by side: about the same here, where they are CPU)."""
    from pipeline.parts.part import complete_part, listed_parts, parts_digest, recorded_info
    from pipeline.storage import LocalData

    store = LocalData(data)
    started = time.perf_counter()
    parts_digest(listed_parts(store))
    check = time.perf_counter() - started
    started = time.perf_counter()
    listed = listed_parts(store)
    found = sum(recorded_info(record, listed.get(record["key"]), record["size"],
                              record["version"], partitions) is not None for record in records)
    from_records = time.perf_counter() - started
    started = time.perf_counter()  # (each part dropped once looked up, as a run does)
    read = sum(complete_part(store, record["key"], record["size"], record["version"],
                             partitions) is not None for record in records)
    from_part_json = time.perf_counter() - started
    if found != len(records) or read != len(records):
        raise SystemExit("a part was not found complete by its lookup")
    return [f"{check:.2f}", f"{from_records:.2f} · {from_part_json:.2f}"]


def scale(args: argparse.Namespace) -> None:
    s3 = CountingS3() if args.s3 else None
    print(f"{args.shape} shape, partitions {args.partitions}, aggregate_memory_mb "
          f"{args.memory_mb}, ranks "
          f"{'on' if args.ranks else 'off (issue 16: in one process)'}, bytes read "
          f"{'from a local S3 server' if s3 else 'by rchar'}; "
          "per stage: s per M link rows | bytes read / input bytes | largest task MiB | tasks")
    print("| link rows | input MiB | " + " | ".join(STAGES) + " |")
    print("|---:|---:|" + "---|" * len(STAGES))
    for factor in args.factors:
        rows = args.rows * factor
        shape = "" if args.shape == "stress" else f"-{args.shape}"
        data = args.data / f"scale-{rows}-p{args.partitions}{shape}"
        build_parts(data, rows, args.partitions, shape=args.shape)
        if args.copies > 1:
            copied = data.with_name(f"{data.name}-copies{args.copies}")
            copy_parts(data, copied, args.copies)
            data, rows = copied, rows * args.copies
        size = input_bytes(data)
        results = measure(data, args.memory_mb, args.ranks, s3)
        cells = [f"{s / rows * 1e6:.2f} s | {read / size:.2f} | {peak} | {tasks}"
                 for s, peak, read, tasks in (results[stage] for stage in STAGES)]
        print(f"| {rows:,} | {size / 2**20:,.1f} | " + " | ".join(
            cell.replace(" | ", " · ") for cell in cells) + " |", flush=True)


def write_part(args: argparse.Namespace) -> None:
    """One generated part's rows written again by PartWriter in batches of 2,000 pages (as
    extraction hands them over), into --partitions: seconds and files, locally and in S3."""
    import polars as pl

    from pipeline.parts.part import PartWriter, complete_parts, read_part_table
    from pipeline.storage import open_store

    shape = "" if args.shape == "stress" else f"-{args.shape}"
    rows = min(args.rows, ROWS_PER_PART)  # one part's worth
    source = args.data / f"scale-{rows}-p1{shape}"
    build_parts(source, rows, 1, shape=args.shape)
    store = open_store(source)
    info = complete_parts(store)[0][1]
    pages = read_part_table(store, info, "pages").sort("url").with_row_index("at")
    links = read_part_table(store, info, "links").join(
        pages.select(pl.col("url").alias("src_url"), (pl.col("at") // 2000).alias("batch")),
        on="src_url")
    batches = [(pages.filter(pl.col("at") // 2000 == batch).drop("at"),
                links.filter(pl.col("batch") == batch).drop("batch"))
               for batch in range(pages.height // 2000 + 1)]
    s3 = CountingS3()
    print(f"{info.links:,} link rows of one {args.shape} part, {args.partitions} partitions; "
          "PartWriter flush and commit")
    print("| where | seconds | files |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for where, location in (("local", folder), ("s3", f"s3://{s3.BUCKET}/write")):
            target = open_store(location, s3.endpoint if where == "s3" else "")
            started = time.perf_counter()
            with PartWriter(target, "written", partitions=args.partitions) as writer:
                for batch_pages, batch_links in batches:
                    writer.add_frames(batch_pages, batch_links)
                written = writer.commit({"input": "x", "size": 1, "version": "1",
                                         "crawl": "c", "records": 1, "counters": {},
                                         "seconds": 0.0})
            seconds = time.perf_counter() - started
            assert written.links == info.links
            print(f"| {where} | {seconds:.2f} | {len(written.files) + 1} |", flush=True)


def tiny_warc(path: Path, number: int, padding: int = 0) -> None:
    """One gzip member, one HTML response linking to another host; with ``padding``, that
    many bytes more in an HTML comment, stored uncompressed (the file that much larger)."""
    body = (f"<html><body><a href='https://target{number % 97}.example/'>t</a>"
            f"{'<!--' + 'x' * padding + '-->' if padding else ''}</body></html>").encode()
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)
    record = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
              f"WARC-Record-ID: <urn:uuid:00000000-0000-4000-8000-{number:012d}>\r\n"
              f"WARC-Target-URI: https://site{number}.example/\r\n"
              "Content-Type: application/http; msgtype=response\r\n"
              f"Content-Length: {len(http)}\r\n\r\n").encode() + http + b"\r\n\r\n"
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=0 if padding else 9) as member:
        member.write(record)
    path.write_bytes(buffer.getvalue())


def overhead(args: argparse.Namespace) -> None:
    """``backlinks run`` over N one-page files on each runner. Inputs of SMALL_RUN_BYTES or
    less in all run their tasks in threads of the flow's process (flows/build.py), so the
    local runner is measured twice: on the tiny files (threads), and on the same files
    padded to more than that in all (its process pool, as for real inputs). Then, on the
    same data folder, the run again (nothing new: the local runner finds it before any
    Prefect server, Dask in its flow) and the run with one file more (the N others reused:
    a run resumed after a failure)."""
    from flows.build import SMALL_RUN_BYTES

    count = args.overhead_parts
    padding = SMALL_RUN_BYTES // count + 1
    folders = {"tiny": args.data / f"tiny-{count}",
               "padded": args.data / f"tiny-{count}-padded-{padding}"}
    for kind, folder in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(count):
            target = folder / f"tiny-{number:05d}.warc.gz"
            if not target.exists():
                tiny_warc(target, number, padding if kind == "padded" else 0)
    print(f"{count} one-page WARC files; wall seconds of `backlinks run` and per file "
          f"(padded: {padding:,} bytes more a file, so that the local runner uses processes); "
          "then the same run again, and with one file more")
    print("| runner | wall s | s per file | again (nothing new) s | one file more s |")
    print("|---|---:|---:|---:|---:|")
    for label, runner, folder in (("local (threads)", "local", folders["tiny"]),
                                  ("local (processes)", "local", folders["padded"]),
                                  ("dask", "dask", folders["tiny"])):
        with tempfile.TemporaryDirectory() as tmp:
            one_more = Path(tmp) / "one-more.warc.gz"
            tiny_warc(one_more, count, padding if folder == folders["padded"] else 0)
            walls = [_timed_run(label, [folder, *more], Path(tmp) / "data", runner)
                     for more in ([], [], [one_more])]
        print(f"| {label} | {walls[0]:.1f} | {walls[0] / count:.3f} | {walls[1]:.1f} "
              f"| {walls[2]:.1f} |", flush=True)


def _timed_run(label: str, inputs: list[Path], data: Path, runner: str) -> float:
    """The wall seconds of ``backlinks run`` over ``inputs`` into ``data``."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", *(f"--input={path}" for path in inputs),
         "--data", str(data), "--runner", runner, "--workers", "2"],
        capture_output=True, text=True, env={**os.environ},
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{label} run failed:\n{done.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_200_000, help="link rows at 1x")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--ranks", action="store_true",
                        help="rank the graph (the ranks stage: in one process, not linear)")
    parser.add_argument("--write-part", action="store_true",
                        help="instead: the seconds and files of writing one part (local, S3)")
    parser.add_argument("--overhead-parts", type=int, default=0,
                        help="instead: per-task cost over this many one-page files")
    parser.add_argument("--plan-parts", type=int, nargs="+", default=[],
                        help="instead: the plan and a task's cost of it over this many "
                        "hard-linked copies of one part (several counts: one row each)")
    parser.add_argument("--shape", choices=SHAPES, default="stress",
                        help="the generated parts' shape: stress (about a page and 1/8 of a "
                        "host a link row; the default) or crawl (100 links a page, 50 pages a "
                        "host, footer links: closer to Common Crawl); see aggregate_memory.py")
    parser.add_argument("--copies", type=int, default=1,
                        help="aggregate every part this many times under other names (all "
                        "captures but one superseded)")
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--s3", action="store_true",
                        help="read the parts from a local S3 server that counts the bytes")
    args = parser.parse_args()
    if args.write_part:
        write_part(args)
    elif args.overhead_parts:
        overhead(args)
    elif args.plan_parts:
        plan_parts(args)
    else:
        scale(args)


if __name__ == "__main__":
    main()

"""Peak memory of aggregation against input size: reducing a partition (in sub-buckets of
target domains) stays within the aggregate_memory_mb setting however large the input.

Builds data folders of generated parts in one partition (link rows as the extractor writes
them: power-law targets, several links per page) and aggregates each as the flow does,
every step in a fresh process: plan, pages, links (the sub-buckets of the partition, one
after the other), hosts, domains, finish (crawls, ranks), and the finish step again on a
copy without ranks (``ranks = false``). Reports the peak RSS (VmHWM) of each step.

    python3 -m uv run --frozen --extra bench python bench/aggregate_memory.py \\
        --memory-mb 512 --rows 2000000 8000000 [--buckets N] [--one-source ROWS] \\
        [--data bench/data]

The generated data folders (``aggregate-<rows>``) are kept in ``--data`` and reused.
"""

from __future__ import annotations

import argparse
import json
import pickle
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data"
ROWS_PER_PART = 1_000_000

CHILD = """
import pickle, sys, time
from pathlib import Path
from pipeline.graph.aggregate import (GraphOptions, finish_aggregation, plan_aggregation,
    rank_graph, reduce_domains, reduce_hosts, reduce_links, reduce_pages, write_referrals)
from pipeline.storage import LocalData
step, data, plan_file, memory_mb, buckets, ranks = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
options = GraphOptions(aggregate_memory_mb=memory_mb, aggregate_buckets=buckets, harmonic_samples=16, ranks=ranks)
started = time.perf_counter()
if step == "plan":
    plan = plan_aggregation(LocalData(data), options)
    plan_file.write_bytes(pickle.dumps(plan))
elif step == "finish":  # the ranks, the referrals and the finish step
    plan = pickle.loads(plan_file.read_bytes())
    ranked = rank_graph(plan, options)
    write_referrals(plan, range(plan.partitions), options)
    finish_aggregation(plan, options, ranked)
elif step == "links":
    print(reduce_links(pickle.loads(plan_file.read_bytes()), [0], options))
else:
    plan = pickle.loads(plan_file.read_bytes())
    if step == "pages":
        reduce_pages(plan, [0], options)
    else:
        {"hosts": reduce_hosts, "domains": reduce_domains}[step](plan, [0])
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(f"{time.perf_counter() - started:.2f} {peak / 1024:.0f}")
"""


def build_parts(data: Path, rows: int, partitions: int = 1, one_source: int = 0,
                shape: str = "stress") -> None:
    """``rows`` link rows in parts of a million, as complete parts (part.json, checksums),
    split into ``partitions`` as the extractor splits them (pipeline/partitions.py); with
    ``one_source``, the first part also holds that many links of one source domain into
    one target domain (5 a page, from two hosts: a site's footer links to its foundation).

    ``shape`` (SHAPES): ``stress``, the default, gives every link row a source host drawn
    at random, so almost every row is a page of its own and a host has about 8 (the
    pages, the hosts and the sitewide candidates as large as they can be beside the
    links); ``crawl`` is closer to a Common Crawl WARC file: 100 links a page, 50 pages a
    source host, a tenth of each page's links going to ten targets of its host (a footer:
    sitewide), three tenths to 100 popular hosts, the rest to 60 hosts near the source;
    27 bytes a link row in the parts and 30 link rows a host edge (Common Crawl: 32-50
    bytes, docs/scale.md; about 38 link rows a host edge, from its host graph's 9.5
    billion edges)."""
    if shape not in SHAPES:
        raise SystemExit(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
    from pipeline.parts.part import PART_FORMAT, TABLES_FILES, PartInfo, join_partition_files

    written = sorted((data / "parts").glob("*/part.json"))
    if written and all(json.loads(f.read_text()).get("format") == PART_FORMAT
                       and json.loads(f.read_text()).get("partitions") == partitions
                       for f in written):
        return  # parts of this version, from an earlier run
    shutil.rmtree(data, ignore_errors=True)
    con = duckdb.connect()
    con.execute("select setseed(0.17)")
    for number in range((rows + ROWS_PER_PART - 1) // ROWS_PER_PART):
        count = min(ROWS_PER_PART, rows - number * ROWS_PER_PART)
        folder = data / "parts" / f"gen-{number:04d}"
        folder.mkdir(parents=True)
        con.execute(f"""
            create or replace temp table l as
            with {_pairs(shape, rows, number, count)}
            select 'CC-MAIN-2099-01' as crawl,
                   'https://h' || src || '.d' || (src // 4) || '.com/p' || page as src_url,
                   'h' || src || '.d' || (src // 4) || '.com' as src_host,
                   'd' || (src // 4) || '.com' as src_domain,
                   'https://h' || dst || '.d' || (dst // 4) || '.com/' || path as dst_url,
                   'h' || dst || '.d' || (dst // 4) || '.com' as dst_host,
                   'd' || (dst // 4) || '.com' as dst_domain,
                   'anchor text ' || anchor as anchor, 'a' as link_type,
                   case when footer then 'footer' else ['body', 'nav', 'footer'][k % 3 + 1] end
                       as context,
                   k % 10 = 0 as nofollow, k % 50 = 0 as ugc, k % 70 = 0 as sponsored,
                   (src // 4) <> (dst // 4) as external,
                   timestamptz '2099-01-01 00:00:00+00' as fetch_time
            from pairs where src <> dst
            {_one_source_rows(one_source) if number == 0 else ""}
        """)
        con.execute("""create or replace temp table pg as
            select any_value(crawl) as crawl, src_url as url, any_value(src_host) as host,
                   any_value(src_domain) as domain, any_value(fetch_time) as fetch_time,
                   200::smallint as status, 0::integer as links_internal,
                   count(*)::integer as links_external, false as robots_nofollow,
                   false as truncated
            from l group by src_url""")
        files: dict[str, dict[str, object]] = {}
        link_rows = page_rows = 0
        for table, key in (("l", "dst_domain"), ("pg", "host")):
            kind = "links" if table == "l" else "pages"
            encoded: list[tuple[int, Path, int]] = []
            for partition in range(partitions):
                path = folder / f".{kind}-p{partition:04d}.parquet"
                where = (f"where (('0x' || md5({key})[1:8])::ubigint % {partitions}) = {partition}"
                         if partitions > 1 else "")
                con.execute(f"copy (select * from {table} {where}) to '{path}' "
                            "(format parquet, compression zstd)")
                n = con.execute(f"select count(*) from '{path}'").fetchone()[0]
                if n == 0:
                    path.unlink()
                    continue
                encoded.append((partition, path, n))
            if encoded:
                files[TABLES_FILES[kind]] = join_partition_files(folder / TABLES_FILES[kind],
                                                                 encoded)
            if kind == "links":
                link_rows = sum(n for *_, n in encoded)
            else:
                page_rows = sum(n for *_, n in encoded)
        info = PartInfo(input=f"generated-{number}", key=folder.name, size=1, version="1",
                        crawl="CC-MAIN-2099-01", pages=page_rows, links=link_rows,
                        records=page_rows, counters={}, seconds=0.0, files=files,
                        partitions=partitions)
        (folder / "part.json").write_text(json.dumps(asdict(info)))


SHAPES = ("stress", "crawl")


def _pairs(shape: str, rows: int, number: int, count: int) -> str:
    """SQL for the CTE ``pairs``: one row per link of part ``number`` (``count`` of the
    input's ``rows``): source host ``src``, target host ``dst``, the link's number ``k``,
    its source ``page``, whether it is a ``footer`` link, its target URL's ``path`` and
    its ``anchor`` number (see ``build_parts``)."""
    first = number * ROWS_PER_PART
    if shape == "stress":
        hosts = max(1000, rows // 8)
        return f"""pairs as (
                select (random() * {hosts})::bigint as src,
                       floor({hosts} * pow(random(), 3))::bigint as dst,
                       {first} + row_number() over () as k, k // 6 as page, false as footer,
                       't' || (k % 13) as path, k % 997 as anchor
                from range({count})
            )"""
    sources = max(20, rows // 5000)  # 50 pages of 100 links a host
    targets = max(1000, rows // 100)
    return f"""numbered as (
                select {first} + row_number() over () as k, k // 100 as page,
                       (page * 2654435761) % {sources} as src, k % 100 < 10 as footer
                from range({count})
            ),
            targeted as (
                select src, k, page, footer,
                       case when footer then (src * 7919 + k % 10) % {targets}
                            when k % 100 < 40 then floor(100 * pow(random(), 2))::bigint
                            else (src * 31337 + floor(60 * pow(random(), 2))::bigint)
                                 % {targets} end as dst
                from numbered
            ),
            pairs as (
                select src, dst, k, page, footer,
                       'a/' || md5(k::varchar) as path,
                       (dst * 13 + k % 7) % 5003 as anchor
                from targeted
            )"""


def _one_source_rows(rows: int) -> str:
    """SQL for ``rows`` link rows (in the columns above) of one source domain, big.com,
    into one target domain, target.org."""
    if not rows:
        return ""
    return f"""
        union all
        select 'CC-MAIN-2099-01',
               'https://' || host || '/p' || (k // 5), host, 'big.com',
               'https://' || target || '/about/' || (k % 5), target, 'target.org',
               ['Privacy', 'About us', 'Terms', 'Donate', 'Contact'][k % 5 + 1], 'a',
               'footer', k % 5 = 4, false, false, true,
               timestamptz '2099-01-01 00:00:00+00'
        from (select k, case when k % 35 < 5 then 'blog.big.com' else 'www.big.com' end
                        as host,
                     case when k % 5 < 2 then 'www.target.org' else 'foundation.target.org'
                     end as target
              from range({rows}) t(k))
    """


def step(
    name: str, data: Path, plan_file: Path, memory_mb: int, buckets: int, ranks: bool = True
) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, name, str(data), str(plan_file), str(memory_mb),
         str(buckets), "1" if ranks else "0"],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"step {name} of {data} failed (exit {out.returncode}):\n{out.stderr}")
    seconds, peak = out.stdout.split()[-2:]
    return float(seconds), int(peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory-mb", type=int, default=512)
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000, 8_000_000])
    parser.add_argument("--buckets", type=int, default=0, help="0: from --memory-mb")
    parser.add_argument("--one-source", type=int, default=0, metavar="ROWS",
                        help="add ROWS links of one source domain into one target domain")
    parser.add_argument("--data", type=Path, default=DATA,
                        help="where the generated data folders are kept")
    args = parser.parse_args()
    print(f"aggregate_memory_mb {args.memory_mb}, buckets {args.buckets or 'automatic'}")
    print("| link rows | link Parquet | sub-buckets | plan s / peak | steps s (sum) / max peak | "
          "finish s / peak | finish without ranks s / peak |")
    print("|---:|---:|---:|---|---|---|---|")
    for rows in args.rows:
        data = args.data / (f"aggregate-{rows}" + (f"-one-{args.one_source}"
                                                   if args.one_source else ""))
        build_parts(data, rows, one_source=args.one_source)
        plan_file = data / "plan.pickle"
        plan_s, plan_peak = step("plan", data, plan_file, args.memory_mb, args.buckets)
        plan = pickle.loads(plan_file.read_bytes())
        bucket_s, bucket_peak = 0.0, 0
        for name in ("pages", "links", "hosts", "domains"):
            seconds, peak = step(name, data, plan_file, args.memory_mb, args.buckets)
            bucket_s, bucket_peak = bucket_s + seconds, max(bucket_peak, peak)
        from pipeline.graph.aggregate import sub_bucket_count
        buckets = args.buckets or sub_bucket_count(plan.link_rows.get(0, 0), args.memory_mb)
        # the same buckets finished twice, with and without ranks: a copy of the plan's folder
        copy = replace(plan, folder=plan.folder + "-copy")
        shutil.copytree(data / plan.folder, data / copy.folder)
        copy_file = data / "plan-copy.pickle"
        copy_file.write_bytes(pickle.dumps(copy))
        plain_s, plain_peak = step("finish", data, copy_file, args.memory_mb, args.buckets,
                                   ranks=False)
        finish_s, finish_peak = step("finish", data, plan_file, args.memory_mb, args.buckets)
        print(f"| {rows:,} | {sum(plan.link_bytes.values()) / 2**20:,.1f} MiB | {buckets} | "
              f"{plan_s:.1f} / {plan_peak} MiB | {bucket_s:.1f} / {bucket_peak} MiB | "
              f"{finish_s:.1f} / {finish_peak} MiB | {plain_s:.1f} / {plain_peak} MiB |",
              flush=True)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - started:.0f} s")

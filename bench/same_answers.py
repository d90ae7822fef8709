"""Same answers: build the graph of fixed scenarios and print a digest of every table.

    uv run python bench/same_answers.py --out digests.json [--corpora DIR] [-- EXTRA FLAGS]

Scenarios: the bundled sample; three generated crawls (``bench/generate.py`` seeds 1-3,
crawls CC-MAIN-2099-01..03) added one run at a time, digested after the second and the
third; the first generated crawl with a copy of its file under another name (every capture
held by two parts: one of each superseded); the genuine WAT samples and the generated WATs through ``--format wat``. Run it on
two checkouts (PYTHONPATH=<other checkout>) and compare the JSON files: a redesign that
keeps every table identical prints the same digests. Extra flags after ``--`` go to every
``backlinks run`` (for example ``--runner dask``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from digest import table_digests  # noqa: E402
from generate import write_files  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
WAT_SAMPLES = sorted(str(p) for p in (REPO / "tests" / "data" / "cc").rglob("*.wat*"))


def run(data: Path, args: list[str], extra: list[str]) -> None:
    command = [sys.executable, "-m", "flows.cli", "run", "--data", str(data),
               *args, *extra]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode not in (0,):
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}"
                         f"\n{done.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--corpora", type=Path, default=REPO / "bench" / "data" / "same")
    parser.add_argument("--mb", type=int, default=40)
    parser.add_argument("--skip", action="append", default=[],
                        help="a column to leave out of the digests (one a change adds)")
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    skip = tuple(args.skip)
    crawls = []
    for seed in (1, 2, 3):
        warc = args.corpora / f"gen-{seed}-{args.mb}mb.warc.gz"
        if not warc.exists():
            write_files(args.corpora, args.mb, seed, f"CC-MAIN-2099-0{seed}")
        crawls.append(warc)
    results: dict[str, dict[str, tuple[int, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run(root / "sample", [], args.extra)
        results["sample"] = table_digests(root / "sample" / "graph.duckdb", skip=skip)
        for number, warc in enumerate(crawls, start=1):
            run(root / "gen", ["--input", str(warc)], args.extra)
            if number >= 2:
                results[f"generated-{number}-crawls"] = table_digests(root / "gen" / "graph.duckdb", skip=skip)
        copy = root / "copy" / f"again-{crawls[0].name}"
        copy.parent.mkdir()
        shutil.copyfile(crawls[0], copy)
        run(root / "again", ["--input", str(crawls[0]), "--input", str(copy)], args.extra)
        results["generated-copied"] = table_digests(root / "again" / "graph.duckdb", skip=skip)
        wat_inputs = [a for w in WAT_SAMPLES for a in ("--input", w)]
        run(root / "wat-sample", ["--format", "wat", *wat_inputs], args.extra)
        results["wat-sample"] = table_digests(root / "wat-sample" / "graph.duckdb", skip=skip)
        for warc in crawls[:2]:
            wat = str(warc).replace(".warc.gz", ".warc.wat.gz")
            run(root / "wat-gen", ["--format", "wat", "--input", wat], args.extra)
        results["wat-generated-2-crawls"] = table_digests(root / "wat-gen" / "graph.duckdb", skip=skip)
        shutil.rmtree(root, ignore_errors=True)
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True))
    for scenario, tables in results.items():
        for table, (rows, digest) in tables.items():
            print(f"{scenario:<24} {table:<14} {rows:>9,}  {digest}")


if __name__ == "__main__":
    main()

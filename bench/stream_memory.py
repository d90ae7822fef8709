"""Peak memory of processing one file streamed over HTTP, against the file's size.

Builds a WARC of about SIZE_MB by repeating the bundled resiliparse sample (genuine Common
Crawl records, one gzip member each), serves it from a local HTTP server with Range support
that cuts the connection every few megabytes, and runs ``process_input`` on its URL in a
fresh process per size. Prints file size, peak RSS and the retries, one row per size.

    uv run --extra test python bench/stream_memory.py 20 200 800
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from http_server import FaultPlan, RangeFileServer  # noqa: E402

from pipeline.bundled import sample_dir  # noqa: E402

CHILD = """
import json, sys
from dataclasses import replace
from pipeline.config import Settings
from pipeline.parts.process import process_input
from pipeline.read.sources import InputFile
settings = replace(Settings.defaults(), data_dir=sys.argv[2], retry_initial_seconds=0.01)
result = process_input(InputFile(sys.argv[1]), settings)
# VmHWM, not ru_maxrss: ru_maxrss survives exec, so it could be the parent's peak
peak_kib = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"pages": result.pages, "links": result.links, "seconds": result.seconds,
                  "peak_mib": peak_kib / 1024,
                  "retries": {k: v for k, v in result.counters.items() if k.startswith("retries_")}}))
"""


def build(path: Path, size_mb: int) -> int:
    unit = (sample_dir() / "resiliparse" / "warcfile.warc.gz").read_bytes()
    copies = max(1, size_mb * 1024 * 1024 // len(unit))
    with open(path, "wb") as out:
        for _ in range(copies):
            out.write(unit)
    return path.stat().st_size


def main(sizes: list[int]) -> None:
    print(f"{'file MB':>8} {'pages':>8} {'links':>9} {'seconds':>8} {'peak RSS MiB':>13}  retries")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for size_mb in sizes:
            name = f"big-{size_mb}.warc.gz"
            size = build(root / name, size_mb)
            plan = FaultPlan(drop_after=[4 << 20] * (size // (8 << 20)))
            with RangeFileServer(root, plan) as server:
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, server.base_url + name, str(root / f"data-{size_mb}")],
                    capture_output=True, text=True,
                )
            if out.returncode != 0:
                raise SystemExit(f"processing {name} failed (exit {out.returncode}):\n"
                                 f"{out.stderr}")
            row = json.loads(out.stdout)
            print(f"{size / 1e6:8.1f} {row['pages']:8,} {row['links']:9,} {row['seconds']:8.1f} "
                  f"{row['peak_mib']:13.0f}  {row['retries']}")
            (root / name).unlink()


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [20, 200])

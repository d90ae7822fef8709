"""A copy of the bundled samples in Common Crawl's storage layout, for local servers to serve.

    <root>/collinfo.json
    <root>/crawl-data/CC-MAIN-2024-22/warc.paths.gz
    <root>/crawl-data/CC-MAIN-2024-22/wat.paths.gz
    <root>/crawl-data/CC-MAIN-2024-22/segments/1715971057000.0/warc/<sample WARC files>
    <root>/crawl-data/CC-MAIN-2024-22/segments/1715971057000.0/wat/<sample WAT files>

The crawl id in the path is only the fallback: pages keep the crawl their warcinfo names.
"""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.bundled import sample_dir, sample_files

CRAWL = "CC-MAIN-2024-22"
SEGMENT = "1715971057000.0"
# collinfo.json as index.commoncrawl.org serves it (fields trimmed to what is read).
COLLINFO = [
    {"id": "CC-MAIN-2024-18", "name": "April 2024 Index",
     "from": "2024-04-12T00:00:00", "to": "2024-04-25T00:00:00"},
    {"id": "CC-MAIN-2024-22", "name": "May 2024 Index",
     "from": "2024-05-17T00:00:00", "to": "2024-05-30T00:00:00"},
    {"id": "CC-MAIN-2016-50", "name": "December 2016 Index",
     "from": "2016-12-02T00:00:00", "to": "2016-12-11T00:00:00"},
]


def sample_wat_files() -> list[Path]:
    """The WAT samples that describe a WARC sample (sparkwarc, warc-js, whirlwind)."""
    return sorted(p for p in sample_dir().rglob("*") if p.name.endswith((".wat", ".wat.gz")))


@dataclass(frozen=True)
class Mirror:
    root: Path
    crawl: str
    warc_paths: list[str]  # relative to root, as in warc.paths.gz
    wat_paths: list[str]

    def local(self, path: str) -> Path:
        return self.root / path


def _copy(files: list[Path], root: Path, folder: str) -> list[str]:
    paths = []
    for source in files:
        # Prefix the sample's folder: two samples could share a file name.
        relative = f"crawl-data/{CRAWL}/segments/{SEGMENT}/{folder}/{source.parent.name}-{source.name}"
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        paths.append(relative)
    return paths


def build_mirror(root: Path) -> Mirror:
    warc_paths = _copy(sample_files(), root, "warc")
    wat_paths = _copy(sample_wat_files(), root, "wat")
    crawl_dir = root / "crawl-data" / CRAWL
    for name, paths in (("warc", warc_paths), ("wat", wat_paths)):
        (crawl_dir / f"{name}.paths.gz").write_bytes(
            gzip.compress(("\n".join(paths) + "\n").encode())
        )
    (root / "collinfo.json").write_text(json.dumps(COLLINFO))
    return Mirror(root, CRAWL, warc_paths, wat_paths)


def upload(mirror: Mirror, client: object, bucket: str) -> None:
    """Put every file of the mirror into ``bucket`` under the same keys (boto3 client)."""
    for path in sorted(mirror.root.rglob("*")):
        if path.is_file():
            key = path.relative_to(mirror.root).as_posix()
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())  # type: ignore[attr-defined]

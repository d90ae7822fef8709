"""Parts: the output of one input file, written atomically, with its counters.

A part is a folder ``<data_dir>/parts/<input key>/`` holding ``pages-NNNNN.parquet`` and
``links-NNNNN.parquet`` batches and ``part.json`` (input, fingerprint, counters, row counts). It is built
under a temporary name and renamed into place in one step, so a folder with the final name is
always complete; a killed run leaves at most a ``.tmp-*`` folder, which is never read and is
swept away by the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.errors import PartError

# 2: inputs versioned by a string (mtime or ETag); 3: file checksums; 4: link context
PART_FORMAT = 4
DEFAULT_BATCH_ROWS = 100_000  # link rows held in memory before a flush (about 80 MB)
_TIME: pl.DataType = pl.Datetime("us", "UTC")

PAGES_SCHEMA = pl.Schema(
    {
        "crawl": pl.String(), "url": pl.String(), "host": pl.String(), "domain": pl.String(),
        "fetch_time": _TIME, "status": pl.Int16(), "links_internal": pl.Int32(),
        "links_external": pl.Int32(), "robots_nofollow": pl.Boolean(), "truncated": pl.Boolean(),
    }
)
LINKS_SCHEMA = pl.Schema(
    {
        "crawl": pl.String(), "src_url": pl.String(), "src_host": pl.String(),
        "src_domain": pl.String(), "dst_url": pl.String(), "dst_host": pl.String(),
        "dst_domain": pl.String(), "anchor": pl.String(), "link_type": pl.String(),
        "context": pl.String(), "nofollow": pl.Boolean(), "ugc": pl.Boolean(),
        "sponsored": pl.Boolean(),
        "external": pl.Boolean(), "fetch_time": _TIME,
    }
)
# A row of each, in schema order (pages.py builds them; tuples are cheap per link).
PageRow = tuple[str, str, str, str, datetime, int, int, int, bool, bool]
LinkRow = tuple[
    str, str, str, str, str, str, str, str, str, str, bool, bool, bool, bool, datetime
]


@dataclass(frozen=True)
class PartInfo:
    """What ``part.json`` records about one part."""

    input: str
    key: str
    size: int
    version: str
    crawl: str
    pages: int
    links: int
    records: int
    counters: dict[str, int]
    seconds: float
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> bytes, sha256
    damage: list[str] = field(default_factory=list)  # the first damaged stretches of the input
    format: int = PART_FORMAT


def parts_root(data_dir: Path) -> Path:
    return data_dir / "parts"


def part_path(data_dir: Path, key: str) -> Path:
    return parts_root(data_dir) / key


def read_part_info(folder: Path) -> PartInfo:
    try:
        data = json.loads((folder / "part.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise PartError(
            f"part {str(folder)!r} is unreadable ({exc}); delete the folder and run again"
        ) from exc
    if data.get("format", 1) != PART_FORMAT:
        raise PartError(
            f"part {str(folder)!r} was written by an older cc-backlinks (part format "
            f"{data.get('format', 1)}, this version reads {PART_FORMAT}); delete the folder "
            "and run again"
        )
    try:
        return PartInfo(**data)
    except TypeError as exc:
        raise PartError(
            f"part {str(folder)!r} is unreadable ({exc}); delete the folder and run again"
        ) from exc


def complete_part(data_dir: Path, key: str, size: int, version: str) -> PartInfo | None:
    """The part of this input if it is complete and made from this version of the input."""
    folder = part_path(data_dir, key)
    if not (folder / "part.json").is_file():
        return None
    try:
        info = read_part_info(folder)
    except PartError:
        return None  # unreadable or from an older version: it is written again
    if (info.size, info.version, info.format) != (size, version, PART_FORMAT):
        return None
    if damaged_files(folder, info):
        return None  # a file changed or vanished since it was written: write the part again
    return info


def damaged_files(folder: Path, info: PartInfo) -> list[str]:
    """The part's files that are missing or differ from the size and SHA-256 recorded."""
    bad = []
    for name, expected in sorted(info.files.items()):
        path = folder / name
        try:
            if path.stat().st_size != expected["bytes"] or _sha256(path) != expected["sha256"]:
                bad.append(name)
        except OSError:
            bad.append(name)
    return bad


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def complete_parts(data_dir: Path) -> list[tuple[Path, PartInfo]]:
    """Every complete part under the data folder, sorted by key."""
    root = parts_root(data_dir)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not (folder / "part.json").is_file():
            continue
        info = read_part_info(folder)
        bad = damaged_files(folder, info)
        if bad:
            raise PartError(
                f"part {str(folder)!r} is damaged: {', '.join(bad)} missing or not as written "
                "(size or SHA-256 differ); delete the folder and run again to rebuild it"
            )
        found.append((folder, info))
    return found


def frame(rows: Sequence[PageRow] | Sequence[LinkRow], schema: pl.Schema) -> pl.DataFrame:
    """Rows (tuples in the schema's order) as a DataFrame, built column by column (a third
    of the time of polars' row-oriented constructor)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pl.DataFrame(
        {name: pl.Series(name, values, dtype=dtype)
         for (name, dtype), values in zip(schema.items(), columns, strict=True)},
    )


def _write_parquet(df: pl.DataFrame, path: Path) -> dict[str, Any]:
    """Write, flush to disk, and return the file's size and SHA-256 for part.json."""
    df.write_parquet(path, compression="zstd", statistics=True)
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
    return {"bytes": path.stat().st_size, "sha256": _sha256(path), "rows": df.height}


class PartWriter:
    """Collect the rows of one input in batches under a temporary folder; ``commit`` renames.

    Rows are flushed to numbered Parquet files every ``batch_rows`` link rows, so memory stays
    bounded whatever the size of the input. Use as a context manager: leaving the block
    without ``commit`` (an exception, a kill) leaves no part behind.
    """

    def __init__(self, data_dir: Path, key: str, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        self.data_dir, self.key, self.batch_rows = data_dir, key, batch_rows
        root = parts_root(data_dir)
        root.mkdir(parents=True, exist_ok=True)
        self.temporary = root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        self.temporary.mkdir()
        self.pages: list[PageRow] = []
        self.links: list[LinkRow] = []
        self.page_count = self.link_count = self.batches = 0
        self.files: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.temporary.exists():
            shutil.rmtree(self.temporary, ignore_errors=True)

    @contextmanager
    def _writing(self, path: Path) -> Iterator[None]:
        """Turn a failed write (a full disk, a file size limit) into a clear PartError."""
        try:
            yield
        except (OSError, pl.exceptions.ComputeError) as exc:
            if not isinstance(exc, OSError) and "IO error" not in str(exc):
                raise  # polars reports IO errors as ComputeError; others are not ours
            raise PartError(
                f"could not write {path.name} of the part {self.key!r} under "
                f"{str(self.data_dir)!r} ({exc}); nothing of it is kept: free space and run "
                "again"
            ) from exc

    def add(self, page: PageRow, links: Sequence[LinkRow]) -> None:
        self.pages.append(page)
        self.links.extend(links)
        if len(self.links) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if not self.pages and self.batches:
            return
        name = f"{self.batches:05d}.parquet"
        for kind, rows, schema in (
            ("pages", self.pages, PAGES_SCHEMA), ("links", self.links, LINKS_SCHEMA)
        ):
            path = self.temporary / f"{kind}-{name}"
            with self._writing(path):
                self.files[path.name] = _write_parquet(frame(rows, schema), path)
        self.page_count += len(self.pages)
        self.link_count += len(self.links)
        self.batches += 1
        self.pages, self.links = [], []

    def commit(self, info: Mapping[str, Any]) -> PartInfo:
        """Flush, write part.json, and rename the folder into place."""
        self.flush()
        part = PartInfo(
            key=self.key, pages=self.page_count, links=self.link_count, files=self.files, **info
        )
        manifest = self.temporary / "part.json"
        with self._writing(manifest), open(manifest, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(part), indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        root = parts_root(self.data_dir)
        final = part_path(self.data_dir, self.key)
        if final.exists():  # the part of an older version of the input
            stale = root / f".stale-{self.key}-{uuid.uuid4().hex[:8]}"
            final.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        self.temporary.rename(final)
        return part


def sweep_temporary(data_dir: Path) -> int:
    """Remove what killed runs left behind: parts being written (``parts/.tmp-*``,
    ``parts/.stale-*``) and graphs being aggregated (``.graph-tmp-*``, ``.graph-old-*``);
    return how many. Safe because one run at a time holds the folder (pipeline/lock.py)."""
    root = parts_root(data_dir)
    leftovers = [p for p in data_dir.glob(".graph-*") if p.name.startswith((".graph-tmp-", ".graph-old-"))]
    if root.is_dir():
        leftovers += [p for p in root.iterdir() if p.name.startswith((".tmp-", ".stale-"))]
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)
    return len(leftovers)

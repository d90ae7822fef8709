"""Parts: the output of one input file, written atomically, with its counters.

A part is a folder ``parts/<input key>/`` of the data location holding ``pages-NNNNN.parquet``
and ``links-NNNNN.parquet`` batches and ``part.json`` (input, fingerprint, counters, row
counts, the files with their sizes and SHA-256). Locally it is built under a temporary name
and renamed into place in one step, so a folder with the final name is always complete; a
killed run leaves at most a ``.tmp-*`` folder, which is never read and is swept away by the
next run. In S3 the files go under ``parts/<key>/<write id>/`` and ``part.json``, written
last, names them: files it does not name are leftovers, swept the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.errors import PartError
from pipeline.storage import DataStore, LocalData, as_store, sha256_of

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


def part_folder(key: str) -> str:
    """The part's folder, relative to the data location."""
    return f"parts/{key}"


def part_path(data_dir: DataStore | Path, key: str) -> Path:
    """The part's folder on a local data location (tests and tools look inside it)."""
    store = as_store(data_dir)
    assert isinstance(store, LocalData), "only a local data folder has paths"
    return store.path(part_folder(key))


def read_part_info(store: DataStore, key: str) -> PartInfo:
    text = store.read_text(f"{part_folder(key)}/part.json")
    if text is None:
        raise PartError(f"part {store.url(part_folder(key))!r} has no part.json; delete the "
                        "folder and run again")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PartError(f"part {store.url(part_folder(key))!r} is unreadable ({exc}); delete "
                        "the folder and run again") from exc
    if data.get("format", 1) != PART_FORMAT:
        raise PartError(
            f"part {store.url(part_folder(key))!r} was written by an older cc-backlinks (part "
            f"format {data.get('format', 1)}, this version reads {PART_FORMAT}); delete the "
            "folder and run again"
        )
    try:
        return PartInfo(**data)
    except TypeError as exc:
        raise PartError(
            f"part {store.url(part_folder(key))!r} is unreadable ({exc}); delete the folder "
            "and run again"
        ) from exc


def complete_part(
    data_dir: DataStore | Path, key: str, size: int, version: str
) -> PartInfo | None:
    """The part of this input if it is complete and made from this version of the input."""
    store = as_store(data_dir)
    try:
        info = read_part_info(store, key)
    except PartError:
        return None  # missing, unreadable or from an older version: it is written again
    if (info.size, info.version, info.format) != (size, version, PART_FORMAT):
        return None
    if damaged_files(store, info):
        return None  # a file changed or vanished since it was written: write the part again
    return info


def damaged_files(store: DataStore, info: PartInfo) -> list[str]:
    """The part's files that are missing or differ from the size and SHA-256 recorded."""
    return [
        name for name, expected in sorted(info.files.items())
        if not store.has_file(f"{part_folder(info.key)}/{name}", expected["bytes"],
                              expected["sha256"])
    ]


def part_file_urls(store: DataStore, info: PartInfo, table: str) -> list[str]:
    """What Polars opens for the part's ``pages`` or ``links`` files, in order."""
    return [
        store.url(f"{part_folder(info.key)}/{name}") for name in sorted(info.files)
        if name.rsplit("/", 1)[-1].startswith(f"{table}-")
    ]


def _part_keys(store: DataStore) -> list[str]:
    """Keys of the parts with a part.json (folders being written have none)."""
    return sorted(
        name.split("/")[0] for name in store.files("parts")
        if name.endswith("/part.json") and name.count("/") == 1 and not name.startswith(".")
    )


def complete_parts(data_dir: DataStore | Path) -> list[tuple[str, PartInfo]]:
    """Every complete part under the data location, sorted by key: (folder, info)."""
    store = as_store(data_dir)
    found = []
    for key in _part_keys(store):
        info = read_part_info(store, key)
        bad = damaged_files(store, info)
        if bad:
            raise PartError(
                f"part {store.url(part_folder(key))!r} is damaged: {', '.join(bad)} missing or "
                "not as written (size or SHA-256 differ); delete the folder and run again to "
                "rebuild it"
            )
        found.append((part_folder(key), info))
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
    return {"bytes": path.stat().st_size, "sha256": sha256_of(path), "rows": df.height}


class PartWriter:
    """Collect the rows of one input in batches under a temporary folder; ``commit`` renames.

    Rows are flushed to numbered Parquet files every ``batch_rows`` link rows, so memory stays
    bounded whatever the size of the input. Use as a context manager: leaving the block
    without ``commit`` (an exception, a kill) leaves no part behind.
    """

    def __init__(
        self, data_dir: DataStore | Path, key: str, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> None:
        self.store, self.key, self.batch_rows = as_store(data_dir), key, batch_rows
        if isinstance(self.store, LocalData):  # beside the final folder: committed by rename
            root = self.store.path("parts")
            root.mkdir(parents=True, exist_ok=True)
            self.temporary = root / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
            self.temporary.mkdir()
        else:  # a local scratch folder, uploaded at commit
            self.temporary = Path(tempfile.mkdtemp(prefix=f"cc-backlinks-{key}-"))
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
                f"{self.store.location!r} ({exc}); nothing of it is kept: free space and run "
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
        """Flush, write part.json, and make the part visible in one step: rename the folder
        into place (local), or upload the files under a fresh write id and then part.json,
        which names them (S3: one PUT is atomic)."""
        self.flush()
        if isinstance(self.store, LocalData):
            return self._commit_local(info)
        write_id = uuid.uuid4().hex[:12]
        folder = part_folder(self.key)
        for name, described in self.files.items():
            self.store.put_file(self.temporary / name, f"{folder}/{write_id}/{name}",
                                described["sha256"])
        part = PartInfo(
            key=self.key, pages=self.page_count, links=self.link_count,
            files={f"{write_id}/{name}": described for name, described in self.files.items()},
            **info,
        )
        self.store.write_text(f"{folder}/part.json", json.dumps(asdict(part), indent=1))
        stale = [f"{folder}/{name}" for name in self.store.files(folder)
                 if name != "part.json" and name not in part.files]
        self.store.delete(stale)  # the files of an older version of the input
        return part

    def _commit_local(self, info: Mapping[str, Any]) -> PartInfo:
        part = PartInfo(
            key=self.key, pages=self.page_count, links=self.link_count, files=self.files, **info
        )
        manifest = self.temporary / "part.json"
        with self._writing(manifest), open(manifest, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(part), indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        assert isinstance(self.store, LocalData)
        root = self.store.path("parts")
        final = self.store.path(part_folder(self.key))
        if final.exists():  # the part of an older version of the input
            stale = root / f".stale-{self.key}-{uuid.uuid4().hex[:8]}"
            final.rename(stale)
            shutil.rmtree(stale, ignore_errors=True)
        self.temporary.rename(final)
        return part


def sweep_temporary(data_dir: DataStore | Path) -> int:
    """Remove what killed runs left behind; return how many. Locally: parts being written
    (``parts/.tmp-*``, ``parts/.stale-*``) and graphs being aggregated (``.graph-tmp-*``,
    ``.graph-old-*``). In S3: part files no part.json names (uploads of a killed run) and
    graphs neither current nor previous. Safe because one run at a time holds the data
    location (pipeline/lock.py)."""
    store = as_store(data_dir)
    swept = store.sweep_graphs()
    if isinstance(store, LocalData):
        root = store.path("parts")
        leftovers = [p for p in root.iterdir()
                     if p.name.startswith((".tmp-", ".stale-"))] if root.is_dir() else []
        for leftover in leftovers:
            shutil.rmtree(leftover, ignore_errors=True)
        return swept + len(leftovers)
    by_key: dict[str, list[str]] = {}
    for name in store.files("parts"):
        key, _, rest = name.partition("/")
        by_key.setdefault(key, []).append(rest)
    unnamed: list[str] = []
    for key, names in sorted(by_key.items()):
        if "part.json" not in names:  # a first upload that never finished
            unnamed += [f"parts/{key}/{name}" for name in names]
            continue
        try:
            keep = set(read_part_info(store, key).files) | {"part.json"}
        except PartError:
            continue  # unreadable: complete_parts reports it; nothing is deleted
        unnamed += [f"parts/{key}/{name}" for name in names if name not in keep]
    store.delete(unnamed)
    return swept + len(unnamed)

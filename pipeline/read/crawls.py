"""Common Crawl's crawls and their files: collinfo.json, warc.paths.gz, wat.paths.gz.

Layout (the same under https://data.commoncrawl.org/ and s3://commoncrawl/)::

    crawl-data/CC-MAIN-2024-22/warc.paths.gz     one path per line, relative to the base:
    crawl-data/CC-MAIN-2024-22/segments/<SEGMENT>/warc/<NAME>.warc.gz
    crawl-data/CC-MAIN-2024-22/segments/<SEGMENT>/wat/<NAME>.warc.wat.gz

The list of crawls, newest first, is ``collinfo.json`` on the index server.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import zlib
from collections import Counter
from dataclasses import dataclass

from pipeline.config import Settings
from pipeline.errors import ConfigError, InputError, InputUnavailable
from pipeline.read.sources import FORMATS, InputFile
from pipeline.read.streams import read_small

CRAWL_ID = re.compile(r"^CC-MAIN-\d{4}-\d{2}$")
FULL_CRAWL_FILES = 90_000  # about; for messages


@dataclass(frozen=True)
class Crawl:
    """One crawl as collinfo.json lists it."""

    id: str
    name: str
    start: str
    end: str


def collinfo_url(settings: Settings) -> str:
    return settings.index_url.rstrip("/") + "/collinfo.json"


def parse_collinfo(data: bytes, url: str) -> list[Crawl]:
    """collinfo.json's entries, newest first (by crawl id, which sorts by year and week)."""
    try:
        entries = json.loads(data)
        crawls = [
            Crawl(str(e["id"]), str(e.get("name", "")), str(e.get("from", "")), str(e.get("to", "")))
            for e in entries
        ]
    except (ValueError, TypeError, KeyError) as exc:
        raise InputError(url, f"is not Common Crawl's collinfo.json ({exc}); check index_url") from exc
    return sorted(crawls, key=lambda crawl: crawl.id, reverse=True)


def list_crawls(settings: Settings) -> list[Crawl]:
    """The crawls on the index server, newest first."""
    url = collinfo_url(settings)
    try:
        return parse_collinfo(read_small(url, settings), url)
    except InputUnavailable as exc:
        raise InputUnavailable(
            url,
            f"cannot reach Common Crawl's index server ({exc.message}); check the network, "
            "or set index_url (BACKLINKS_INDEX_URL) to a mirror",
        ) from exc


def check_crawl_id(crawl: str) -> str:
    if not CRAWL_ID.match(crawl):
        raise ConfigError(
            f"crawl id {crawl!r} is not of the form CC-MAIN-YYYY-WW (e.g. CC-MAIN-2024-22); "
            "`backlinks crawls` lists them"
        )
    return crawl


def file_url(path: str, settings: Settings) -> str:
    """The URL of a path of the layout (crawl-data/...) on the configured source."""
    path = path.strip().lstrip("/")
    if settings.source == "s3":
        return f"s3://{settings.s3_bucket}/{path}"
    return settings.https_base_url.rstrip("/") + "/" + path


def paths_url(crawl: str, file_format: str, settings: Settings) -> str:
    if file_format not in FORMATS:
        raise ConfigError(f"format {file_format!r} is not one of {', '.join(FORMATS)}")
    return file_url(f"crawl-data/{check_crawl_id(crawl)}/{file_format}.paths.gz", settings)


def crawl_paths(
    crawl: str, file_format: str, settings: Settings, counters: Counter[str] | None = None
) -> list[str]:
    """The paths of a crawl's files of a format, in Common Crawl's order.

    Retries of the download are added to ``counters``.
    """
    url = paths_url(crawl, file_format, settings)
    data = read_small(url, settings, counters)
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise InputError(url, f"is not a gzipped list of paths ({exc})") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class Selection:
    """Which of a crawl's files to process. Applied in order: shard, sample, offset, files."""

    files: int | None = None
    offset: int = 0
    sample: int | None = None
    seed: int = 0
    shard: tuple[int, int] | None = None

    @property
    def bounded(self) -> bool:
        return self.files is not None or self.sample is not None or self.shard is not None


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N), 0 <= I < N."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not int(match.group(1)) < int(match.group(2)):
        raise ConfigError(
            f"shard {text!r} is not I/N with 0 <= I < N (e.g. 0/4 ... 3/4 split a crawl in four)"
        )
    return int(match.group(1)), int(match.group(2))


def select(paths: list[str], selection: Selection) -> list[str]:
    """The chosen paths, in the crawl's order. Pure: the same list and seed, the same files."""
    chosen = paths
    if selection.shard is not None:
        index, count = selection.shard
        chosen = chosen[index::count]
    if selection.sample is not None:
        picked = sorted(random.Random(selection.seed).sample(range(len(chosen)),
                                                           min(selection.sample, len(chosen))))
        chosen = [chosen[i] for i in picked]
    chosen = chosen[selection.offset :]
    if selection.files is not None:
        chosen = chosen[: selection.files]
    return chosen


def crawl_inputs(
    crawl: str, file_format: str, selection: Selection, settings: Settings,
    counters: Counter[str] | None = None,
) -> list[InputFile]:
    """The inputs of ``backlinks run --crawl``: the selected files on the configured source."""
    if not selection.bounded:
        raise ConfigError(
            f"say how many files of {crawl} to process: --files N, --sample N or --shard I/N "
            f"(a whole crawl is about {FULL_CRAWL_FILES:,} files)"
        )
    return [InputFile(file_url(path, settings)) for path in select(
        crawl_paths(crawl, file_format, settings, counters), selection
    )]

"""Process one input file into one part: open -> records -> page rows -> part.

This is the per-file job the flow maps over the inputs (cc-pyspark's ``process_warc``). It
raises :class:`~pipeline.errors.InputError` for a file that cannot be read to its end; then no
part is written and the file is reported as failed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from pipeline.config import Settings
from pipeline.domains import PublicSuffixList
from pipeline.pages import page_rows
from pipeline.parts import PartWriter, complete_part
from pipeline.records import HtmlPage, iter_records
from pipeline.sources import InputFile
from pipeline.streams import fingerprint, open_stream

LOCAL_CRAWL = "local"


@dataclass(frozen=True)
class InputResult:
    """What processing one input did. ``reused`` when a complete part already existed."""

    input: str
    key: str
    reused: bool
    records: int
    pages: int
    links: int
    seconds: float
    counters: dict[str, int] = field(default_factory=dict)


def process_input(source: InputFile, settings: Settings) -> InputResult:
    """Write the part of ``source`` unless a complete part of this version exists."""
    started = time.perf_counter()
    version = fingerprint(source)
    data_dir = settings.data_path
    existing = complete_part(data_dir, source.key, version.size, version.mtime_ns)
    if existing is not None:
        return InputResult(
            input=source.uri, key=source.key, reused=True, records=existing.records,
            pages=existing.pages, links=existing.links, seconds=0.0,
            counters=existing.counters,
        )

    psl = PublicSuffixList.bundled(private=settings.psl_private_domains)
    fallback_crawl = source.crawl_from_path or LOCAL_CRAWL
    counters: Counter[str] = Counter()
    records = 0
    crawl = fallback_crawl
    with open_stream(source) as stream, PartWriter(data_dir, source.key) as writer:
        for event in iter_records(
            stream, input_name=source.uri, max_html_bytes=settings.max_html_bytes
        ):
            records += 1
            if not isinstance(event, HtmlPage):
                counters[f"skipped_{event.reason}"] += 1
                continue
            crawl = event.crawl or fallback_crawl
            rows = page_rows(event, crawl, psl)
            counters.update(rows.counters)
            if rows.page is not None:
                writer.add(rows.page, rows.links)
        seconds = time.perf_counter() - started
        info = writer.commit(
            {
                "input": source.uri, "size": version.size, "mtime_ns": version.mtime_ns,
                "crawl": crawl, "records": records,
                "counters": dict(sorted(counters.items())), "seconds": round(seconds, 3),
            }
        )
    return InputResult(
        input=source.uri, key=source.key, reused=False, records=records, pages=info.pages,
        links=info.links, seconds=seconds, counters=info.counters,
    )

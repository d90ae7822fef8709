"""Process one input file into one part: open -> records -> page rows -> part.

This is the per-file job the flow maps over the inputs (cc-pyspark's ``process_warc``). A WARC
file is parsed (records.py, extract.py), a WAT file brings its links (wat.py). Damaged
stretches of a file cost only their records: they are counted (``damaged_<kind>``) and
described in the part (framing.py). It raises :class:`~pipeline.errors.InputError` for a file
that cannot be opened or holds no readable record at all, or that the network keeps failing;
then no part is written and the file is reported as failed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, TypeGuard

from pipeline.config import Settings
from pipeline.errors import BacklinksError
from pipeline.extract.domains import PublicSuffixList
from pipeline.extract.engine import BATCH_BYTES, BATCH_PAGES, CoreEngine, engine_name
from pipeline.extract.page import Limits, page_rows
from pipeline.extract.wat import WatPage, WatPayload, iter_wat_payloads, iter_wat_records
from pipeline.parts.layout import data_layout
from pipeline.parts.part import (
    PART_READERS,
    ListedFiles,
    PartInfo,
    PartWriter,
    complete_part,
    listed_parts,
    recorded_info,
)
from pipeline.read.framing import Damage
from pipeline.read.sources import WAT, InputFile
from pipeline.read.streams import Fingerprint, fingerprint, open_stream
from pipeline.read.warc import HtmlPage, Redirect, Skipped, iter_records
from pipeline.storage import DataStore
from pipeline.storage.side_by_side import in_order

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
    damage: list[str] = field(default_factory=list)


MAX_DAMAGE_NOTES = 10  # damaged stretches described in part.json; all are counted


def _events(
    source: InputFile, stream: BinaryIO, settings: Settings
) -> Iterator[HtmlPage | WatPage | Redirect | Skipped | Damage]:
    if source.format == WAT:
        return iter_wat_records(
            stream, input_name=source.uri, max_record_bytes=settings.max_record_bytes
        )
    return iter_records(
        stream, input_name=source.uri, max_html_bytes=settings.max_html_bytes,
        max_record_bytes=settings.max_record_bytes,
    )


def describe_damage(damage: Damage) -> str:
    """'at byte 940: length_mismatch: ... (10,906 bytes skipped)'."""
    return (
        f"at byte {damage.offset:,}: {damage.kind}: {damage.detail} "
        f"({damage.skipped:,} bytes skipped)"
    )


def _is_page(event: object, counters: Counter[str],
             damage: list[str]) -> TypeGuard[HtmlPage | WatPage | Redirect]:
    """Count a damaged stretch or a skipped record (both readers, both engines); True for
    a page to extract."""
    if isinstance(event, Damage):
        counters[f"damaged_{event.kind}"] += 1
        if len(damage) < MAX_DAMAGE_NOTES:
            damage.append(describe_damage(event))
        return False
    if isinstance(event, Skipped):
        counters[f"skipped_{event.reason}"] += 1
        return False
    return True


def _held_bytes(event: object) -> int:
    """The bytes a batch holds for an event: a page's HTML, a WAT record's JSON."""
    if isinstance(event, WatPayload):
        return len(event.payload)
    return len(event.body) if isinstance(event, HtmlPage) else 0  # a redirect: its URLs


def _through_core(
    core: CoreEngine, source: InputFile, stream: BinaryIO, settings: Settings,
    writer: PartWriter, counters: Counter[str], damage: list[str],
) -> tuple[int, str]:
    """The input's records through the Rust core, a batch of pages at a time: the same
    rows and counters as :func:`_through_python`. Returns (records, crawl)."""
    fallback_crawl = source.crawl_from_path or LOCAL_CRAWL
    crawl, records = fallback_crawl, 0
    pending: list[Any] = []
    pending_bytes = 0

    def flush() -> None:
        nonlocal crawl, pending_bytes
        pending_bytes = 0
        if not pending:
            return
        if source.format == WAT:
            pages, links, got = core.wat_batch(pending, fallback_crawl)
        else:
            pages, links, got = core.warc_batch(pending, fallback_crawl)
        if pages.height:
            crawl = pages["crawl"][-1]
        counters.update(got)
        writer.add_frames(pages, links)
        pending.clear()

    events: Iterator[Any] = (
        iter_wat_payloads(stream, input_name=source.uri,
                          max_record_bytes=settings.max_record_bytes)
        if source.format == WAT else _events(source, stream, settings)
    )
    for event in events:
        if not _is_page(event, counters, damage):
            records += not isinstance(event, Damage)
            continue
        records += 1
        pending.append(event.payload if isinstance(event, WatPayload) else event)
        pending_bytes += _held_bytes(event)
        if len(pending) >= BATCH_PAGES or pending_bytes >= BATCH_BYTES:
            flush()
    flush()
    return records, crawl


def _reused(source: InputFile, store: DataStore, version: Fingerprint,
            partitions: int) -> InputResult | None:
    """The result of ``source`` when a complete part of this version of it exists."""
    return _reused_result(source, complete_part(store, source.key, version.size,
                                                version.version, partitions))


def _reused_result(source: InputFile, existing: PartInfo | None) -> InputResult | None:
    if existing is None:
        return None
    return InputResult(
        input=source.uri, key=source.key, reused=True, records=existing.records,
        pages=existing.pages, links=existing.links, seconds=0.0,
        counters=existing.counters, damage=existing.damage,
    )


def already_processed(
    sources: Sequence[InputFile], settings: Settings, partitions: int,
    recorded: Mapping[str, Mapping[str, Any]] | None = None,
    listed: Mapping[str, ListedFiles] | None = None,
) -> Iterator[tuple[InputFile, InputResult | None]]:
    """Each input, in order, with its result when a complete part of its current version
    exists, else None: it needs processing, or its lookup failed (then its task retries it
    and says why; the lookup here is tried once, so a failing server does not spend its
    retry budget twice). Looked up PART_READERS side by side (``in_order``): a stat or a
    HEAD of the input, then its part: from ``recorded`` (the current graph's records of
    its parts, by key: ``recorded_parts``) when one listing of the parts shows its files
    as the record lists them, else the GET of its part.json and the check of its files
    (0.55 ms a part.json of 1,500 partitions, and from S3 three requests a part). The flow
    settles the reused inputs with it instead of a task each, which cost 0.03-0.09 s an
    input before the task looked (docs/scale.md): over an hour for a crawl's 90,000.
    ``listed``: the parts' listing, when the caller has just made it."""
    store = settings.data_store()
    once = replace(settings, retry_seconds=0.0)
    if listed is None:
        listed = listed_parts(store) if recorded else {}

    def look_up(source: InputFile) -> tuple[InputFile, InputResult | None]:
        try:
            version = fingerprint(source, once)
            record = recorded.get(source.key) if recorded else None
            known = None if record is None else recorded_info(
                record, listed.get(source.key), version.size, version.version, partitions)
            if known is not None:
                return source, _reused_result(source, known)
            return source, _reused(source, store, version, partitions)
        except BacklinksError:
            return source, None
    return in_order(look_up, sources, PART_READERS)


def _through_python(
    source: InputFile, stream: BinaryIO, settings: Settings, writer: PartWriter,
    counters: Counter[str], damage: list[str],
) -> tuple[int, str]:
    """The input's records through the Python path, a page at a time (the definition the
    core follows). Returns (records, crawl)."""
    psl = PublicSuffixList.bundled(private=settings.psl_private_domains)
    limits = Limits.from_settings(settings)
    fallback_crawl = source.crawl_from_path or LOCAL_CRAWL
    crawl, records = fallback_crawl, 0
    for event in _events(source, stream, settings):
        if not _is_page(event, counters, damage):
            records += not isinstance(event, Damage)
            continue
        records += 1
        crawl = event.crawl or fallback_crawl
        rows = page_rows(event, crawl, psl, limits)
        counters.update(rows.counters)
        if rows.page is not None:
            writer.add(rows.page, rows.links)
    return records, crawl


def process_input(source: InputFile, settings: Settings) -> InputResult:
    """Write the part of ``source`` unless a complete part of this version exists."""
    started = time.perf_counter()
    counters: Counter[str] = Counter()  # retries of the lookup count too
    version = fingerprint(source, settings, counters)
    store = settings.data_store()
    layout = data_layout(store, settings.partitions)
    existing = _reused(source, store, version, layout.partitions)
    if existing is not None:
        return existing

    damage: list[str] = []
    core = CoreEngine(settings) if engine_name(settings.engine) == "rust" else None
    with open_stream(source, settings, version) as opened, PartWriter(
        store, source.key, partitions=layout.partitions
    ) as writer:
        if core is not None:
            records, crawl = _through_core(core, source, opened.stream, settings, writer,
                                           counters, damage)
        else:
            records, crawl = _through_python(source, opened.stream, settings, writer,
                                             counters, damage)
        counters.update(opened.counters)
        seconds = time.perf_counter() - started
        info = writer.commit(
            {
                "input": source.uri, "size": version.size, "version": version.version,
                "crawl": crawl, "records": records,
                "counters": dict(sorted(counters.items())), "seconds": round(seconds, 3),
                "damage": damage,
            }
        )
    return InputResult(
        input=source.uri, key=source.key, reused=False, records=records, pages=info.pages,
        links=info.links, seconds=seconds, counters=info.counters, damage=info.damage,
    )

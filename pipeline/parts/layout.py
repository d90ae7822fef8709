"""The layout of a data location: how many partitions its rows are split into.

Chosen when the location gets its first part and recorded in ``<data>/layout.json``: the
``partitions`` setting, or when it is 0, DEFAULT_PARTITIONS, or fewer for a first run of
small local files (one partition per BYTES_PER_PARTITION of them, rounded up to a power of
two: the bundled sample gets one, and its run does not write and reduce sixteen splits of
half a megabyte). Every later run uses the recorded count. A run that asks for another count
explicitly is refused instead of mixing two splits in one graph; a run that brings far more
data than a small count was chosen for is told to use a new location (``growth_note``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from pipeline.errors import ConfigError, PartError
from pipeline.partitions import DEFAULT_PARTITIONS, MAX_PARTITIONS
from pipeline.storage import DataStore

LAYOUT = "layout.json"
HASH = "md5-prefix32"  # pipeline/partitions.py


# A first run of local files gets one partition per this many bytes of them (at most
# DEFAULT_PARTITIONS); a first run with remote inputs, whose sizes are not known yet, gets
# DEFAULT_PARTITIONS.
BYTES_PER_PARTITION = 64 << 20


@dataclass(frozen=True)
class Layout:
    partitions: int
    hash: str = HASH
    # the bytes of local input the count was chosen for (setting 0), None when it was set,
    # or chosen for remote inputs
    chosen_for_bytes: int | None = None


def first_run_partitions(input_bytes: int | None) -> int:
    """The partition count of a new location when the setting is 0: DEFAULT_PARTITIONS, or
    for a first run of ``input_bytes`` of local files (None: not all local), one partition
    per BYTES_PER_PARTITION of them rounded up to a power of two, at most the default."""
    if input_bytes is None:
        return DEFAULT_PARTITIONS
    needed = max(1, -(-input_bytes // BYTES_PER_PARTITION))
    return min(DEFAULT_PARTITIONS, 1 << (needed - 1).bit_length())


def read_layout(store: DataStore) -> Layout | None:
    """The recorded layout, or None for a location that has none yet."""
    text = store.read_text(LAYOUT)
    if text is None:
        return None
    try:
        layout = Layout(**json.loads(text))
    except (ValueError, TypeError) as exc:
        raise PartError(f"{store.url(LAYOUT)!r} is unreadable ({exc}); delete the data "
                        "location's parts and layout.json and run again") from exc
    if layout.hash != HASH or not 1 <= layout.partitions <= MAX_PARTITIONS:
        raise PartError(f"{store.url(LAYOUT)!r} records {layout}, which this version does not "
                        "read; use a new --data")
    return layout


def check_layout(store: DataStore, requested: int = 0) -> None:
    """ConfigError now when ``requested`` cannot be used with the recorded layout."""
    _check(store, requested, read_layout(store))


def _check(store: DataStore, requested: int, recorded: Layout | None) -> None:
    if not 0 <= requested <= MAX_PARTITIONS:
        raise ConfigError(f"partitions must be between 1 and {MAX_PARTITIONS} (0: the data "
                          f"location's, or {DEFAULT_PARTITIONS} for a new one), got {requested}")
    if recorded is not None and requested and requested != recorded.partitions:
        raise ConfigError(
            f"the data location {store.location!r} is split into {recorded.partitions} "
            f"partitions (chosen at its first run); this run asks for {requested}. Leave "
            f"partitions at 0 (or {recorded.partitions}), or use another --data"
        )


def data_layout(store: DataStore, requested: int = 0,
                input_bytes: int | None = None) -> Layout:
    """The location's layout: the recorded one, or (first run) a new one of ``requested``
    partitions (0: ``first_run_partitions(input_bytes)``, the run's local input bytes or
    None), recorded now. ConfigError when ``requested`` is given and differs from the
    recorded count."""
    recorded = read_layout(store)
    _check(store, requested, recorded)
    if recorded is not None:
        return recorded
    if requested:
        layout = Layout(requested)
    else:
        layout = Layout(first_run_partitions(input_bytes), chosen_for_bytes=input_bytes)
    store.write_text(LAYOUT, json.dumps(asdict(layout), indent=1))
    return layout


def growth_note(layout: Layout, input_bytes: int | None) -> str | None:
    """Advice for a run that brings much more data (``input_bytes`` of local files, None
    for remote inputs) than the location's count was chosen for at its first run; None
    when the count suits it. Few partitions for much data means few reduce tasks, each
    reducing its partition in many sub-buckets."""
    if layout.chosen_for_bytes is None or layout.partitions >= DEFAULT_PARTITIONS:
        return None
    if input_bytes is not None and first_run_partitions(input_bytes) <= layout.partitions:
        return None
    brought = "remote files" if input_bytes is None else f"{input_bytes / 1e6:,.1f} MB"
    return (
        f"this data location is split into {layout.partitions} partition"
        f"{'s' if layout.partitions > 1 else ''}, chosen for its first run "
        f"({layout.chosen_for_bytes / 1e6:,.1f} MB of local files); this run brings "
        f"{brought}. For data of crawl size, a new --data (its first run chooses "
        f"{DEFAULT_PARTITIONS}, or pass --partitions) reduces in more tasks"
    )

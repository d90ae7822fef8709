"""The layout of a data location: how many partitions its rows are split into.

Chosen when the location gets its first part (the ``partitions`` setting, or
DEFAULT_PARTITIONS) and recorded in ``<data>/layout.json``; every later run uses the
recorded count. A run that asks for another count explicitly is refused instead of mixing
two splits in one graph.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from pipeline.errors import ConfigError, PartError
from pipeline.partitions import DEFAULT_PARTITIONS, MAX_PARTITIONS
from pipeline.storage import DataStore

LAYOUT = "layout.json"
HASH = "md5-prefix32"  # pipeline/partitions.py


@dataclass(frozen=True)
class Layout:
    partitions: int
    hash: str = HASH


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


def data_layout(store: DataStore, requested: int = 0) -> Layout:
    """The location's layout: the recorded one, or (first run) a new one of ``requested``
    partitions (0: DEFAULT_PARTITIONS), recorded now. ConfigError when ``requested`` is
    given and differs from the recorded count."""
    recorded = read_layout(store)
    _check(store, requested, recorded)
    if recorded is not None:
        return recorded
    layout = Layout(requested or DEFAULT_PARTITIONS)
    store.write_text(LAYOUT, json.dumps(asdict(layout), indent=1))
    return layout

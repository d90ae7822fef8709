"""The counters a run keeps, by family: what was skipped, what hit a limit, what was damaged,
what was retried. Every counter is a ``name -> count`` entry; its family is its prefix."""

from __future__ import annotations

from collections.abc import Mapping

SKIP_COUNTERS = ("skipped_", "links_rejected_", "pages_rejected_")
LIMIT_COUNTERS = ("pages_truncated", "pages_over_link_limit", "links_over_limit", "anchors_cut")
DAMAGE_COUNTERS = ("damaged_",)
RETRY_COUNTERS = ("retries_",)
# The families a run record keeps in its ``skipped`` column, and the summary prints.
FAMILIES = {"skipped": SKIP_COUNTERS, "limits": LIMIT_COUNTERS, "damaged": DAMAGE_COUNTERS,
            "retried": RETRY_COUNTERS}


def family(counters: Mapping[str, int], prefixes: tuple[str, ...]) -> dict[str, int]:
    """The counters whose names start with one of ``prefixes``, sorted by name."""
    return {k: v for k, v in sorted(counters.items()) if k.startswith(prefixes)}


def recorded(counters: Mapping[str, int]) -> dict[str, int]:
    """What a run record keeps: the skipped, limit and damage counters."""
    return family(counters, (*SKIP_COUNTERS, *LIMIT_COUNTERS, *DAMAGE_COUNTERS))

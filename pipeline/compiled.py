"""The compiled Rust core (core/, the module ``backlinks_core``), when it is installed.

The extraction engine (extract/engine.py) and the partition of a column of names
(partitions.py) use it; each keeps a Python path that gives the same answers, for a
machine without a Rust toolchain.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType


@cache
def core_module() -> ModuleType | None:
    """The compiled core, or None when it is not installed."""
    try:
        return importlib.import_module("backlinks_core")
    except ImportError:
        return None

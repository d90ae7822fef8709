"""Every input the fuzzer (tests/fuzz.py) found a crash with, replayed: tests/data/fuzz/ holds
them, named ``<target>-<what went wrong>``; each must now pass its target."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA
from fuzz_targets import TARGETS

CASES = sorted((DATA / "fuzz").glob("*-*"))


def test_there_are_regressions_to_replay() -> None:
    assert CASES and all(case.name.split("-", 1)[0] in TARGETS for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_a_found_crash_stays_fixed(case: Path) -> None:
    TARGETS[case.name.split("-", 1)[0]](case.read_bytes())

"""The Public Suffix List's own test cases (tests/data/conformance/test_psl.txt), in full."""

from __future__ import annotations

import re

import pytest
from conftest import DATA

from pipeline.extract.domains import PublicSuffixList

# One case per line; lines starting with // are cases the PSL project itself disabled.
_CASE = re.compile(r"^checkPublicSuffix\((null|'[^']*'),\s*(null|'[^']*')\);", re.M)


def _value(token: str) -> str | None:
    return None if token == "null" else token.strip("'")


CASES = [
    (_value(m.group(1)), _value(m.group(2)))
    for m in _CASE.finditer((DATA / "conformance" / "test_psl.txt").read_text("utf-8"))
]


def test_all_cases_were_read() -> None:
    assert len(CASES) == 78  # every enabled case in the file


@pytest.mark.parametrize(("host", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_registered_domain(host: str | None, expected: str | None) -> None:
    # test_psl.txt is written for the whole list (uk.com is in the private section), so it
    # runs with private=True; the pipeline's default is the ICANN section (DESIGN.md).
    psl = PublicSuffixList.bundled(private=True)
    got = None if host is None else psl.registered_domain(host)
    if expected is not None and not expected.isascii():
        from ada_url import idna_to_ascii

        converted = idna_to_ascii(expected)
        expected = converted.decode() if isinstance(converted, bytes) else converted
    assert got == expected


def test_fold_follows_design() -> None:
    psl = PublicSuffixList.bundled()
    assert psl.fold("blog.example.co.uk") == "example.co.uk"
    assert psl.fold("co.uk") == "co.uk"  # a public suffix folds to itself
    assert psl.fold("www.example.com") == "example.com"


def test_private_section_is_a_setting() -> None:
    assert PublicSuffixList.bundled().fold("foo.github.io") == "github.io"
    assert PublicSuffixList.bundled(private=True).fold("foo.github.io") == "foo.github.io"

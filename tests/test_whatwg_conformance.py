"""WHATWG URL conformance: the web-platform-tests cases about http(s) resolution.

Selected from tests/data/conformance/urltestdata.json: cases whose base is http(s) or absent
and whose expected result is an http(s) URL or a failure. Excluded, by named reason: other
schemes (file:, data:, javascript:... are not links the graph keeps), and non-http(s) bases.
Where the expected host breaks DESIGN.md's host rules (an IP address, a single label...) the
project must reject the link with that rule's reason instead of keeping it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from conftest import DATA

from pipeline.extract.urls import Resolved, host_reject_reason, resolve_link, resolve_page_url

ALL = [c for c in json.loads((DATA / "conformance" / "urltestdata.json").read_text("utf-8")) if isinstance(c, dict)]


def exclusion(case: dict[str, Any]) -> str | None:
    base = case.get("base")
    if base is not None and not base.lower().startswith(("http:", "https:")):
        return "base is not http(s)"
    if not case.get("failure") and case.get("protocol") not in ("http:", "https:"):
        return "expected URL is not http(s)"
    return None


SELECTED = [c for c in ALL if exclusion(c) is None]
EXCLUDED = Counter(exclusion(c) for c in ALL if exclusion(c) is not None)


def resolve(case: dict[str, Any]) -> Resolved | str:
    if case.get("base") is None:
        return resolve_page_url(case["input"])
    return resolve_link(case["input"], case["base"])


def test_selection_is_accounted_for() -> None:
    assert len(SELECTED) + sum(EXCLUDED.values()) == len(ALL)
    assert len(SELECTED) > 300
    assert set(EXCLUDED) <= {"base is not http(s)", "expected URL is not http(s)"}


@pytest.mark.parametrize("case", SELECTED, ids=[repr(c["input"])[:60] for c in SELECTED])
def test_http_resolution(case: dict[str, Any]) -> None:
    got = resolve(case)
    if case.get("failure"):
        assert not isinstance(got, Resolved), got
        return
    host = case["hostname"].lower()
    href = case["href"]
    if host.endswith("."):  # DESIGN: no trailing dot, in the host and in the stored URL
        href = href.replace(host, host[:-1], 1)
        host = host[:-1]
    reason = host_reject_reason(host)
    if reason is not None:
        assert got == reason
        return
    assert isinstance(got, Resolved), got
    assert got.host == host
    assert got.url == href.split("#", 1)[0]

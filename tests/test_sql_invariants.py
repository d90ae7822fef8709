"""Data tests: every query of sql/tests/ returns no rows, on the sample's database and on one
built from a generated corpus (two crawls, one read from WARC and one from WAT, published
by two runs into one data folder). Each query's header says what it checks; a failure
prints the offending rows."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, CliRun, run_cli

sys.path.insert(0, str(REPO / "bench"))
from generate import write_files  # noqa: E402

CHECKS = sorted((REPO / "sql" / "tests").glob("*.sql"))
SHOWN_ROWS = 20


@pytest.fixture(scope="module")
def generated_run(tmp_path_factory: pytest.TempPathFactory, prefect_api: str) -> CliRun:
    """Two generated inputs of 2 MB in two crawls (a WARC, then another seed's WAT), run
    one after the other into one data folder: the second run aggregates both."""
    corpus = tmp_path_factory.mktemp("generated")
    first, _, _ = write_files(corpus / "one", 2, 1, "CC-MAIN-2099-01")
    _, second, _ = write_files(corpus / "two", 2, 2, "CC-MAIN-2099-05")
    data = corpus / "data"
    result = None
    for path in (first, second):
        result = run_cli("run", "--input", str(path), "--data", str(data), "--workers", "2",
                         env={"PREFECT_API_URL": prefect_api})
        assert result.returncode == 0, result.stderr + result.stdout
    assert result is not None
    return result


@pytest.fixture(params=["sample", "generated"])
def database(request: pytest.FixtureRequest) -> Path:
    run: CliRun = request.getfixturevalue(f"{request.param}_run")
    return run.db


def test_there_are_sql_tests() -> None:
    assert len(CHECKS) >= 10
    for path in CHECKS:
        assert path.read_text("utf-8").startswith("-- "), f"{path.name} says what it checks"


@pytest.mark.parametrize("check", CHECKS, ids=lambda path: path.stem)
def test_sql_invariant_holds(database: Path, check: Path) -> None:
    con = duckdb.connect(str(database), read_only=True)
    try:
        result = con.execute(check.read_text("utf-8"))
        columns = [column[0] for column in result.description or []]
        rows = result.fetchmany(SHOWN_ROWS + 1)
    finally:
        con.close()
    shown = "\n".join(str(dict(zip(columns, row, strict=True))) for row in rows[:SHOWN_ROWS])
    more = " (and more)" if len(rows) > SHOWN_ROWS else ""
    assert not rows, f"sql/tests/{check.name} returned rows{more}:\n{shown}"


# referring_domains as it was defined before the referrals table: from the links of the
# target, for a domain and a host alike (the oracle of the test below).
PER_LINK_REFERRING_DOMAINS = """
with per_domain as (
    select
        src_domain as referring_domain,
        count(distinct src_url) as pages,
        count(*) as links,
        count(*) filter (where dofollow) as dofollow_links,
        count(*) filter (where nofollow) as nofollow_links,
        bool_or(sitewide) as sitewide,
        count(distinct src_host) as referring_hosts,
        histogram(anchor) filter (where anchor <> '') as anchor_uses,
        min(crawl) as first_seen,
        max(crawl) as last_seen
    from target_backlinks($target)
    group by src_domain
)
select
    per_domain.referring_domain, domains.authority,
    pages, links, dofollow_links, nofollow_links,
    round(dofollow_links / links, 3) as dofollow_share,
    sitewide, referring_hosts, top_anchor_list(anchor_uses, 3) as top_anchors,
    first_seen, last_seen
from per_domain
left join domains on domains.domain = per_domain.referring_domain
order by authority desc, pages desc, dofollow_links desc, links desc, referring_domain
"""


# link_profile as it was defined before the domain_profiles table: from the links.
PER_LINK_PROFILE = """
select
    (select target_name($target)) as target,
    count(*) as backlinks,
    count(distinct src_domain) as referring_domains,
    count(distinct src_host) as referring_hosts,
    count(distinct src_url) as referring_pages,
    round(count(*) filter (where dofollow) / nullif(count(*), 0), 3) as dofollow_share,
    round(count(*) filter (where sitewide) / nullif(count(*), 0), 3) as sitewide_share,
    top_anchor_list(histogram(anchor) filter (where anchor <> ''), 5) as top_anchors,
    target_authority($target) as authority,
    min(crawl) as first_seen,
    max(crawl) as last_seen
from target_backlinks($target)
"""


def test_referring_domains_and_link_profile_answer_as_from_the_links(
    database: Path,
) -> None:
    """For every domain and host of the graph (and a few spelled in upper case with a dot),
    referring_domains and link_profile, which read the referrals and domain_profiles
    tables for a registered domain, return exactly the rows the per-link definitions give,
    in the same order."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        targets = [name for (name,) in con.execute(
            "select domain from domains union select host from hosts order by 1").fetchall()]
        targets += [name.upper() + "." for name in targets[:10]] + ["absent.example"]
        rows = profiled = 0
        for target in targets:
            got = con.execute("select * from referring_domains($target)",
                              {"target": target}).fetchall()
            expected = con.execute(PER_LINK_REFERRING_DOMAINS, {"target": target}).fetchall()
            assert got == expected, target
            rows += len(got)
            profile = con.execute("select * from link_profile($target)",
                                  {"target": target}).fetchall()
            assert profile == con.execute(PER_LINK_PROFILE, {"target": target}).fetchall(), \
                target
            profiled += profile[0][1] > 0
        referrals = con.execute("select count(*) from referrals").fetchone()
        profiles = con.execute("select count(*) from domain_profiles").fetchone()
    finally:
        con.close()
    assert referrals is not None and rows >= referrals[0] > 0  # every referral row was seen
    assert profiles is not None and profiled >= profiles[0] > 0  # and every profile


def test_first_backlinks_are_the_first_rows_of_backlinks(database: Path) -> None:
    """For every domain and host of the graph with more than 3 backlinks, every tenth of
    the others, names spelled in upper case with a dot and one the graph does not hold,
    first_backlinks(target, n), which reads only the links of the referring domains that
    can hold the first n rows, gives exactly the first n rows of backlinks(target), in its
    order (n = 1 and 20); n = null gives them all (checked where 20 left rows out)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        counted = con.execute(
            "select name, count(*) > 3 from (select dst_domain as name from external_links "
            "union all select dst_host from external_links where dst_host <> dst_domain) "
            "group by name order by name").fetchall()
        targets = [name for number, (name, many) in enumerate(counted)
                   if many or number % 10 == 0]
        targets += [name.upper() + "." for name in targets[:10]] + ["absent.example"]
        longer = 0  # targets with more rows than the screen asked for
        for target in targets:
            every = con.execute("select * from backlinks($target)", {"target": target}
                                ).fetchall()
            for n in (1, 20):
                got = con.execute("select * from first_backlinks($target, $n)",
                                  {"target": target, "n": n}).fetchall()
                assert got == every[:n], (target, n)
            if len(every) > 20:  # some rows were left out: all of them with n = null
                assert con.execute("select * from first_backlinks($target, null)",
                                   {"target": target}).fetchall() == every, target
                longer += 1
    finally:
        con.close()
    assert longer > 0  # some target's first screen left rows out


def test_the_referrals_and_profiles_checks_catch_a_wrong_row(
    sample_run: CliRun, tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(sample_run.db.read_bytes())
    check = (REPO / "sql" / "tests" / "referrals_from_links.sql").read_text("utf-8")
    con = duckdb.connect(str(broken))
    try:
        assert con.execute(check).fetchall() == []
        con.execute("update referrals set top_anchors = list_reverse(top_anchors) "
                    "where len(top_anchors) > 1")
        assert con.execute(check).fetchall()  # anchors out of order
        con.execute("delete from referrals where referring_domain = "
                    "(select min(referring_domain) from referrals)")
        assert len(con.execute(check).fetchall()) > 0
        profiles = (REPO / "sql" / "tests" / "domain_profiles_from_links.sql").read_text("utf-8")
        assert con.execute(profiles).fetchall() == []
        con.execute("update domain_profiles set sitewide_links = sitewide_links + 1 "
                    "where dst_domain = (select min(dst_domain) from domain_profiles)")
        assert len(con.execute(profiles).fetchall()) == 1
    finally:
        con.close()

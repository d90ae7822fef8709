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

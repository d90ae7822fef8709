"""The docs name every CLI verb, setting, table, column and macro the code has."""

from __future__ import annotations

import re

import duckdb
import pytest
from click.testing import CliRunner
from conftest import REPO

from flows.cli import main
from pipeline.config import SETTINGS
from pipeline.publish.database import sql_files
from pipeline.serve.database import MACROS, PAIR_MACROS, REQUIRED_TABLES

README = (REPO / "README.md").read_text()
SQL_DOC = (REPO / "docs" / "sql.md").read_text()


def test_every_cli_verb_is_in_the_readme() -> None:
    for verb in main.commands:
        assert f"backlinks {verb}" in README, verb


@pytest.mark.parametrize("spec", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_readme_with_env_and_flag(spec) -> None:  # type: ignore[no-untyped-def]
    row = next((line for line in README.splitlines() if line.startswith(f"| `{spec.name}`")), "")
    assert spec.env_var in row and f"`{spec.flag}`" in row, spec.name


def schema_columns() -> dict[str, list[str]]:
    con = duckdb.connect()
    for sql_file in sql_files():
        con.execute(sql_file.read_text())
    rows = con.execute(
        "select table_name, column_name from duckdb_columns() where not internal order by column_index"
    ).fetchall()
    columns: dict[str, list[str]] = {}
    for table, column in rows:
        columns.setdefault(table, []).append(column)
    return columns


def test_every_table_and_column_is_in_docs_sql() -> None:
    columns = schema_columns()
    for table in REQUIRED_TABLES:
        row = next(line for line in SQL_DOC.splitlines() if line.startswith(f"| `{table}` |"))
        for column in columns[table]:
            assert re.search(rf"\b{column}\b", row), (table, column)


def test_every_macro_is_documented_and_exists() -> None:
    con = duckdb.connect()
    for sql_file in sql_files():
        con.execute(sql_file.read_text())
    defined = {r[0] for r in con.execute(
        "select function_name from duckdb_functions() where function_type = 'table_macro'").fetchall()}
    assert {*MACROS, *PAIR_MACROS} <= defined
    for macro in (*MACROS, *PAIR_MACROS):
        assert f"`{macro}(" in SQL_DOC and f"{macro}(" in README, macro


def test_run_help_mentions_inputs_and_settings() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    assert "--input" in result.output and "--files" in result.output


def test_ci_calls_exactly_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in README
    assert "pytest" in ci


def test_every_damage_kind_and_limit_is_in_docs_robustness() -> None:
    from pipeline.counters import LIMIT_COUNTERS
    from pipeline.read import framing

    text = (REPO / "docs" / "robustness.md").read_text()
    kinds = [framing.TRUNCATED, framing.BAD_GZIP, framing.NOT_A_RECORD, framing.BAD_HEADER,
             framing.LENGTH_MISMATCH, framing.TOO_LARGE]
    for name in [*kinds, *LIMIT_COUNTERS]:
        assert f"`{name}`" in text or f"`damaged_{name}`" in text, name
    for spec in SETTINGS:
        if spec.name.startswith("max_"):
            assert f"`{spec.name}`" in text, spec.name


def test_docs_sql_outputs_are_what_the_sample_returns(sample_run) -> None:  # type: ignore[no-untyped-def]
    from render_sql_docs import blocks, render_doc

    con = duckdb.connect(str(sample_run.db), read_only=True)
    rendered = render_doc(SQL_DOC, con)
    assert rendered == SQL_DOC, (
        "docs/sql.md is out of date: run tests/render_sql_docs.py on a sample database"
    )
    shown = " ".join(argument for kind, argument in blocks(SQL_DOC) if kind == "query")
    for macro in (*MACROS, *PAIR_MACROS):
        assert f"from {macro}(" in shown, f"docs/sql.md shows no output of {macro}"


def test_every_sql_example_runs_and_answers_on_the_sample(sample_run) -> None:  # type: ignore[no-untyped-def]
    from render_sql_docs import EXAMPLES, blocks

    examples = sorted(path.name for path in EXAMPLES.glob("*.sql"))
    assert len(examples) >= 10
    assert sorted(argument for kind, argument in blocks(SQL_DOC) if kind == "example") == examples
    con = duckdb.connect(str(sample_run.db), read_only=True)
    for name in examples:
        text = (EXAMPLES / name).read_text()
        assert text.startswith("-- "), f"{name} starts with the question it answers"
        rows = con.execute(text).fetchall()
        assert rows, f"{name} returns no row on the sample"

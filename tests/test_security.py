"""Security: user values never become SQL, credentials go nowhere they were not sent to."""

from __future__ import annotations

import ast
import shutil
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, SAMPLE, CliRun, run_cli
from http_server import FaultPlan, RangeFileServer

from pipeline.config import Settings
from pipeline.parts.process import process_input
from pipeline.read.sources import InputFile
from pipeline.serve.database import MACROS, run_macro

HOSTILE = [
    "x' OR 1=1 --",
    "commoncrawl.org' OR '1'='1",
    "'); drop table links; --",
    "commoncrawl.org'; select * from runs; --",
    "%",
    "_",
    "\\' or ''='",
    "commoncrawl.org\x00",
]
CLI_HOSTILE = [t for t in HOSTILE if "\x00" not in t][:5]  # argv cannot hold a NUL byte


def table_counts(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    tables = [t for (t,) in con.execute("select table_name from duckdb_tables()").fetchall()]
    return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}


@pytest.mark.parametrize("target", CLI_HOSTILE)
def test_query_verb_treats_a_hostile_target_as_a_name(sample_run: CliRun, target: str) -> None:
    before = table_counts(sample_run.db)
    result = run_cli("query", target, "--data", str(sample_run.data_dir), "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert "No referring domains of" in result.stderr
    assert table_counts(sample_run.db) == before


@pytest.mark.parametrize("macro", MACROS)
def test_every_macro_binds_a_hostile_target(sample_run: CliRun, macro: str) -> None:
    con = duckdb.connect(str(sample_run.db), read_only=True)
    # the macro works (the busiest real target, or source, has rows) ...
    column = "src_domain" if macro == "linked_domains" else "dst_domain"
    (busiest,) = con.execute(
        f"select {column} from links where external group by all order by count(*) desc, 1 limit 1"
    ).fetchone()
    columns, rows = run_macro(con, macro, busiest)
    if macro == "link_profile":  # one row, always: its counts say whether anything matched
        assert rows[0][columns.index("backlinks")] > 0
    else:
        assert rows, f"{macro}({busiest!r}) should have rows in the sample"
    # ... and a hostile one matches nothing and breaks nothing
    for target in HOSTILE:
        columns, rows = run_macro(con, macro, target)
        if macro == "link_profile":
            assert len(rows) == 1 and rows[0][columns.index("backlinks")] == 0, target
        else:
            assert rows == [], (macro, target)


@pytest.mark.parametrize("macro", MACROS)
def test_sql_verb_passes_a_hostile_literal_to_each_macro_as_a_value(sample_run: CliRun, macro: str) -> None:
    before = table_counts(sample_run.db)
    literal = "x'' OR 1=1 --"  # SQL-escaped: the macro receives x' OR 1=1 --
    # link_profile gives one row whatever the target: count its backlinks instead
    counted = "sum(backlinks)" if macro == "link_profile" else "count(*)"
    result = run_cli("sql", f"select {counted} as n from {macro}('{literal}')",
                     "--db", str(sample_run.db), "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["n", "0"]
    assert table_counts(sample_run.db) == before


def test_run_macro_refuses_an_unknown_macro_name(sample_run: CliRun) -> None:
    con = duckdb.connect(str(sample_run.db), read_only=True)
    with pytest.raises(Exception, match="unknown macro 'pages; drop table links'"):
        run_macro(con, "pages; drop table links", "x")


# Names that may be formatted into SQL text: identifiers from the code's own constants
# (placeholders is "?, ?"; export's query and options come from its constant tables), and
# quoted: the stores' view_literal results, the one literal (a URL or path inside CREATE
# VIEW or a macro, where DuckDB binds no parameter), refused unless plain
# (tests/test_object_storage.py, tests/test_views.py); quoted_by_partition: lists of them.
ALLOWED_IN_SQL = {
    "table", "macro", "view", "name", "column", "placeholders", "query", "options", "quoted",
    "quoted_by_partition",
}


def test_no_user_value_is_formatted_into_sql() -> None:
    """Every f-string that reaches ``execute`` formats only identifiers from constants."""
    offenders, formatted = [], 0
    for path in sorted((REPO / "pipeline").rglob("*.py")) + sorted((REPO / "flows").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("execute", "sql", "query") and node.args):
                continue
            first = node.args[0]
            if isinstance(first, ast.Name):  # a variable: find where it was built
                first = _assigned(tree, first.id) or first
            for value in ast.walk(first):
                if isinstance(value, ast.FormattedValue):
                    formatted += 1
                    names = {n.id for n in ast.walk(value.value) if isinstance(n, ast.Name)}
                    if not names <= ALLOWED_IN_SQL:
                        offenders.append(f"{path.name}:{node.lineno} formats {sorted(names)}")
    assert offenders == []
    assert formatted >= 2  # the scan sees the code's own f-strings (tables, macros)


def _assigned(tree: ast.AST, name: str) -> ast.expr | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return node.value
    return None


def test_a_file_name_with_quotes_is_a_path_not_sql(prefect_api: str, tmp_path: Path) -> None:
    weird = tmp_path / "it's a \"test\"; drop table links.warc.gz"
    shutil.copy(SAMPLE / "jwarc" / "cc.warc.gz", weird)
    run = run_cli("run", "--data", str(tmp_path / "data"), "--input", str(weird), "--workers", "1",
                  env={"PREFECT_API_URL": prefect_api})
    assert run.returncode == 0, run.stdout + run.stderr
    con = duckdb.connect(str(run.db), read_only=True)
    assert con.execute("select count(*) from pages").fetchone() == (1,)
    assert con.execute("select count(*) from links").fetchone()[0] > 0


# --- credentials -------------------------------------------------------------------------

FAKE_KEY_ID = "AKIAFAKEFAKEFAKE1234"
FAKE_SECRET = "fake/secret+do-not-leak/abcdefghijklmnop"


def test_https_inputs_never_carry_aws_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(SAMPLE / "jwarc" / "cc.warc.gz", root / "cc.warc.gz")
    plan = FaultPlan()
    with RangeFileServer(root, plan) as server:
        settings = replace(Settings.defaults(), data_dir=str(tmp_path / "data"))
        result = process_input(InputFile(server.base_url + "cc.warc.gz"), settings)
    assert result.pages == 1 and plan.headers_seen
    for headers in plan.headers_seen:
        assert "Authorization" not in headers and "authorization" not in headers
        assert not any(FAKE_KEY_ID in v or FAKE_SECRET in v for v in headers.values())


def test_credentials_stay_out_of_output_and_the_runs_table(
    tmp_path: Path, s3_endpoint: str, prefect_api: str
) -> None:
    """A run with AWS credentials and a password in an endpoint URL, one input failing on
    S3: neither the secret nor the password is printed or stored."""
    good = tmp_path / "good.warc.gz"
    shutil.copy(SAMPLE / "jwarc" / "cc.warc.gz", good)
    endpoint = s3_endpoint.replace("http://", "http://mirror-user:mirror-password@")
    run = run_cli(
        "run", "--data", str(tmp_path / "data"), "--workers", "1",
        "--input", str(good), "--input", "s3://private-bucket/secret.warc.gz",
        env={"AWS_ACCESS_KEY_ID": FAKE_KEY_ID, "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
             "BACKLINKS_S3_ENDPOINT_URL": endpoint, "BACKLINKS_RETRY_SECONDS": "2",
             "PREFECT_API_URL": prefect_api},
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1 and "secret.warc.gz" in output, output
    for secret in (FAKE_SECRET, "mirror-password"):
        assert secret not in output
    con = duckdb.connect(str(run.db), read_only=True)
    stored = " ".join(str(row) for row in con.execute("select * from runs").fetchall())
    assert FAKE_SECRET not in stored and "mirror-password" not in stored
    assert "***@" in stored  # the endpoint is kept, its password masked


def test_run_refuses_a_hostile_crawl_id_before_any_request(tmp_path: Path) -> None:
    """The other verbs take no SQL values: `run --crawl` checks the id's form first."""
    run = run_cli("run", "--crawl", "CC-MAIN-2024-22'; drop table links; --", "--files", "1",
                  "--data", str(tmp_path / "data"),
                  env={"BACKLINKS_INDEX_URL": "http://127.0.0.1:9/",
                       "BACKLINKS_HTTPS_BASE_URL": "http://127.0.0.1:9/"})
    assert run.returncode == 2, run.stdout + run.stderr
    assert "is not of the form CC-MAIN-YYYY-WW" in run.stderr
    assert not (tmp_path / "data" / "graph.duckdb").exists()

"""Issue 18, items 5-9, 13-18: answers that do not mislead, for query, sql, export, report and
help. Each CLI check runs the real command in a child process (a pseudo-terminal where the
terminal matters) on the session's sample database."""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import duckdb
import polars as pl
import pytest
from conftest import CliRun, run_cli
from pty_run import run_in_pty

from flows.cli import main, render
from flows.display import plural
from pipeline.errors import ExportError


def db_args(run: CliRun) -> list[str]:
    return ["--db", str(run.db)]


def one_referring_domain_target(run: CliRun) -> str:
    con = duckdb.connect(str(run.db), read_only=True)
    (target,) = con.execute(
        "select dst_domain from external_links group by dst_domain "
        "having count(distinct src_domain) = 1 order by 1 limit 1").fetchone()
    return str(target)


# --- item 5: a target with internal links only --------------------------------------------


def test_a_target_with_only_internal_links_says_so(sample_run: CliRun) -> None:
    result = run_cli("query", "wikipedia.org", *db_args(sample_run))
    assert result.returncode == 0
    con = duckdb.connect(str(sample_run.db), read_only=True)
    (links,) = con.execute("select count(*) from links where dst_domain = 'wikipedia.org'"
                           ).fetchone()
    assert links > 0
    assert (f"the {links:,} links to wikipedia.org in this graph are all from wikipedia.org "
            "itself: internal, not backlinks") in result.stderr


# --- item 6: a pasted URL -----------------------------------------------------------------


def test_a_pasted_url_uses_its_host_and_says_so(sample_run: CliRun) -> None:
    result = run_cli("query", "https://plus.google.com/", "--format", "csv", *db_args(sample_run))
    assert result.returncode == 0, result.stderr
    assert "Using the host of the URL: plus.google.com" in result.stderr
    assert len(result.stdout.splitlines()) > 1  # rows, not "no referring domains"


# --- item 7: how many there are, and tables that fit -------------------------------------


def test_query_says_how_many_referring_domains_there_are(sample_run: CliRun) -> None:
    result = run_cli("query", "google.com", "--limit", "1", *db_args(sample_run))
    con = duckdb.connect(str(sample_run.db), read_only=True)
    (total,) = con.execute("select count(*) from referring_domains('google.com')").fetchone()
    assert total > 1
    assert f"1 of {total} referring domains of google.com (--limit N for more)" in result.stderr
    single = one_referring_domain_target(sample_run)
    alone = run_cli("query", single, *db_args(sample_run))
    assert f"1 referring domain of {single}" in alone.stderr  # singular


def test_plurals() -> None:
    assert plural(1, "part") == "1 part" and plural(2, "part") == "2 parts"
    assert plural(1, "referring domain") == "1 referring domain"
    assert plural(6403, "referring domain") == "6,403 referring domains"
    assert plural(1, "vertex", "vertices") == "1 vertex"


def test_a_table_is_cut_to_the_width_it_is_given() -> None:
    rows = [("example.com", 12.5, "a" * 90), ("b.example", 0.0, "short")]
    text = render(["domain", "authority", "anchors"], rows, "table", fit=40)
    assert all(len(line) <= 40 for line in text.splitlines())
    assert "…" in text and "12.5" in text and "example.com" in text  # numbers are never cut


def test_query_in_a_terminal_fits_its_width(sample_run: CliRun) -> None:
    result = run_in_pty("query", "twitter.com", *db_args(sample_run), columns=80)
    assert result.returncode == 0, result.text
    table = [line for line in result.text.splitlines() if line.startswith(("referring", "---"))]
    assert table and all(len(line) <= 80 for line in table)
    assert "more columns not shown: " in result.text and "--format csv" in result.text


def test_sql_in_a_terminal_caps_a_large_result_with_a_note(sample_run: CliRun) -> None:
    result = run_in_pty("sql", "select range as n from range(1000)", *db_args(sample_run))
    assert result.returncode == 0, result.text
    lines = result.text.splitlines()
    assert "199" in lines and "200" not in lines
    assert "200 of 1,000 rows shown" in result.text
    piped = run_cli("sql", "select range as n from range(1000)", *db_args(sample_run))
    assert len(piped.stdout.splitlines()) == 1002  # header, rule and every row


# --- item 8: the export format ------------------------------------------------------------


def test_export_takes_its_format_from_the_extension(sample_run: CliRun, tmp_path: Path) -> None:
    csv_file = tmp_path / "g2.csv"
    result = run_cli("export", "google.com", "-o", str(csv_file), *db_args(sample_run))
    assert result.returncode == 0, result.stderr
    assert csv_file.read_text().startswith("src_url,")  # CSV, not Parquet
    mismatch = run_cli("export", "google.com", "-o", str(tmp_path / "g3.csv"), "--format",
                       "parquet", *db_args(sample_run))
    assert mismatch.returncode == 2
    assert "says csv but --format is parquet" in mismatch.stderr
    assert not (tmp_path / "g3.csv").exists()


# --- item 9: Unicode targets in SQL -------------------------------------------------------


def test_sql_with_a_unicode_target_says_to_use_punycode(sample_run: CliRun) -> None:
    result = run_cli("sql", "select * from referring_domains('bücher.de')", *db_args(sample_run))
    assert result.returncode == 0
    assert "'xn--bcher-kva.de' for 'bücher.de'" in result.stderr


def test_the_macros_say_they_take_punycode() -> None:
    root = Path(__file__).resolve().parent.parent
    assert "punycode" in (root / "sql" / "macros" / "00_target.sql").read_text()
    assert "xn--bcher-kva.de" in (root / "docs" / "sql.md").read_text()


# --- item 13: several statements, and the prompt's commands --------------------------------


def test_sql_prints_the_result_of_each_statement(sample_run: CliRun) -> None:
    completed = __import__("subprocess").run(
        [sys.executable, "-m", "flows.cli", "sql", *db_args(sample_run), "--format", "csv"],
        input="select 1 as first; select 2 as second;", capture_output=True, text=True,
        cwd=Path(__file__).resolve().parent.parent, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["first", "1", "second", "2"]


def test_the_prompt_knows_tables_help_and_quit(sample_run: CliRun) -> None:
    result = run_in_pty("sql", *db_args(sample_run),
                        typed=".tables\n.help\nselect 41 + 1 as answer;\n.quit\n", timeout=120)
    assert result.returncode == 0, result.text
    assert "table macro  referring_domains" in result.text and "table        links" in result.text
    assert ".quit     leave" in result.text
    assert "42" in [line.strip() for line in result.text.splitlines()]


# --- item 14: report and export agree on -o and --force --------------------------------


def test_report_and_export_write_into_a_folder_and_refuse_to_replace(
    sample_run: CliRun, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    for verb, name in (("report", "google.com.html"), ("export", "google.com.parquet")):
        first = run_cli(verb, "google.com", "-o", str(folder), *db_args(sample_run))
        assert first.returncode == 0, first.stderr
        assert (folder / name).is_file() and str(folder / name) in first.stderr
        again = run_cli(verb, "google.com", "-o", str(folder), *db_args(sample_run))
        assert again.returncode == 2 and "pass --force to replace it" in again.stderr
        forced = run_cli(verb, "google.com", "-o", str(folder), "--force", *db_args(sample_run))
        assert forced.returncode == 0, forced.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["google.com.html", "google.com.parquet"]


def test_an_export_error_names_the_file_not_its_temporary(tmp_path: Path) -> None:
    from pipeline.serve import export

    class Refusing:
        def execute(self, sql: str, parameters: object = None) -> object:
            if sql.startswith("copy"):
                path = parameters["path"]  # type: ignore[index]
                raise duckdb.IOException(f'Could not write file "{path}": No space left')
            return self

    target = tmp_path / "x.csv"
    with pytest.raises(ExportError) as caught:
        export._copy(Refusing(), "select 1", export.ROW_FORMATS["csv"], {}, target)  # type: ignore[arg-type]
    message = str(caught.value)
    assert str(target) in message and ".tmp" not in message.replace(str(target), "")
    assert list(tmp_path.iterdir()) == []


# --- item 15: help ------------------------------------------------------------------------


def test_every_option_is_described_and_every_verb_has_an_example() -> None:
    for name, command in main.commands.items():  # type: ignore[attr-defined]
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"backlinks {name} {param.opts[0]} has no description"
        assert f"backlinks {name}" in (command.help or ""), f"backlinks {name}: no example"


# --- item 17: exports read back with the right types --------------------------------------


def test_exports_read_back_with_the_right_types(sample_run: CliRun, tmp_path: Path) -> None:
    files = {fmt: tmp_path / f"all.{fmt}" for fmt in ("parquet", "csv", "jsonl")}
    for path in files.values():
        result = run_cli("export", "--all", "-o", str(path), *db_args(sample_run))
        assert result.returncode == 0, result.stderr
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    order = "order by src_url, dst_url, anchor, link_type, context, fetch_time"

    def utc(value: datetime) -> datetime:
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value

    expected = [utc(t) for (t,) in con.execute(
        f"select fetch_time from read_parquet('{files['parquet']}') {order}").fetchall()]
    assert all("T" in v and v.endswith("Z") for v in
               pl.read_csv(files["csv"], infer_schema=False)["fetch_time"])
    for reader, fmt in (("read_csv", "csv"), ("read_json", "jsonl")):
        source = f"{reader}('{files[fmt]}')"
        types = {name: kind for name, kind, *_ in con.execute(
            f"describe select * from {source}").fetchall()}
        assert types["nofollow"] == "BOOLEAN" and types["sitewide"] == "BOOLEAN", types
        assert types["fetch_time"].startswith("TIMESTAMP"), types
        got = [utc(t) for (t,) in con.execute(f"select fetch_time from {source} {order}"
                                              ).fetchall()]
        assert got == expected, reader
    polars_csv = pl.read_csv(files["csv"], try_parse_dates=True)
    assert polars_csv.schema["fetch_time"] == pl.Datetime("us", "UTC")
    assert polars_csv.schema["nofollow"] == pl.Boolean
    polars_json = pl.read_ndjson(files["jsonl"])
    assert polars_json.schema["nofollow"] == pl.Boolean and polars_json.schema["sitewide"] == \
        pl.Boolean
    parsed = polars_json["fetch_time"].str.to_datetime(time_zone="UTC")
    assert sorted(utc(t) for t in parsed.to_list()) == sorted(expected)


# --- item 18: the duckdb shell ------------------------------------------------------------


def test_the_duckdb_shell_of_the_readme_is_installed(sample_run: CliRun) -> None:
    shell = Path(sys.executable).parent / "duckdb"
    assert shell.exists() or shutil.which("duckdb"), "duckdb-cli is not installed"
    completed = __import__("subprocess").run(
        [str(shell if shell.exists() else shutil.which("duckdb")), "-readonly", "-csv",
         str(sample_run.db), "-c", "select count(*) as hosts from hosts"],
        capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    con = duckdb.connect(str(sample_run.db), read_only=True)
    assert completed.stdout.split() == ["hosts", str(con.execute(
        "select count(*) from hosts").fetchone()[0])]


def test_a_report_that_cannot_be_written_names_the_file_not_its_temporary() -> None:
    from pipeline.serve.report import write_report

    with pytest.raises(ExportError) as caught:
        write_report("<html></html>", Path("/proc/report.html"))  # no file can be made there
    assert str(caught.value) == "cannot write the report to '/proc/report.html': No such file " \
        "or directory"

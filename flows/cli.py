"""The ``backlinks`` command: run, crawls, query, sql, export, report.

The library raises BacklinksError; this module turns it into a message and an exit status.
Exit status: 0 success; 1 some input failed for good (the graph of the others is still
published) or nothing could be processed; 2 bad usage, a bad setting or a missing database.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from pipeline.config import SETTINGS, Settings, load_settings
from pipeline.counters import FAMILIES, family
from pipeline.errors import BacklinksError, ConfigError, DatabaseError

if TYPE_CHECKING:
    from pipeline.parts.process import InputResult
    from pipeline.runs import InputFailure, RunSummary

EXIT_OK, EXIT_INPUT_FAILED, EXIT_USAGE = 0, 1, 2
FORMATS = ("table", "csv", "json")
FORMATS_IN = ("warc", "wat")
EXPORT_FORMATS = ("parquet", "csv", "jsonl", "webgraph")


class Failure(click.ClickException):
    """A BacklinksError as the CLI shows it (exit status 2, or as given)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.__dict__["exit_code"] = exit_code

    def show(self, file: Any = None) -> None:
        click.secho(f"Error: {self.format_message()}", err=True, fg="red")


def _settings_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """One flag per setting, generated from the settings table (see config.py)."""
    for spec in reversed(SETTINGS):
        help_text = f"{spec.help} [env {spec.env_var}; default {spec.default!r}]"
        if isinstance(spec.default, bool):
            flag = f"{spec.flag}/--no-{spec.flag[2:]}"
            option = click.option(flag, spec.name, default=None, help=help_text)
        else:
            kind: click.ParamType[Any] = click.STRING
            if spec.choices:
                kind = click.Choice(spec.choices)
            elif isinstance(spec.default, float):
                kind = click.FLOAT
            elif isinstance(spec.default, int):
                kind = click.INT
            option = click.option(spec.flag, spec.name, type=kind, default=None, help=help_text)
        command = option(command)
    return click.option(
        "--config", "config_file", type=click.Path(dir_okay=False),
        help="A TOML file of settings (see config/default.toml) [env BACKLINKS_CONFIG].",
    )(command)


def _load(config_file: str | None, overrides: dict[str, Any]) -> Settings:
    try:
        return load_settings(overrides, config_file=config_file)
    except ConfigError as exc:
        raise Failure(str(exc)) from exc


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(_cell(item) for item in value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, width: int = 60) -> str:
    """Rows as an aligned text table, CSV or JSON (a list of objects)."""
    if fmt == "json":
        records = [{c: _jsonable(v) for c, v in zip(columns, row)} for row in rows]
        return json.dumps(records, ensure_ascii=False, indent=1)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        return out.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in row] for row in rows]
    cells = [[c if len(c) <= width else c[: width - 1] + "…" for c in row] for row in cells]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]
    numeric = [
        all(isinstance(row[i], int | float) and not isinstance(row[i], bool) for row in rows)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)
        ).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cc-backlinks")
def main() -> None:
    """cc-backlinks: a backlink graph from Common Crawl WARC files, queried with SQL.

    \b
    backlinks run                       build the graph from the bundled sample
    backlinks crawls                    the crawls Common Crawl has published
    backlinks run --crawl CC-MAIN-2024-22 --files 10
    backlinks run --input 'warcs/*.warc.gz' --data mydata
    backlinks query example.com         referring domains of example.com
    backlinks sql "select * from anchors('example.com')"
    backlinks export example.com --format csv -o example.csv
    backlinks report example.com -o example.html
    """


def _progress_line(done: int, total: int, item: InputResult | InputFailure | str) -> None:
    from pipeline.runs import InputFailure

    if isinstance(item, str):
        click.echo(f"... {item}", err=True)
        return
    name = os.path.basename(item.input)
    if isinstance(item, InputFailure):
        click.secho(f"[{done}/{total}] FAILED {name}: {_without_prefix(item.message, item.input)}",
                    err=True, fg="red")
    elif item.reused:
        click.echo(f"[{done}/{total}] reused {name} (complete part exists)", err=True)
    else:
        click.echo(
            f"[{done}/{total}] done   {name}: {item.records:,} records, {item.pages:,} pages, "
            f"{item.links:,} links, {item.seconds:.1f}s",
            err=True,
        )
    if not isinstance(item, InputFailure) and item.damage:
        click.secho(
            f"[{done}/{total}] DAMAGED {name}: {len(item.damage):,} damaged stretch(es) "
            f"skipped, the rest kept; first {item.damage[0]}",
            err=True, fg="yellow",
        )


def _without_prefix(message: str, name: str) -> str:
    """Errors name their input first; the line that prints both needs it once."""
    return message[len(name) + 2 :] if message.startswith(f"{name}: ") else message


def _print_summary(summary: RunSummary) -> None:
    graph = summary.graph
    pages_per_second = summary.pages / summary.seconds if summary.seconds else 0.0
    status = "partial (some inputs failed)" if summary.failures else "complete"
    lines = [
        f"Run {summary.run_id}: {status}",
        f"  inputs    {summary.inputs:,} ({summary.processed:,} processed, "
        f"{summary.reused:,} reused, {len(summary.failures):,} failed)",
        f"  records   {summary.records:,}",
        f"  pages     {summary.pages:,}",
        f"  links     {summary.links:,} between hosts stored "
        f"({summary.counters.get('links_found', 0):,} found)",
    ]
    if graph is not None:
        lines.append(
            f"  graph     {graph.hosts:,} hosts, {graph.domains:,} domains, "
            f"{graph.host_edges:,} host edges, {graph.domain_edges:,} domain edges "
            f"(all {graph.parts:,} parts)"
        )
    for label, prefixes in FAMILIES.items():
        counted = family(summary.counters, prefixes)
        if counted:
            lines.append(f"  {label:9} " + ", ".join(f"{k} {v:,}" for k, v in counted.items()))
    lines.append(f"  seconds   {summary.seconds:.1f} ({pages_per_second:.1f} pages/s)")
    for failure in summary.failures:
        lines.append(f"  FAILED    {failure.input}: {_without_prefix(failure.message, failure.input)}")
    for name, notes in summary.damaged.items():
        lines.append(f"  DAMAGED   {name}: {notes[0]} (kept the rest; see its part.json)")
    if summary.db_path is not None:
        lines.append(f"  database  {summary.db_path}")
        lines.append(f"Next: backlinks query <domain> --db {summary.db_path}")
    else:
        lines.append("  database  not published: no input could be processed")
    click.echo("\n".join(lines))


@main.command()
@click.option(
    "--input", "-i", "inputs", multiple=True, metavar="PATH_OR_URL",
    help="A WARC or WAT file (.warc, .warc.gz, .warc.wat.gz), a folder of them, a glob, or "
    "an https:// or s3:// URL; repeatable. Without --input and --crawl: the bundled Common "
    "Crawl sample.",
)
@click.option(
    "--crawl", metavar="CC-MAIN-YYYY-WW",
    help="A Common Crawl crawl to read (see `backlinks crawls`); its files are streamed from "
    "the --source. Needs --files, --sample or --shard.",
)
@click.option("--files", type=click.IntRange(min=1), help="Process only the first N files.")
@click.option("--offset", type=click.IntRange(min=0), default=0,
              help="With --crawl: skip the first K files of the crawl's list.")
@click.option("--sample", type=click.IntRange(min=1),
              help="With --crawl: N files of the crawl chosen at random (see --seed).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of --sample: the same seed chooses the same files.")
@click.option("--shard", metavar="I/N",
              help="With --crawl: every N-th file starting at the I-th (0 <= I < N), to split "
              "a crawl across machines.")
@click.option("--format", "file_format", type=click.Choice(FORMATS_IN), default="warc",
              show_default=True,
              help="Read WARC files (links parsed from the HTML) or WAT files (links from "
              "Common Crawl's metadata; smaller, less detail). With --crawl: which paths "
              "file; with a folder: which files it contributes.")
@click.option("--verbose", "-v", is_flag=True, help="Show Prefect's own log lines.")
@_settings_options
def run(
    inputs: tuple[str, ...], crawl: str | None, files: int | None, offset: int,
    sample: int | None, seed: int, shard: str | None, file_format: str, verbose: bool,
    config_file: str | None, **overrides: Any,
) -> None:
    """Build or update the backlink graph and publish it as a DuckDB database.

    \b
    backlinks run                                   the bundled sample, offline
    backlinks run --crawl CC-MAIN-2024-22 --files 10
    backlinks run --crawl CC-MAIN-2024-22 --sample 100 --seed 7 --format wat
    backlinks run --input s3://commoncrawl/crawl-data/.../x.warc.gz --source s3
    backlinks run --runner dask --scheduler tcp://scheduler:8786 --crawl ... --files 100
    backlinks run --data s3://my-bucket/backlinks --db graph.duckdb --crawl ... --files 10

    Each input becomes a part in the data folder (a re-run reuses complete parts); then all
    parts are aggregated and the database is replaced atomically. Exit status 1 when an
    input failed (the others are still published).
    """
    settings = _load(config_file, overrides)
    try:  # an unusable data location or database path fails before any work
        settings.data_store()
        settings.db_path  # noqa: B018
    except ConfigError as exc:
        raise Failure(str(exc)) from exc
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "ERROR")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "info" if verbose else "error")
    from flows.build import progress, run_build
    from pipeline.read.crawls import Selection, crawl_inputs, parse_shard
    from pipeline.read.sources import list_inputs, sample_inputs

    if crawl is None and (sample is not None or shard is not None or offset):
        raise Failure("--offset, --sample and --shard choose files of a --crawl; add --crawl")
    try:
        if crawl is not None:
            selection = Selection(
                files=files, offset=offset, sample=sample, seed=seed,
                shard=parse_shard(shard) if shard is not None else None,
            )
            click.echo(f"Listing the {file_format} files of {crawl} ...", err=True)
            listing_retries: Counter[str] = Counter()
            sources = crawl_inputs(crawl, file_format, selection, settings, listing_retries)
            if listing_retries:
                click.echo("... the list needed " + ", ".join(
                    f"{k} {v:,}" for k, v in sorted(listing_retries.items())), err=True)
        else:
            sources = list_inputs(inputs, file_format) if inputs else sample_inputs()
            if files is not None:
                sources = sources[:files]
    except ConfigError as exc:
        raise Failure(str(exc)) from exc
    except BacklinksError as exc:
        raise Failure(str(exc), EXIT_INPUT_FAILED) from exc
    if inputs and crawl is not None:
        sources += list_inputs(inputs, file_format)
    if not sources:
        raise Failure("no inputs: pass --input PATH (a WARC file, a folder or a glob) or --crawl")
    label = (
        f"crawl {crawl}" if crawl else "your inputs" if inputs else "the bundled Common Crawl sample"
    )
    click.echo(
        f"Processing {len(sources):,} input(s) from {label} with {settings.worker_count} "
        f"worker(s); data in {settings.data_store().location}",
        err=True,
    )
    try:
        with progress(_progress_line):
            summary = run_build(sources, settings)
    except BacklinksError as exc:
        raise Failure(str(exc), EXIT_INPUT_FAILED) from exc
    _print_summary(summary)
    if summary.failures or not summary.published:
        sys.exit(EXIT_INPUT_FAILED)


@main.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--index-url", default=None,
              help="Base URL of the index server [env BACKLINKS_INDEX_URL; default "
              "https://index.commoncrawl.org/].")
def crawls(fmt: str, index_url: str | None) -> None:
    """The crawls Common Crawl has published, newest first (from its collinfo.json)."""
    from pipeline.read.crawls import list_crawls

    settings = _load(None, {"index_url": index_url})
    try:
        found = list_crawls(settings)
    except BacklinksError as exc:
        raise Failure(str(exc), EXIT_INPUT_FAILED) from exc
    rows = [(c.id, c.name, c.start, c.end) for c in found]
    click.echo(render(["id", "name", "from", "to"], rows, fmt))


def _db_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--db", default=None, help="The database [env BACKLINKS_DB; default <data>/graph.duckdb]."
    )(command)
    return click.option(
        "--data", "data_dir", default=None,
        help="The local data folder whose graph.duckdb to use [env BACKLINKS_DATA_DIR].",
    )(command)


def _open(db: str | None, data_dir: str | None) -> Any:
    from pipeline.serve.database import connect

    settings = _load(None, {"db": db, "data_dir": data_dir})
    try:
        return connect(settings.db_path)
    except (DatabaseError, ConfigError) as exc:
        raise Failure(str(exc)) from exc


@main.command()
@click.argument("target")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_db_options
def query(target: str, limit: int, fmt: str, db: str | None, data_dir: str | None) -> None:
    """Referring domains of TARGET (a registered domain or a host), with counts and anchors.

    The same rows as SQL's `select * from referring_domains('TARGET')`.
    """
    from pipeline.serve.database import run_macro

    con = _open(db, data_dir)
    normalized = _normalized_target(target)
    columns, rows = run_macro(con, "referring_domains", normalized, limit=limit)
    if rows:
        click.echo(render(columns, rows, fmt))
        return
    if fmt != "table":
        click.echo(render(columns, rows, fmt))
    similar = con.execute(
        "select host from hosts where contains(host, ?) order by in_domains desc, host limit 5",
        [normalized],
    ).fetchall()
    hint = f" Hosts in the graph like it: {', '.join(h for (h,) in similar)}." if similar else ""
    click.echo(f"No referring domains of {normalized!r} in this graph.{hint}", err=True)


@main.command()
@click.argument("target", required=False)
@click.option("--all", "everything", is_flag=True,
              help="Every backlink in the graph (or, with --format webgraph, the whole graph).")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="parquet",
              show_default=True,
              help="parquet, csv or jsonl: backlink rows; webgraph: the host or domain graph "
              "in cc-webgraph's layout (needs --all).")
@click.option("--graph", type=click.Choice(("host", "domain")), default="host",
              show_default=True, help="With --format webgraph: which graph.")
@click.option("--output", "-o", required=True, metavar="PATH",
              help="The file to write; with --format webgraph, the prefix of "
              "PATH-vertices.txt.gz and PATH-edges.txt.gz.")
@click.option("--force", is_flag=True, help="Replace files that exist.")
@_db_options
def export(
    target: str | None, everything: bool, fmt: str, graph: str, output: str, force: bool,
    db: str | None, data_dir: str | None,
) -> None:
    """Write the backlinks of TARGET, or with --all every backlink, to a file; or the host
    or domain graph for WebGraph tools.

    \b
    backlinks export example.com -o example.parquet
    backlinks export example.com --format csv -o example.csv
    backlinks export --all --format jsonl -o backlinks.jsonl
    backlinks export --all --format webgraph --graph domain -o graph/domain

    Backlink rows have the columns of SQL's backlinks('TARGET') (with --all: of the
    external_links view). Files are written under a temporary name and renamed when
    complete; an existing file is replaced only with --force.
    """
    from pathlib import Path

    from pipeline.serve.export import export_backlinks, export_webgraph

    if (target is None) == (not everything):
        raise Failure("name a TARGET (a domain or host) or pass --all, not both")
    if fmt == "webgraph" and not everything:
        raise Failure("--format webgraph writes the whole graph; pass --all instead of a TARGET")
    con = _open(db, data_dir)
    path = Path(output).expanduser()
    try:
        if fmt == "webgraph":
            files = export_webgraph(con, graph, path, force=force)
            click.echo(f"Wrote the {graph} graph: {files.vertex_count:,} vertices to "
                       f"{files.vertices}, {files.edge_count:,} edges to {files.edges}", err=True)
            return
        name = None if target is None else _normalized_target(target)
        rows = export_backlinks(con, name, fmt, path, force=force)
    except BacklinksError as exc:
        raise Failure(str(exc)) from exc
    what = "every backlink" if name is None else f"the backlinks of {name!r}"
    click.echo(f"Wrote {rows:,} rows ({what}) to {path}", err=True)


@main.command()
@click.argument("target")
@click.option("--output", "-o", default="report.html", show_default=True, metavar="PATH",
              help="The HTML file to write (replaced if it exists).")
@_db_options
def report(target: str, output: str, db: str | None, data_dir: str | None) -> None:
    """Write TARGET's backlink profile as one self-contained HTML file: headline numbers,
    charts (authority, rel flags, link types, contexts, anchors, new and lost referring
    domains by crawl) and the top referring domains and pages. It opens offline.

    \b
    backlinks report example.com -o example.html
    """
    from pathlib import Path

    from pipeline.serve.report import gather, render_html, write_report

    con = _open(db, data_dir)
    name = _normalized_target(target)
    path = Path(output).expanduser()
    try:
        data = gather(con, name)
        write_report(render_html(data), path)
    except BacklinksError as exc:
        raise Failure(str(exc)) from exc
    if data.empty:
        click.echo(f"No backlinks of {name!r} in this graph; wrote an empty report to {path}",
                   err=True)
        return
    click.echo(
        f"Wrote the backlink profile of {name!r} ({data.profile['backlinks']:,} backlinks from "
        f"{data.profile['referring_domains']:,} referring domains) to {path}", err=True)


def _normalized_target(target: str) -> str:
    """A target as the graph spells hosts (lowercase, punycode); as given if not a host."""
    from pipeline.extract.urls import normalize_host

    return normalize_host(target.strip().rstrip(".")) or target.strip().lower()


@main.command()
@click.argument("sql_text", metavar="[QUERY]", required=False)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@_db_options
def sql(sql_text: str | None, fmt: str, db: str | None, data_dir: str | None) -> None:
    """Run SQL against the graph (read-only). Without QUERY: read SQL from standard input,
    or open a prompt when standard input is a terminal.

    \b
    backlinks sql "select * from referring_domains('example.com') limit 10"
    backlinks sql "select * from graph_summary"
    """
    import duckdb

    con = _open(db, data_dir)

    def execute(text: str) -> None:
        try:
            result = con.execute(text)
        except duckdb.Error as exc:
            raise Failure(f"SQL error: {exc}") from exc
        if result.description:
            columns = [column[0] for column in result.description]
            click.echo(render(columns, result.fetchall(), fmt))

    if sql_text is not None:
        execute(sql_text)
        return
    if not sys.stdin.isatty():
        execute(sys.stdin.read())
        return
    click.echo("Enter SQL ending with ';' (Ctrl-D to quit). Tables: pages, links, host_edges, "
               "domain_edges, hosts, domains, crawls, runs; docs/sql.md lists the macros.", err=True)
    buffer = ""
    while True:
        try:
            buffer += input("backlinks> " if not buffer else "      ...> ") + "\n"
        except EOFError:
            break
        if buffer.strip().endswith(";"):
            try:
                execute(buffer)
            except Failure as exc:
                exc.show()
            buffer = ""


if __name__ == "__main__":
    main()

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

from flows.display import plural
from pipeline.config import SETTINGS, Settings, load_settings
from pipeline.counters import FAMILIES, family
from pipeline.errors import BacklinksError, ConfigError, DatabaseError

if TYPE_CHECKING:
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


MIN_COLUMN = 8  # a text column is never cut narrower than this (or its header)


def terminal_width() -> int | None:
    """The width of standard output when it is a terminal, else None (no fitting)."""
    import shutil

    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size((100, 24)).columns


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, width: int = 60,
           fit: int | None = None) -> str:
    """Rows as an aligned text table, CSV or JSON (a list of objects). A table's cells are cut
    at ``width`` characters, and with ``fit`` (a terminal's width) its widest text columns
    are narrowed until a line fits, long cells ending in an ellipsis."""
    if fmt == "json":
        records = [{c: _jsonable(v) for c, v in zip(columns, row)} for row in rows]
        return json.dumps(records, ensure_ascii=False, indent=1)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        return out.getvalue().rstrip("\n")
    cells = [[_cell(v).replace("\n", " ") for v in row] for row in rows]
    numeric = [
        bool(rows) and all(isinstance(row[i], int | float) and not isinstance(row[i], bool)
                           for row in rows)
        for i in range(len(columns))
    ]
    widths = [min(width, max([len(name)] + [len(row[i]) for row in cells]))
              for i, name in enumerate(columns)]
    hidden: list[str] = []
    if fit is not None:
        floors = [w if numeric[i] else min(w, max(MIN_COLUMN, len(columns[i])))
                  for i, w in enumerate(widths)]
        while sum(widths) + 2 * (len(widths) - 1) > fit:
            shrinkable = [i for i in range(len(widths)) if widths[i] > floors[i]]
            if shrinkable:
                widest = max(shrinkable, key=lambda i: widths[i])
                widths[widest] -= 1
            elif len(widths) > 1:  # the last (least significant) columns do not fit at all
                hidden.insert(0, columns[len(widths) - 1])
                widths.pop()
            else:
                break
        columns = list(columns[: len(widths)])
        cells = [row[: len(widths)] for row in cells]
    cells = [[c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(row, widths)]
             for row in cells]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)
        ).rstrip()

    header = [name if len(name) <= w else name[: w - 1] + "…" for name, w in zip(columns, widths)]
    note = ([f"({plural(len(hidden), 'more column')} not shown: {', '.join(hidden)}; widen the "
             "terminal or use --format csv)"] if hidden else [])
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells), *note])


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


def _progress_line(done: int, total: int, item: Any) -> str | None:
    """The line of a finished input (and its DAMAGED line), or of a message; None for the
    steps (the displays draw those)."""
    from pipeline.runs import InputFailure

    if isinstance(item, str):
        return f"... {item}"
    if not hasattr(item, "input"):
        return None
    name = os.path.basename(item.input.rstrip("/"))
    if isinstance(item, InputFailure):
        return f"[{done}/{total}] FAILED {name}: {_failure_text(item)}"
    if item.reused:
        line = f"[{done}/{total}] reused {name} (complete part exists)"
    else:
        line = (f"[{done}/{total}] done   {name}: {plural(item.records, 'record')}, "
                f"{plural(item.pages, 'page')}, {plural(item.links, 'link')}, {item.seconds:.1f}s")
    if item.damage:
        line += (f"\n[{done}/{total}] DAMAGED {name}: {len(item.damage):,} damaged "
                 f"stretch(es) skipped, the rest kept; first {item.damage[0]}")
    return line


def _say_retry(message: str) -> None:
    click.echo(f"... {message}", err=True)


def _without_prefix(message: str, name: str) -> str:
    """Errors name their input first; the line that prints both needs it once."""
    return message[len(name) + 2 :] if message.startswith(f"{name}: ") else message


_LOCAL_ADVICE = (("re-download the file", "copy or write the file again"),
                 ("re-download it", "copy or write it again"))


def _failure_text(failure: InputFailure) -> str:
    """A failed input's message without its path (the line names it), and for a local file
    no advice to download it again."""
    import re

    message = _without_prefix(failure.message, failure.input)
    offset = re.search(r" at byte offset \d+$", message)
    if offset and "; " in message:  # where it went wrong, then what to do about it
        head, advice = message[: offset.start()].split("; ", 1)
        message = f"{head}{offset.group(0)}; {advice}"
    if "://" not in failure.input:
        for remote, local in _LOCAL_ADVICE:
            message = message.replace(remote, local)
    return message


def invoked_as() -> str:
    """How this command was typed, so that a suggested command can be typed as shown:
    './backlinks' (the launcher at the repository's root, which names itself in
    BACKLINKS_LAUNCHER), 'python3 -m uv run backlinks', 'uv run backlinks', 'backlinks'
    or 'python -m flows.cli'."""
    launcher = os.environ.get("BACKLINKS_LAUNCHER")
    if launcher:
        return launcher
    if os.environ.get("UV_RUN_RECURSION_DEPTH"):
        parent = os.environ.get("UV_INTERNAL__PARENT_INTERPRETER")
        if parent:
            return f"{os.path.basename(parent)} -m uv run backlinks"
        return "uv run backlinks"
    original = getattr(sys, "orig_argv", [])
    if "-m" in original and "flows.cli" in original:
        return f"{os.path.basename(original[0])} -m flows.cli"
    return "backlinks"


def _db_argument(db_path: Any) -> str:
    """' --db PATH' unless the database is where a plain command finds it."""
    import shlex
    from pathlib import Path

    try:
        default = load_settings({}).db_path
    except (ConfigError, OSError):
        default = None
    if default is not None and Path(db_path) == default:
        return ""
    shown = str(db_path)
    try:
        relative = Path(db_path).relative_to(Path.cwd())
        shown = str(relative)
    except ValueError:
        pass
    return f" --db {shlex.quote(shown)}"


def _status(summary: RunSummary) -> str:
    if summary.failures and not summary.processed and not summary.reused:
        return "failed (every input failed)"
    if summary.failures:
        return "partial (some inputs failed)"
    if getattr(summary, "unchanged", False):
        return "complete (nothing new)"
    return "complete"


def _print_summary(summary: RunSummary, wall_seconds: float | None = None) -> None:
    graph = summary.graph
    lines = [
        f"Run {summary.run_id}: {_status(summary)}",
        f"  inputs    {summary.inputs:,} ({summary.processed:,} processed, "
        f"{summary.reused:,} reused, {len(summary.failures):,} failed)",
    ]
    if summary.processed:
        lines.append(
            f"  this run  {plural(summary.records, 'record')}, {plural(summary.pages, 'page')}, "
            f"{plural(summary.links, 'link')} between hosts stored "
            f"({summary.counters.get('links_found', 0):,} found)"
        )
    elif summary.reused:
        lines.append(f"  this run  nothing read: {'the' if summary.reused == 1 else 'all'} "
                     f"{plural(summary.reused, 'input')} had a complete part")
    if graph is not None:
        parts = "the 1 part" if graph.parts == 1 else f"all {graph.parts:,} parts"
        lines.append(
            f"  graph     {plural(graph.pages, 'page')}, {plural(graph.links, 'link')}, "
            f"{plural(graph.hosts, 'host')}, {plural(graph.domains, 'domain')}, "
            f"{plural(graph.host_edges, 'host edge')}, "
            f"{plural(graph.domain_edges, 'domain edge')} ({parts})"
        )
        if graph.unranked_hosts or graph.unranked_domains:
            lines.append(
                f"  ranks     {plural(graph.unranked_hosts, 'host')} and "
                f"{plural(graph.unranked_domains, 'domain')} not in the ranks file "
                "(null ranks and authority)")
    for label, prefixes in FAMILIES.items():
        counted = family(summary.counters, prefixes)
        if counted:
            lines.append(f"  {label:9} " + ", ".join(f"{k} {v:,}" for k, v in counted.items()))
    seconds = f"  seconds   {summary.seconds:.1f}"
    if summary.processed and summary.pages:
        seconds += f" ({summary.pages / max(summary.seconds, 1e-9):.1f} pages/s)"
    if wall_seconds is not None and wall_seconds > summary.seconds + 0.05:
        seconds += f"; {wall_seconds:.1f} in all, start-up included"
    lines.append(seconds)
    for failure in summary.failures:
        lines.append(f"  FAILED    {failure.input}: {_failure_text(failure)}")
    for name, notes in summary.damaged.items():
        lines.append(f"  DAMAGED   {name}: {notes[0]} (kept the rest; see its part.json)")
    for note in summary.notes:
        lines.append(f"  NOTE      {note}")
    if summary.db_path is not None:
        lines.append(f"  database  {summary.db_path}")
        lines.append(f"Next: {invoked_as()} query <domain>{_db_argument(summary.db_path)}")
    else:
        lines.append("  database  not published: no input could be processed")
    click.echo("\n".join(lines))


def _check_arguments(arguments: Sequence[str], file_format: str) -> None:
    """Paths that do not exist, globs that match nothing and folders without inputs are
    bad usage: said at once, before anything starts."""
    from pipeline.read.sources import explain_unusable

    problems = explain_unusable(arguments, file_format)
    if problems:
        raise Failure("; ".join(problems) + ("" if len(problems) == 1 else
                                             f" ({len(problems)} inputs)"))


@main.command(short_help="Build or update the backlink graph and publish it.")
@click.argument("paths", nargs=-1, metavar="[PATH_OR_URL]...")
@click.option(
    "--input", "-i", "inputs", multiple=True, metavar="PATH_OR_URL",
    help="A WARC or WAT file (.warc, .warc.gz, .warc.wat.gz), a folder of them, a glob, or "
    "an https:// or s3:// URL; repeatable, and further paths may follow (as positional "
    "arguments). Without inputs and --crawl: the bundled Common Crawl sample.",
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
@click.option("--quiet", "-q", is_flag=True,
              help="Print the summary and errors only: no progress display.")
@click.option("--verbose", "-v", is_flag=True, help="Show Prefect's own log lines.")
@_settings_options
def run(
    paths: tuple[str, ...], inputs: tuple[str, ...], crawl: str | None, files: int | None,
    offset: int, sample: int | None, seed: int, shard: str | None, file_format: str,
    quiet: bool, verbose: bool, config_file: str | None, **overrides: Any,
) -> None:
    """Build or update the backlink graph and publish it as a DuckDB database.

    \b
    backlinks run                                   the bundled sample, offline
    backlinks run a.warc.gz b.warc.gz --data mydata  your own files (or --input PATH ...)
    backlinks run --crawl CC-MAIN-2024-22 --files 10
    backlinks run --crawl CC-MAIN-2024-22 --sample 100 --seed 7 --format wat
    backlinks run --input s3://commoncrawl/crawl-data/.../x.warc.gz --source s3
    backlinks run --runner dask --scheduler tcp://scheduler:8786 --crawl ... --files 100
    backlinks run --data s3://my-bucket/backlinks --db graph.duckdb --crawl ... --files 10

    Each input becomes a part in the data folder (a re-run reuses complete parts); then all
    parts are aggregated and the database is replaced atomically. In a terminal a live
    display shows bytes read, MB/s and time left per file and each aggregation step; in a
    pipe or log, plain lines every 10 s. Exit status 1 when an input failed (the others are
    still published).
    """
    import time as clock

    started = clock.perf_counter()
    settings = _load(config_file, overrides)
    try:  # an unusable data location or database path fails before any work
        settings.data_store()
        settings.db_path  # noqa: B018
    except ConfigError as exc:
        raise Failure(str(exc)) from exc
    from pipeline.read.crawls import Selection, crawl_inputs, parse_shard
    from pipeline.read.sources import list_inputs, sample_inputs
    from pipeline.read.streams import announcing_retries

    arguments = [*inputs, *paths]
    if crawl is None and (sample is not None or shard is not None or offset):
        raise Failure("--offset, --sample and --shard choose files of a --crawl; add --crawl")
    say = (lambda message: None) if quiet else _say_retry
    try:
        if crawl is not None:
            selection = Selection(
                files=files, offset=offset, sample=sample, seed=seed,
                shard=parse_shard(shard) if shard is not None else None,
            )
            if not quiet:
                click.echo(f"Listing the {file_format} files of {crawl} ...", err=True)
            listing_retries: Counter[str] = Counter()
            with announcing_retries(say):
                sources = crawl_inputs(crawl, file_format, selection, settings, listing_retries)
            if listing_retries and not quiet:
                click.echo("... the list needed " + ", ".join(
                    f"{k} {v:,}" for k, v in sorted(listing_retries.items())), err=True)
        else:
            _check_arguments(arguments, file_format)
            sources = list_inputs(arguments, file_format) if arguments else sample_inputs()
            if files is not None:
                sources = sources[:files]
    except ConfigError as exc:
        raise Failure(str(exc)) from exc
    except BacklinksError as exc:
        raise Failure(str(exc), EXIT_INPUT_FAILED) from exc
    if arguments and crawl is not None:
        _check_arguments(arguments, file_format)
        sources += list_inputs(arguments, file_format)
    if not sources:
        raise Failure("no inputs: pass --input PATH (a WARC file, a folder or a glob) or --crawl")
    label = (
        f"crawl {crawl}" if crawl else "your inputs" if arguments
        else "the bundled Common Crawl sample"
    )
    try:
        from pipeline.extract.engine import engine_name

        engine = engine_name(settings.engine)  # a missing core for engine = rust fails now
    except ConfigError as exc:
        raise Failure(str(exc)) from exc
    if not quiet:
        click.echo(
            f"Processing {plural(len(sources), 'input')} from {label} with "
            f"{plural(settings.worker_count, 'worker')} ({engine} engine); data in "
            f"{settings.data_store().location}",
            err=True,
        )
    _quiet_prefect(verbose)
    if not os.environ.get("PREFECT_API_URL"):
        unchanged = _nothing_new(sources, settings)
        if unchanged is not None:  # no server, no flow: there is nothing to orchestrate
            if not quiet:
                click.echo("... nothing new: every input has a complete part, and the graph "
                           "and database are current", err=True)
            _print_summary(unchanged, process_seconds(clock.perf_counter() - started))
            return
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        from flows.server import TemporaryServer

        server = TemporaryServer().start()  # it starts while the flow is imported
    try:
        from flows.build import progress, run_build
    except BaseException:  # Ctrl-C while Prefect is imported: the server goes too
        if server is not None:
            server.stop()
        raise
    from flows.display import make_display
    from pipeline.read.streams import PROGRESS_DIR_ENV
    from pipeline.scratch import scratch_folder

    # a scratch folder (named by machine and process), not a bare temporary one: a run
    # killed with it (kill -9) leaves it, and the next run on this machine sweeps it
    with scratch_folder("progress") as scratch:
        folder = str(scratch)
        os.environ[PROGRESS_DIR_ENV] = folder
        display = make_display(
            len(sources), folder, sys.stderr, quiet=quiet,
            terminal=sys.stderr.isatty() and os.environ.get("TERM") != "dumb",
            line=_progress_line,
        )
        for source in sources:
            if not source.remote:
                try:
                    display.progress.known_size(source.uri, os.stat(source.uri).st_size)
                except OSError:
                    pass
        display.start()
        try:
            with progress(display):
                summary = run_build(sources, settings, server)
        except ConfigError as exc:  # a setting the data location refuses (its partitions)
            raise Failure(str(exc)) from exc
        except BacklinksError as exc:
            raise Failure(str(exc), EXIT_INPUT_FAILED) from exc
        finally:
            display.stop()
            os.environ.pop(PROGRESS_DIR_ENV, None)
    _print_summary(summary, process_seconds(clock.perf_counter() - started))
    import gc

    gc.freeze()  # the exit's last collections then skip Prefect's objects (0.5-0.8 s)
    if summary.failures or not summary.published:
        sys.exit(EXIT_INPUT_FAILED)


def process_seconds(fallback: float) -> float:
    """Seconds since this process started (Linux: /proc), interpreter start-up included;
    ``fallback`` elsewhere."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            return float(uptime.read().split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return fallback


def _nothing_new(sources: list[Any], settings: Settings) -> RunSummary | None:
    """The summary of a run with nothing to do, found without Prefect: every input a local
    file with a complete part of its current version, the graph built from exactly those
    parts with these settings, and the database published (the flow's own test, made before
    a server is started). None when there is anything to do, or any doubt."""
    if (settings.runner != "local" or settings.data_in_s3 or not sources
            or any(source.remote for source in sources) or not settings.db_path.is_file()):
        return None  # (before the imports below: a first run starts its server sooner)
    import time
    import uuid
    from datetime import UTC, datetime

    from pipeline.parts.layout import read_layout
    from pipeline.parts.process import already_processed
    from pipeline.runs import RunSummary

    started = time.perf_counter()
    store = settings.data_store()
    try:
        with store.lock():
            layout = read_layout(store)
            if layout is None:
                return None
            from pipeline.graph.aggregate import GraphOptions, current_graph
            from pipeline.parts.part import listed_parts

            found = current_graph(store)  # (its manifest read once for all three questions)
            if found is None:
                return None
            listed = listed_parts(store)  # (once, for the check and the lookups)
            if not found.is_current(GraphOptions.from_settings(settings), listed):
                return None  # (before any input is looked up)
            damaged = {}
            for source, reused in already_processed(sources, settings, layout.partitions,
                                                    found.records(), listed):
                if reused is None:
                    return None  # (the lookups not yet made are not)
                if reused.damage:
                    damaged[source.uri] = reused.damage
            graph = found.summary()
    except BacklinksError:
        return None  # the flow says what is wrong, with the input's name
    now = datetime.now(UTC)
    return RunSummary(
        run_id=f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}", inputs=len(sources),
        processed=0, reused=len(sources), failures=[], records=0, pages=0, links=0,
        counters={}, seconds=time.perf_counter() - started, graph=graph,
        db_path=settings.db_path, unchanged=True,
        damaged=damaged,
    )


def _quiet_prefect(verbose: bool) -> None:
    """Prefect's console lines only with -v: a failed input is reported by the summary, so
    Prefect's own ERROR line and traceback for it would say the same thing twice, raw. Its
    analytics are off, and so is its banner of a temporary server."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "ERROR")
    # the console handler only (the API's log handler still records the ERROR lines)
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL",
                          "NOTSET" if verbose else "CRITICAL")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "info" if verbose else "error")


@main.command(short_help="The crawls Common Crawl has published, newest first.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table, csv or json.")
@click.option("--index-url", default=None,
              help="Base URL of the index server [env BACKLINKS_INDEX_URL; default "
              "https://index.commoncrawl.org/].")
def crawls(fmt: str, index_url: str | None) -> None:
    """The crawls Common Crawl has published, newest first (from its collinfo.json).

    \b
    backlinks crawls
    backlinks crawls --format csv | head -3
    """
    from pipeline.read.crawls import list_crawls
    from pipeline.read.streams import announcing_retries

    settings = _load(None, {"index_url": index_url})
    try:
        with announcing_retries(_say_retry):
            found = list_crawls(settings)
    except BacklinksError as exc:
        raise Failure(str(exc), EXIT_INPUT_FAILED) from exc
    rows = [(c.id, c.name, c.start, c.end) for c in found]
    click.echo(render(["id", "name", "from", "to"], rows, fmt))


def _db_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--db", default=None, metavar="PATH",
        help="The database [env BACKLINKS_DB; default <data>/graph.duckdb]."
    )(command)
    return click.option(
        "--data", "data_dir", default=None, metavar="FOLDER",
        help="The local data folder whose graph.duckdb to use [env BACKLINKS_DATA_DIR; "
        "default backlinks-data].",
    )(command)


def _open(db: str | None, data_dir: str | None) -> Any:
    from pipeline.serve.database import connect

    settings = _load(None, {"db": db, "data_dir": data_dir})
    try:
        return connect(settings.db_path)
    except (DatabaseError, ConfigError) as exc:
        raise Failure(str(exc)) from exc


FORMAT_HELP = "table: aligned columns (cut to the terminal's width); csv or json: for scripts."


@main.command(short_help="Referring domains of a domain or host.")
@click.argument("target")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Rows to show, highest authority first; the count of all is said after.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help=FORMAT_HELP)
@_db_options
def query(target: str, limit: int, fmt: str, db: str | None, data_dir: str | None) -> None:
    """Referring domains of TARGET (a registered domain, a host, or a URL: its host is used),
    with counts and anchors. The same rows as SQL's `select * from referring_domains('TARGET')`.

    \b
    backlinks query example.com
    backlinks query blog.example.com --limit 100
    backlinks query https://www.example.com/page --format csv > referring.csv
    """
    from pipeline.serve.database import run_macro

    con = _open(db, data_dir)
    normalized = _target(target)
    columns, rows = run_macro(con, "referring_domains", normalized, limit=limit)
    if rows:
        click.echo(render(columns, rows, fmt, fit=terminal_width() if fmt == "table" else None))
        (total,) = con.execute("select count(*) from referring_domains(?)", [normalized]
                               ).fetchone() or (len(rows),)
        if total > len(rows):
            click.echo(f"{len(rows):,} of {plural(total, 'referring domain')} of {normalized} "
                       "(--limit N for more)", err=True)
        else:
            click.echo(f"{plural(total, 'referring domain')} of {normalized}", err=True)
        return
    if fmt != "table":
        click.echo(render(columns, rows, fmt))
    (internal, domain) = con.execute(
        "select count(*), any_value(dst_domain) from links "
        "where matches_target(dst_domain, dst_host, ?)", [normalized]).fetchone() or (0, None)
    if internal:
        click.echo(f"No referring domains of {normalized!r}: the {plural(internal, 'link')} to "
                   f"{normalized} in this graph are all from {domain} itself: internal, not "
                   "backlinks.", err=True)
        return
    similar = con.execute(
        "select host from hosts where contains(host, ?) order by in_domains desc, host limit 5",
        [normalized],
    ).fetchall()
    hint = f" Hosts in the graph like it: {', '.join(h for (h,) in similar)}." if similar else ""
    click.echo(f"No referring domains of {normalized!r} in this graph.{hint}", err=True)


def _destination(output: str | None, default_name: str, suffix: str) -> Any:
    """-o as given; a folder (existing, or ending in /) gets ``default_name + suffix`` inside
    it; no -o: that name in the current folder."""
    from pathlib import Path

    if output is None:
        return Path(default_name + suffix)
    path = Path(output).expanduser()
    if path.is_dir() or output.endswith(("/", os.sep)):
        return path / (default_name + suffix)
    return path


EXPORT_SUFFIXES = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl", "webgraph": ""}


@main.command(short_help="Write backlinks (Parquet, CSV, JSON lines) or the graph to files.")
@click.argument("target", required=False)
@click.option("--all", "everything", is_flag=True,
              help="Every backlink in the graph (or, with --format webgraph, the whole graph).")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default=None,
              help="parquet, csv or jsonl: backlink rows; webgraph: the host or domain graph "
              "in cc-webgraph's layout (needs --all). Default: what -o's extension says "
              "(.parquet, .csv, .jsonl), else parquet.")
@click.option("--graph", type=click.Choice(("host", "domain")), default="host",
              show_default=True, help="With --format webgraph: which graph.")
@click.option("--output", "-o", metavar="PATH",
              help="The file to write, or a folder to write it in; default TARGET.parquet "
              "(or backlinks.parquet with --all) here. With --format webgraph, the prefix of "
              "PATH-vertices.txt.gz and PATH-edges.txt.gz.")
@click.option("--force", is_flag=True, help="Replace files that exist.")
@_db_options
def export(
    target: str | None, everything: bool, fmt: str | None, graph: str, output: str | None,
    force: bool, db: str | None, data_dir: str | None,
) -> None:
    """Write the backlinks of TARGET, or with --all every backlink, to a file; or the host
    or domain graph for WebGraph tools.

    \b
    backlinks export example.com                     writes example.com.parquet
    backlinks export example.com -o example.csv      CSV, from the extension
    backlinks export --all --format jsonl -o backlinks.jsonl
    backlinks export --all --format webgraph --graph domain -o graph/domain

    Backlink rows have the columns of SQL's backlinks('TARGET') (with --all: of the
    external_links view); timestamps are ISO 8601 in UTC (2024-05-20T10:00:00.000000Z).
    Files appear only when complete; an existing file is replaced only with --force.
    """
    from pipeline.serve.export import export_backlinks, export_webgraph, format_of

    if (target is None) == (not everything):
        raise Failure("name a TARGET (a domain or host) or pass --all, not both")
    name = None if target is None else _target(target)
    default_name = "backlinks" if name is None else name
    if fmt == "webgraph" and not everything:
        raise Failure("--format webgraph writes the whole graph; pass --all instead of a TARGET")
    if fmt != "webgraph":
        said = format_of(_destination(output, default_name, "")) if output else None
        if fmt is not None and said is not None and said != fmt:
            raise Failure(f"-o {output} says {said} but --format is {fmt}; change one of them")
        fmt = fmt or said or "parquet"
    path = _destination(output, default_name, EXPORT_SUFFIXES[fmt])
    con = _open(db, data_dir)
    try:
        if fmt == "webgraph":
            files = export_webgraph(con, graph, path, force=force)
            click.echo(f"Wrote the {graph} graph: {plural(files.vertex_count, 'vertex', 'vertices')}"
                       f" to {files.vertices}, {plural(files.edge_count, 'edge')} to {files.edges}",
                       err=True)
            return
        rows = export_backlinks(con, name, fmt, path, force=force)
    except BacklinksError as exc:
        raise Failure(str(exc)) from exc
    what = "every backlink" if name is None else f"the backlinks of {name!r}"
    click.echo(f"Wrote {plural(rows, 'row')} ({what}, {fmt}) to {path}", err=True)


@main.command(short_help="Write a target's backlink profile as one HTML file.")
@click.argument("target")
@click.option("--output", "-o", default=None, metavar="PATH",
              help="The HTML file to write, or a folder to write it in; default TARGET.html "
              "here.")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@_db_options
def report(target: str, output: str | None, force: bool, db: str | None,
           data_dir: str | None) -> None:
    """Write TARGET's backlink profile as one self-contained HTML file: headline numbers,
    charts (authority, rel flags, link types, contexts, anchors, new and lost referring
    domains by crawl) and the top referring domains and pages. It opens offline.

    \b
    backlinks report example.com                     writes example.com.html
    backlinks report example.com -o reports/ --force
    """
    from pipeline.serve.report import gather, render_html, write_report

    name = _target(target)
    path = _destination(output, name, ".html")
    if path.is_dir():
        raise Failure(f"{str(path)!r} is a folder; give a file name with -o")
    if path.exists() and not force:
        raise Failure(f"{str(path)!r} exists; pass --force to replace it")
    con = _open(db, data_dir)
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
        f"Wrote the backlink profile of {name!r} ({plural(data.profile['backlinks'], 'backlink')}"
        f" from {plural(data.profile['referring_domains'], 'referring domain')}) to {path}",
        err=True)


def _normalized_target(target: str) -> str:
    """A target as the graph spells hosts (lowercase, punycode); as given if not a host."""
    from pipeline.extract.urls import normalize_host

    return normalize_host(target.strip().rstrip(".")) or target.strip().lower()


def _target(target: str) -> str:
    """A target as the graph spells hosts; a pasted URL gives its host (and says so)."""
    from urllib.parse import urlsplit

    text = target.strip()
    host = ""
    if "://" in text:
        host = urlsplit(text).hostname or ""
    elif "/" in text:
        host = text.split("/", 1)[0]
    if host:
        name = _normalized_target(host)
        click.echo(f"Using the host of the URL: {name}", err=True)
        return name
    return _normalized_target(text)


TERMINAL_ROWS = 200  # a result shown in a terminal is cut here, with a note
SQL_HELP = """\
.tables   the tables, views and table macros
.help     this help
.quit     leave (or Ctrl-D)
Any SQL ending with ';' (several statements run in turn). docs/sql.md describes every table
and macro; targets are matched in punycode: referring_domains('xn--bcher-kva.de')."""


def _sql_statements(con: Any, text: str) -> list[Any]:
    import duckdb

    try:
        return list(con.extract_statements(text))
    except duckdb.Error as exc:
        raise Failure(f"SQL error: {exc}") from exc


def _tables(con: Any) -> str:
    rows = con.execute(
        "select 'table' as kind, table_name as name from duckdb_tables() where not internal "
        "union all select 'view', view_name from duckdb_views() where not internal "
        "union all select distinct 'table macro', function_name from duckdb_functions() "
        "where function_type = 'table_macro' and not internal order by 1, 2"
    ).fetchall()
    return "\n".join(f"{kind:11}  {name}" for kind, name in rows)


def _ascii_hint(text: str) -> str:
    """For a query that found nothing: its non-ASCII string literals, in punycode."""
    import re

    from pipeline.extract.urls import normalize_host

    hints = []
    for literal in re.findall(r"'([^']*[^\x00-\x7f][^']*)'", text):
        puny = normalize_host(literal.strip().rstrip("."))
        if puny and puny != literal:
            hints.append(f"'{puny}' for '{literal}'")
    if not hints:
        return ""
    return ("No rows. Hosts are stored in punycode and SQL does not convert: use "
            + ", ".join(hints) + " (backlinks query, report and export convert for you).")


@main.command(short_help="Run SQL against the graph (read-only), or open a prompt.")
@click.argument("sql_text", metavar="[QUERY]", required=False)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help=FORMAT_HELP)
@_db_options
def sql(sql_text: str | None, fmt: str, db: str | None, data_dir: str | None) -> None:
    """Run SQL against the graph (read-only). Without QUERY: read SQL from standard input,
    or open a prompt when standard input is a terminal (.tables, .help, .quit). Several
    statements run in turn, each result printed. In a terminal, a table is cut to its width
    and to the first 200 rows (with a note); pipe the output or use --format csv for all.

    \b
    backlinks sql "select * from referring_domains('example.com') limit 10"
    backlinks sql "select * from graph_summary"
    echo "select count(*) from links; select count(*) from hosts;" | backlinks sql
    """
    import duckdb

    con = _open(db, data_dir)
    terminal = sys.stdout.isatty()

    def show(result: Any, text: str) -> None:
        columns = [column[0] for column in result.description]
        cap = TERMINAL_ROWS if terminal and fmt == "table" else None
        rows = result.fetchmany(cap) if cap else result.fetchall()
        more = 0
        if cap and len(rows) == cap:
            while chunk := result.fetchmany(10_000):
                more += len(chunk)
        click.echo(render(columns, rows, fmt, fit=terminal_width() if fmt == "table" else None))
        if more:
            click.echo(f"... {len(rows):,} of {plural(len(rows) + more, 'row')} shown (a terminal "
                       f"shows the first {cap}; add a limit, pipe the output or use --format csv "
                       "for all)", err=True)
        if not rows and (hint := _ascii_hint(text)):
            click.echo(hint, err=True)

    def execute(text: str) -> None:
        statements = _sql_statements(con, text)
        for number, statement in enumerate(statements):
            try:
                result = con.execute(statement)
            except duckdb.Error as exc:
                raise Failure(f"SQL error: {exc}") from exc
            if result.description:
                if number and fmt == "table":
                    click.echo("")
                show(result, text)

    if sql_text is not None:
        execute(sql_text)
        return
    if not sys.stdin.isatty():
        execute(sys.stdin.read())
        return
    click.echo("Enter SQL ending with ';'; .tables lists the tables and macros, .help helps, "
               ".quit (or Ctrl-D) leaves.", err=True)
    buffer = ""
    while True:
        try:
            line = input("backlinks> " if not buffer else "      ...> ")
        except EOFError:
            break
        if not buffer and line.strip().startswith("."):
            command = line.strip().lower()
            if command in (".quit", ".exit", ".q"):
                break
            if command == ".tables":
                click.echo(_tables(con))
            elif command == ".help":
                click.echo(SQL_HELP)
            else:
                click.echo(f"unknown command {command}; .help lists the commands", err=True)
            continue
        buffer += line + "\n"
        if buffer.strip().endswith(";"):
            try:
                execute(buffer)
            except Failure as exc:
                exc.show()
            buffer = ""


if __name__ == "__main__":
    main()

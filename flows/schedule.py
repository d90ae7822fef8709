"""The monthly run: a Prefect deployment that finds the newest Common Crawl crawl not yet in
the data folder and processes N of its files into the graph.

    python3 -m uv run --frozen python -m flows.schedule --files 10
    python3 -m uv run --frozen python -m flows.schedule --files 10 --cron "0 6 * * 1"

``serve`` registers the deployment ``process-newest-crawl/monthly`` with the Prefect server
named by ``PREFECT_API_URL`` and runs its scheduled flow runs itself (it is the worker);
stop it with Ctrl-C. It runs one flow run at a time; a run that finds the data folder
busy (another `backlinks run`) logs it and skips. Settings (data folder, source, mirrors, runner) come from the
environment and ``BACKLINKS_CONFIG``, as for ``backlinks run``.

A crawl counts as processed when a complete part of the data folder came from its files
(``crawl-data/<crawl id>/`` in the part's input): a crawl whose run failed half-way is
picked again next time, and its complete parts are reused.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from prefect import flow, get_run_logger

from flows.build import build_graph, task_runner
from pipeline.config import Settings, load_settings
from pipeline.errors import DataFolderBusy
from pipeline.parts.part import complete_parts
from pipeline.read.crawls import Selection, crawl_inputs, list_crawls
from pipeline.read.sources import listed

DEPLOYMENT = "monthly"
MONTHLY = "0 6 3 * *"  # 06:00 UTC on the 3rd of each month (Common Crawl publishes monthly)
_CRAWL_IN_PATH = re.compile(r"crawl-data/(CC-MAIN-\d{4}-\d{2})/")


def processed_crawls(settings: Settings) -> set[str]:
    """Crawl ids with at least one complete part in the data folder."""
    found = set()
    for _, info in complete_parts(settings.data_store()):
        match = _CRAWL_IN_PATH.search(info.input)
        if match:
            found.add(match.group(1))
    return found


def newest_unprocessed_crawl(settings: Settings) -> str | None:
    """The newest crawl on the index server, unless the data folder already has it (then
    None: a schedule follows new crawls and does not walk back into old ones)."""
    crawls = list_crawls(settings)  # newest first
    if not crawls or crawls[0].id in processed_crawls(settings):
        return None
    return crawls[0].id


@flow(name="process-newest-crawl", validate_parameters=False)
def process_newest_crawl(files: int = 10, file_format: str = "warc") -> dict[str, Any]:
    """Process ``files`` files of the newest crawl not yet in the data folder."""
    logger = get_run_logger()
    settings = load_settings()
    crawl = newest_unprocessed_crawl(settings)
    if crawl is None:
        logger.info("the newest crawl is already in %s; nothing to do", settings.data_dir)
        return {"crawl": None, "published": False}
    inputs = crawl_inputs(crawl, file_format, Selection(files=files), settings)
    logger.info("processing %d %s file(s) of %s into %s", len(inputs), file_format, crawl,
                settings.data_dir)
    try:
        with settings.data_store().lock(), listed(inputs) as listing:
            summary = build_graph.with_options(task_runner=task_runner(settings))(listing,
                                                                                  settings)
    except DataFolderBusy as exc:  # an earlier run still works on the folder: leave it be
        logger.warning("%s; skipping this run", exc)
        return {"crawl": crawl, "published": False, "skipped": "data folder busy"}
    if summary.failures:
        raise RuntimeError(
            f"{len(summary.failures)} of {len(inputs)} file(s) of {crawl} failed; the rest is "
            "published and the next run retries them"
        )
    return {"crawl": crawl, "published": summary.published, "pages": summary.pages}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m flows.schedule",
        description="Serve the scheduled deployment process-newest-crawl/monthly.",
    )
    parser.add_argument("--files", type=int, default=10, help="files of the crawl per run")
    parser.add_argument("--format", dest="file_format", choices=("warc", "wat"), default="warc")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--cron", default=None, help=f"cron schedule (default {MONTHLY!r})")
    when.add_argument("--interval", type=float, default=None,
                      help="seconds between runs instead of a cron schedule (for trying it)")
    args = parser.parse_args(argv)
    schedule: dict[str, Any] = (
        {"interval": args.interval} if args.interval else {"cron": args.cron or MONTHLY}
    )
    process_newest_crawl.serve(
        name=DEPLOYMENT,
        limit=1,  # one run at a time; a run that comes due meanwhile waits
        parameters={"files": args.files, "file_format": args.file_format},
        **schedule,
    )


if __name__ == "__main__":
    main()

"""Which engine does the per-page work: the Python path (extract/html.py, page.py) or the
compiled Rust core (core/, the module ``backlinks_core``). Both give the same rows and
counters (tests/test_core_parity.py checks it on every corpus); the core hands back Arrow
tables for a batch of pages, so no Python object is made per link.

``engine = "auto"`` (the default) uses the core when it is installed, else the Python path;
``"python"`` and ``"rust"`` choose one (``"rust"`` without the core is a ConfigError that
says how to build it).
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pipeline import bundled
from pipeline.compiled import core_module
from pipeline.config import Settings
from pipeline.errors import ConfigError

if TYPE_CHECKING:  # the command line asks engine_name before anything heavy is loaded
    import polars as pl

    from pipeline.read.warc import HtmlPage, Redirect

ENGINES = ("auto", "python", "rust")
# A batch handed to the core in one call: up to BATCH_PAGES pages or WAT records, or fewer
# when their bytes (HTML or JSON) reach BATCH_BYTES, so that a batch of large pages holds
# no more memory than a batch of small ones.
BATCH_PAGES = 256
BATCH_BYTES = 16 << 20


def engine_name(setting: str) -> str:
    """``python`` or ``rust``, from the ``engine`` setting."""
    if setting not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {setting!r}")
    if setting == "python":
        return "python"
    if importlib.util.find_spec("backlinks_core") is None:
        if setting == "rust":
            raise ConfigError(
                "engine = 'rust' needs the compiled core backlinks_core, which is not "
                "installed: install a Rust toolchain and run the README's command with "
                "--extra core (or use engine = 'auto' or 'python')"
            )
        return "python"
    return "rust"


class CoreEngine:
    """The Rust core for one input file: batches of WARC events or WAT payloads in, Polars
    frames of page and link rows (in PAGES_SCHEMA and LINKS_SCHEMA) and counters out."""

    def __init__(self, settings: Settings) -> None:
        from pipeline.extract.page import Limits

        core = core_module()
        if core is None:  # engine_name said rust
            raise ConfigError("the compiled core backlinks_core is not installed")
        limits = Limits.from_settings(settings)
        self.engine: Any = core.Engine(
            bundled.public_suffix_list().read_text("utf-8"), settings.psl_private_domains,
            limits.links_per_page, limits.url_chars, limits.anchor_chars,
        )
        self.wat_crawl: str | None = None  # the crawl of the last warcinfo envelope

    @staticmethod
    def _frames(links: Any, pages: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
        import polars as pl

        from pipeline.extract.rows import LINKS_SCHEMA, PAGES_SCHEMA

        def conform(table: Any, schema: pl.Schema) -> pl.DataFrame:
            got = pl.DataFrame(table)  # the core builds the schema: usually nothing to do
            return got if got.schema == schema else got.select(list(schema)).cast(schema)

        return conform(pages, PAGES_SCHEMA), conform(links, LINKS_SCHEMA)

    def warc_batch(self, events: Sequence[HtmlPage | Redirect], fallback_crawl: str
                   ) -> tuple[pl.DataFrame, pl.DataFrame, Counter[str]]:
        links, pages, counters = self.engine.warc_batch(list(events), fallback_crawl)
        page_frame, link_frame = self._frames(links, pages)
        return page_frame, link_frame, Counter(counters)

    def wat_batch(self, payloads: Sequence[bytes], fallback_crawl: str
                  ) -> tuple[pl.DataFrame, pl.DataFrame, Counter[str]]:
        from pipeline.extract.wat import event_of_payload

        links, pages, counters, self.wat_crawl = self.engine.wat_batch(
            list(payloads), self.wat_crawl, fallback_crawl, event_of_payload)
        page_frame, link_frame = self._frames(links, pages)
        return page_frame, link_frame, Counter(counters)

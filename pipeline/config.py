"""Settings: one table of (name, default, help), each overridable by environment and flag.

Precedence, lowest first: the defaults below (mirrored in ``config/default.toml``), a TOML
file given with ``--config`` (or ``BACKLINKS_CONFIG``), ``BACKLINKS_<NAME>`` environment
variables, then command-line flags.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError
from pipeline.storage import DataStore, is_object_location, open_store

ENV_PREFIX = "BACKLINKS_"


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: Any
    help: str
    flag_name: str = ""
    choices: tuple[str, ...] = ()
    maximum: float | None = None

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + (self.flag_name or self.name.replace("_", "-"))


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "data_dir",
        "backlinks-data",
        "Folder for parts (one per input file), aggregates and run records: a local path, "
        "or s3://BUCKET/PREFIX to keep them in S3 or an S3-compatible store.",
        flag_name="data",
    ),
    SettingSpec(
        "db",
        "",
        "Path of the published DuckDB database (a local file); empty means "
        "<data_dir>/graph.duckdb, and must be given when data_dir is in S3.",
    ),
    SettingSpec(
        "database",
        "tables",
        "What the published database holds: tables (the graph's rows, copied in) or views "
        "(over the graph's Parquet files where they are, local or in S3: a small file whose "
        "target macros read only the target's partition; hosts and domains are copied in).",
        choices=("tables", "views"),
    ),
    SettingSpec(
        "data_endpoint_url",
        "",
        "S3 endpoint URL of an s3:// data_dir (MinIO, Ceph, any S3-compatible store); empty "
        "means AWS. Credentials come from the usual AWS environment variables or ~/.aws.",
    ),
    SettingSpec(
        "data_region",
        "us-east-1",
        "Region of the bucket of an s3:// data_dir.",
    ),
    SettingSpec(
        "workers",
        0,
        "Processes that read input files in parallel; 0 means one per CPU core.",
    ),
    SettingSpec(
        "runner",
        "local",
        "Where the per-file tasks run: local (a process pool of `workers` processes) or dask "
        "(a Dask cluster: dask_scheduler's, or a local one of `workers` processes).",
        choices=("local", "dask"),
    ),
    SettingSpec(
        "dask_scheduler",
        "",
        "Address of a running Dask scheduler (tcp://host:8786) for runner dask; empty starts "
        "a temporary local Dask cluster for the run.",
        flag_name="scheduler",
    ),
    SettingSpec(
        "engine",
        "auto",
        "What does the per-page work: rust (the compiled core, core/: several times faster), "
        "python (the reference path), or auto (rust when it is installed, else python). "
        "Both give the same rows.",
        choices=("auto", "python", "rust"),
    ),
    SettingSpec(
        "psl_private_domains",
        False,
        "Fold hosts with the private section of the Public Suffix List too "
        "(foo.github.io stays foo.github.io); ICANN section only when false.",
    ),
    SettingSpec(
        "max_html_bytes",
        5 * 1024 * 1024,
        "Bytes of an HTML payload that are parsed; longer pages are cut there and counted "
        "(pages_truncated). Common Crawl itself cuts payloads at 1 MiB.",
    ),
    SettingSpec(
        "max_record_bytes",
        32 * 1024 * 1024,
        "Bytes of one WARC record, once inflated, that are read; a larger record (a "
        "decompression bomb, a video) is skipped and counted (damaged_too_large).",
    ),
    SettingSpec(
        "max_links_per_page",
        10_000,
        "Links kept per page, in document order; the rest are counted "
        "(pages_over_link_limit, links_over_limit).",
    ),
    SettingSpec(
        "max_url_chars",
        2_048,
        "Longest link URL kept, in characters after resolution; longer links are counted "
        "(links_rejected_url_too_long).",
    ),
    SettingSpec(
        "max_anchor_chars",
        256,
        "Characters of anchor text kept; longer anchors are cut and counted (anchors_cut). "
        "WAT files already cut anchors at 128.",
    ),
    SettingSpec(
        "source",
        "https",
        "Where a crawl's files are read from: https (no account needed) or s3 "
        "(boto3; unsigned requests unless AWS credentials are configured).",
        choices=("https", "s3"),
    ),
    SettingSpec(
        "https_base_url",
        "https://data.commoncrawl.org/",
        "Base URL of Common Crawl's files over HTTPS (crawl-data/... is read under it).",
    ),
    SettingSpec(
        "s3_bucket",
        "commoncrawl",
        "S3 bucket of Common Crawl's files (crawl-data/... is read under it).",
    ),
    SettingSpec(
        "s3_endpoint_url",
        "",
        "S3 endpoint URL for a mirror or an S3-compatible store; empty means AWS (us-east-1).",
    ),
    SettingSpec(
        "index_url",
        "https://index.commoncrawl.org/",
        "Base URL of Common Crawl's index server; the list of crawls is its collinfo.json.",
    ),
    SettingSpec(
        "timeout_seconds",
        60.0,
        "Seconds to wait for a connection or for the next bytes before the read is retried.",
    ),
    SettingSpec(
        "retry_initial_seconds",
        1.0,
        "First wait before retrying a throttled or failed request; it doubles on each "
        "further failure (up to 60 s), with random jitter.",
    ),
    SettingSpec(
        "retry_seconds",
        600.0,
        "Seconds a file may go without progress (failed attempts and waits between "
        "retries) before it fails; any bytes received start the count again.",
    ),
    SettingSpec(
        "file_retries",
        2,
        "Times a file that failed with a network error is started again from scratch.",
    ),
    SettingSpec(
        "aggregate_memory_mb",
        2048,
        "Memory one aggregation task may use (MiB): a partition larger than this allows is "
        "reduced in sub-buckets (of target domains for links, of hosts for pages), one after "
        "the other (a target more linked than one holds split by source domain, then by "
        "source page; a host with more pages, by URL). A partition in 5 sub-buckets or "
        "more is first sorted into them on the task's disk (TMPDIR: about 1.5x the "
        "partition's compressed bytes as LZ4; 3.8x, uncompressed and faster, when the disk "
        "has four times that free). The referrals "
        "step looks authority up in a dictionary of the linking domains (about 170 bytes a "
        "domain), built in shards, one after the other, when it needs more than half of "
        "this above a task's 400 MiB base.",
    ),
    SettingSpec(
        "partitions",
        0,
        "Partitions the data location's rows are split into (links by target domain, pages "
        "by host), one reduce task each; chosen at the location's first run and recorded "
        "there: 0 means the recorded count, or for a new location 16 (fewer for a first "
        "run of local files under 1 GB: one per 64 MB of them, a power of two).",
    ),
    SettingSpec(
        "aggregate_buckets",
        0,
        "Sub-buckets each partition is reduced in, one after the other in its task; 0 chooses "
        "them from aggregate_memory_mb and the partition's rows.",
    ),
    SettingSpec(
        "sitewide_share",
        0.5,
        "Share of a host's crawled pages (0 to 1) that must link to a domain for those links "
        "to be sitewide (links.sitewide), as footer and menu links are.",
        maximum=1.0,
    ),
    SettingSpec(
        "sitewide_min_pages",
        3,
        "Fewest crawled pages of a host that must link to a domain for those links to be "
        "sitewide (a host crawled once never has sitewide links).",
    ),
    SettingSpec(
        "ranks",
        True,
        "Compute PageRank, harmonic centrality and authority of hosts and domains (see "
        "rank_method); false leaves those columns null, to rank the graph elsewhere "
        "(cc-webgraph on the webgraph export).",
    ),
    SettingSpec(
        "rank_method",
        "auto",
        "How hosts and domains are ranked: memory (the graph in one process), partitions "
        "(rounds of tasks over edge partitions on the run's task runner, no task holding the "
        "graph), or auto (memory when the graph's estimated need fits aggregate_memory_mb).",
        choices=("auto", "memory", "partitions"),
    ),
    SettingSpec(
        "rank_weighted",
        False,
        "Weight PageRank by link counts; false ranks the unweighted graph, as Common "
        "Crawl's web graph does (so the two are comparable).",
    ),
    SettingSpec(
        "harmonic_exact_nodes",
        1_000,
        "Largest graph (hosts or domains) whose harmonic centrality is exact (a search from "
        "every node: nodes / 256 passes over the graph); larger graphs get an estimate from "
        "harmonic_samples random nodes (one pass per 256), so time stays linear in the graph.",
    ),
    SettingSpec(
        "harmonic_samples",
        256,
        "Random source nodes of the harmonic centrality estimate above harmonic_exact_nodes "
        "(error falls as 1/sqrt(samples); 256 gave 1.4% on the top nodes).",
    ),
    SettingSpec(
        "ranks_file",
        "",
        "Common Crawl's web graph ranks to use as the authority of hosts and domains instead "
        "of ranking the graph: its host ranks file (.../host/<release>-host-ranks.txt.gz; "
        "the domain file beside it is read too) or HOSTS,DOMAINS, each a path, https:// or "
        "s3:// URL; empty ranks the graph here.",
    ),
)

SETTINGS_BY_NAME = {spec.name: spec for spec in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Resolved settings; field names and defaults come from SETTINGS (see defaults())."""

    data_dir: str
    db: str
    database: str
    data_endpoint_url: str
    data_region: str
    workers: int
    runner: str
    dask_scheduler: str
    engine: str
    psl_private_domains: bool
    max_html_bytes: int
    max_record_bytes: int
    max_links_per_page: int
    max_url_chars: int
    max_anchor_chars: int
    source: str
    https_base_url: str
    s3_bucket: str
    s3_endpoint_url: str
    index_url: str
    timeout_seconds: float
    retry_initial_seconds: float
    retry_seconds: float
    file_retries: int
    aggregate_memory_mb: int
    partitions: int
    aggregate_buckets: int
    sitewide_share: float
    sitewide_min_pages: int
    ranks: bool
    rank_method: str
    rank_weighted: bool
    harmonic_exact_nodes: int
    harmonic_samples: int
    ranks_file: str

    @classmethod
    def defaults(cls) -> Settings:
        return cls(**{spec.name: spec.default for spec in SETTINGS})

    @property
    def data_in_s3(self) -> bool:
        return is_object_location(self.data_dir)

    @property
    def data_path(self) -> Path:
        """The local data folder (ConfigError for an s3:// data_dir: use data_store())."""
        if self.data_in_s3:
            raise ConfigError(f"data_dir {self.data_dir!r} is in S3, not a local folder")
        return Path(self.data_dir).expanduser().resolve()

    def data_store(self) -> DataStore:
        """Where parts, graphs and run records live (pipeline/storage/)."""
        location = self.data_dir if self.data_in_s3 else self.data_path
        store = open_store(location, self.data_endpoint_url, self.data_region)
        if self.database == "views":
            store.view_literal("graph")  # a location a view cannot name fails now, not at publish
        return store

    @property
    def db_path(self) -> Path:
        if self.db:
            return Path(self.db).expanduser().resolve()
        if self.data_in_s3:
            raise ConfigError(
                f"with data_dir {self.data_dir!r} in S3, say where the DuckDB database goes: "
                "--db PATH (a local file)"
            )
        return self.data_path / "graph.duckdb"

    @property
    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    def to_dict(self) -> dict[str, Any]:
        """Every setting, as stored in the ``runs`` table: passwords in URLs are masked."""
        return {f.name: _mask_password(getattr(self, f.name)) for f in fields(self)}


_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def _mask_password(value: Any) -> Any:
    """'https://user:secret@host/' -> 'https://***@host/'; other values unchanged."""
    return _USERINFO.sub("***@", value) if isinstance(value, str) else value


def _coerce(name: str, value: Any, source: str) -> Any:
    """Convert ``value`` to the type of the setting's default, or raise ConfigError."""
    spec = SETTINGS_BY_NAME[name]
    default = spec.default
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{source}: {name} must be true or false, got {value!r}")
    if isinstance(default, int):
        try:
            number = int(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: {name} must be a whole number, got {value!r}") from exc
        if number < 0:
            raise ConfigError(f"{source}: {name} must be 0 or more, got {value!r}")
        return number
    if isinstance(default, float):
        try:
            seconds = float(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: {name} must be a number, got {value!r}") from exc
        if not seconds >= 0:
            raise ConfigError(f"{source}: {name} must be 0 or more, got {value!r}")
        if spec.maximum is not None and seconds > spec.maximum:
            raise ConfigError(f"{source}: {name} must be at most {spec.maximum}, got {value!r}")
        return seconds
    text = str(value)
    if spec.choices and text not in spec.choices:
        raise ConfigError(
            f"{source}: {name} must be one of {', '.join(spec.choices)}, got {value!r}"
        )
    return text


def _from_mapping(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    unknown = sorted(set(values) - set(SETTINGS_BY_NAME))
    if unknown:
        known = ", ".join(SETTINGS_BY_NAME)
        raise ConfigError(f"{source}: unknown setting {unknown[0]!r}; known settings: {known}")
    return {name: _coerce(name, value, source) for name, value in values.items()}


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {str(path)!r} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from exc
    return _from_mapping(data.get("backlinks", data), f"config file {str(path)!r}")


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values = {
        spec.name: environ[spec.env_var] for spec in SETTINGS if spec.env_var in environ
    }
    return {name: _coerce(name, value, f"${ENV_PREFIX}{name.upper()}") for name, value in values.items()}


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    config_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build Settings from defaults, a TOML file, the environment and explicit overrides."""
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get(ENV_PREFIX + "CONFIG") or None
    merged: dict[str, Any] = {}
    if config_file:
        merged.update(read_toml(config_file))
    merged.update(from_environment(environ))
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    merged.update(_from_mapping(given, "command line"))
    return replace(Settings.defaults(), **merged)

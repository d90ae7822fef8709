"""Common Crawl's own ranks: the host and domain ranks files it publishes with its web graphs
(https://commoncrawl.org/web-graphs), read as the authority of hosts and domains instead of
ranking the graph ourselves (the ``ranks_file`` setting).

A ranks file is tab-separated text, gzipped, with a header line and one node a line, in
order of harmonic centrality (highest first)::

    #harmonicc_pos  #harmonicc_val  #pr_pos  #pr_val  #host_rev
    1               3.4626736E7     3        0.0053849778  com.facebook

Names are reversed (``com.example.www`` is www.example.com); domain files name the column
``#host_rev`` too (or ``#domain_rev``) and add ``#n_hosts``. Files are read from a local
path, https:// or s3:// (pipeline/read/streams.py: resumable, with retries), one block of
lines at a time, so only the rows asked for are held: a host ranks file has hundreds of
millions of lines.

:func:`read_ranks_file` gives the columns of rank.graph_ranks: ``pagerank`` and
``harmonic`` (the file's values), ``pagerank_position`` and ``harmonic_position`` (the
file's positions, 1 = highest; Common Crawl numbers ties in file order) and ``authority``,
computed as rank.authority computes it: the share of the other nodes of the file's graph
whose harmonic centrality is lower, times 100, rounded to 0.1. :func:`join_ranks` puts them
on a hosts or domains frame; nodes the file does not name get nulls, and are counted.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

import numpy as np
import polars as pl
from isal import igzip
from numpy.typing import NDArray

from pipeline.config import Settings
from pipeline.errors import ConfigError, InputError
from pipeline.graph.rank import authority as harmonic_authority
from pipeline.read.sources import InputFile
from pipeline.read.streams import open_stream

RANK_COLUMNS = ("pagerank", "harmonic", "pagerank_position", "harmonic_position", "authority")
# Header names as Common Crawl writes them, and ours.
_COLUMNS = {
    "#harmonicc_pos": "harmonic_position",
    "#harmonicc_val": "harmonic",
    "#pr_pos": "pagerank_position",
    "#pr_val": "pagerank",
    "#host_rev": "reversed",
    "#domain_rev": "reversed",
    "#n_hosts": "n_hosts",
}
_TYPES = {
    "harmonic_position": pl.Int64, "harmonic": pl.Float64, "pagerank_position": pl.Int64,
    "pagerank": pl.Float64, "reversed": pl.String, "n_hosts": pl.Int64,
}
_REQUIRED = ("#harmonicc_pos", "#harmonicc_val", "#pr_pos", "#pr_val")
BLOCK_BYTES = 64 << 20  # text parsed at a time


@dataclass(frozen=True)
class RanksFiles:
    """The host and the domain ranks file of one web graph release."""

    hosts: str
    domains: str


def ranks_files(setting: str) -> RanksFiles:
    """The files the ``ranks_file`` setting names: ``HOSTS,DOMAINS``, or the host file alone
    in Common Crawl's layout, ``.../host/<release>-host-ranks.txt.gz``, whose domain file is
    ``.../domain/<release>-domain-ranks.txt.gz``."""
    named = [part.strip() for part in setting.split(",") if part.strip()]
    if len(named) == 2:
        return RanksFiles(*named)
    if len(named) == 1:
        folder, _, name = named[0].rpartition("/")
        if "-host-ranks." in name:
            if folder.rsplit("/", 1)[-1] == "host":
                folder = folder[: -len("host")] + "domain"
            domains = (folder + "/" if folder else "") + name.replace("-host-ranks.", "-domain-ranks.")
            return RanksFiles(named[0], domains)
    raise ConfigError(
        f"ranks_file {setting!r}: give the host ranks file of a Common Crawl web graph "
        "(.../host/<release>-host-ranks.txt.gz, its domain file is found beside it) or both "
        "files, HOSTS,DOMAINS"
    )


def reverse_names(names: pl.Expr) -> pl.Expr:
    """www.example.com <-> com.example.www (its own inverse)."""
    return names.str.split(".").list.reverse().list.join(".")


def read_ranks_file(
    uri: str, settings: Settings, *, names: pl.Series | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> pl.DataFrame:
    """The ranks in a Common Crawl ranks file (see the module docstring): columns ``name``
    (un-reversed), the five of :data:`RANK_COLUMNS`, and ``n_hosts`` for a domain file. With
    ``names``, only the rows of those names (memory bounded by them); authority is computed
    over every node of the file either way."""
    wanted = None
    if names is not None:
        wanted = pl.DataFrame({"reversed": names.cast(pl.String)}).select(
            reverse_names(pl.col("reversed")).alias("reversed")).unique()
    pieces: list[pl.DataFrame] = []
    tied = _TieCounter()
    for block in _blocks(uri, settings, block_bytes):
        tied.see(block["harmonic"].to_numpy())
        kept = block.with_row_index("row", offset=tied.offset_of_last_block)
        if wanted is not None:
            kept = kept.join(wanted, on="reversed", how="semi", maintain_order="left")
        tied.keep(kept["row"].to_numpy() - tied.offset_of_last_block)
        pieces.append(kept)
    if not pieces:
        return pl.DataFrame(schema={"name": pl.String, "pagerank": pl.Float64,
                                    "harmonic": pl.Float64, "pagerank_position": pl.Int64,
                                    "harmonic_position": pl.Int64, "authority": pl.Float64})
    frame = pl.concat(pieces)
    if wanted is None:  # every row is here: rank.authority itself
        points = harmonic_authority(frame["harmonic"].to_numpy())
    else:
        if tied.sorted:
            lower = tied.rows - tied.rows_at_or_above()
        else:  # not in order of harmonic centrality: count the lower values in a second pass
            lower = _lower_in_second_pass(uri, settings, block_bytes, frame["harmonic"].to_numpy())
        points = _points(lower, tied.rows)
    columns = [
        reverse_names(pl.col("reversed")).alias("name"),
        "pagerank", "harmonic", "pagerank_position", "harmonic_position",
        pl.Series("authority", points, dtype=pl.Float64),
    ]
    if "n_hosts" in frame.columns:
        columns.append("n_hosts")
    return frame.select(columns)


def join_ranks(nodes: pl.DataFrame, key: str, ranks: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """``nodes`` with the rank columns of ``ranks`` (read_ranks_file) by ``key`` (``host`` or
    ``domain``), in place of any it had; nodes the file does not name get nulls. Returns the
    frame and the count of those nodes (for the run summary)."""
    columns = ranks.select(pl.col("name").alias(key), *RANK_COLUMNS).unique(key, keep="first")
    joined = nodes.drop([c for c in RANK_COLUMNS if c in nodes.columns]).join(
        columns, on=key, how="left", maintain_order="left")
    missing = joined.height - joined["harmonic"].count()
    return joined, missing


def ranks_from_file(
    nodes: pl.DataFrame, key: str, uri: str, settings: Settings,
) -> tuple[pl.DataFrame, int]:
    """:func:`join_ranks` of the rows of ``nodes[key]`` read from the ranks file ``uri``."""
    return join_ranks(nodes, key, read_ranks_file(uri, settings, names=nodes[key]))


# -- reading -----------------------------------------------------------------------------------


def _open(uri: str, settings: Settings) -> tuple[BinaryIO, BinaryIO]:
    """The text of the file (inflated when gzipped: isal, three times zlib's speed) and the
    raw stream to close."""
    location = uri if "://" in uri else os.path.abspath(os.path.expanduser(uri))
    raw = open_stream(InputFile(location), settings).stream
    if isinstance(raw, io.BufferedReader):
        gzipped = raw.peek(2)[:2] == b"\x1f\x8b"
    else:
        gzipped = uri.endswith(".gz")
    if gzipped:
        text = cast(BinaryIO, igzip.IGzipFile(fileobj=raw))  # type: ignore[no-untyped-call]
        return text, raw
    return raw, raw


def _blocks(uri: str, settings: Settings, block_bytes: int) -> Iterator[pl.DataFrame]:
    """The file's rows, a block of lines at a time, typed and named as in _TYPES."""
    text, raw = _open(uri, settings)
    try:
        header = _header(uri, text)
        rest = b""
        while True:
            data = text.read(block_bytes)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            data, rest = data[:cut], data[cut:]
            if data:
                yield _parse(uri, data, header)
        if rest:
            yield _parse(uri, rest + b"\n", header)
    except (OSError, EOFError) as exc:  # a damaged gzip stream
        raise InputError(uri, f"cannot read the ranks file: {exc}") from exc
    finally:
        raw.close()


def _header(uri: str, text: BinaryIO) -> list[str]:
    line = b""
    while not line.strip():
        line = text.readline()
        if not line:
            raise InputError(uri, "an empty ranks file (no header line)")
    names = line.decode("utf-8", "replace").strip().split("\t")
    if not all(name in names for name in _REQUIRED) or not (
            "#host_rev" in names or "#domain_rev" in names):
        raise InputError(uri, f"not a Common Crawl ranks file: its header is {line[:200]!r}, "
                              "expected #harmonicc_pos #harmonicc_val #pr_pos #pr_val #host_rev")
    return [_COLUMNS.get(name, f"_ignored_{i}") for i, name in enumerate(names)]


def _parse(uri: str, data: bytes, header: list[str]) -> pl.DataFrame:
    if b"\r" in data:
        data = data.replace(b"\r", b"")
    try:
        frame = pl.read_csv(
            data, separator="\t", has_header=False, new_columns=header, quote_char=None,
            schema_overrides={name: _TYPES.get(name, pl.String) for name in header},
            comment_prefix="#",
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(uri, f"a line of the ranks file does not parse: {exc}") from exc
    return frame.select(name for name in header if name in _TYPES).drop_nulls("reversed")


class _TieCounter:
    """Rows of the file seen so far, and, for the rows kept, how many rows have a harmonic
    centrality at least theirs: the end of their run of ties, when the file is in order
    (highest first), as Common Crawl writes it."""

    def __init__(self) -> None:
        self.rows = 0
        self.offset_of_last_block = 0
        self.sorted = True
        self._last = np.inf
        self._block: NDArray[np.float64] = np.zeros(0)
        self._ends: list[NDArray[np.int64]] = []
        self._open: list[tuple[int, int]] = []  # (piece, index) whose run may go on

    def see(self, values: NDArray[np.float64]) -> None:
        self.offset_of_last_block = self.rows
        self._block = values
        self.rows += len(values)
        if not self.sorted or len(values) == 0:
            return
        if values[0] > self._last or (len(values) > 1 and bool((values[1:] > values[:-1]).any())):
            self.sorted = False
            return
        if self._open and values[0] == self._last:  # the run of ties goes on into this block
            extra = int(np.searchsorted(-values, -values[0], side="right"))
            for piece, index in self._open:
                self._ends[piece][index] += extra
            if extra < len(values):
                self._open = []
        elif self._open:
            self._open = []
        self._last = float(values[-1])

    def keep(self, rows: NDArray[np.int64]) -> None:
        """The rows (of the last block seen) that are kept."""
        values = self._block
        if not self.sorted:
            self._ends.append(np.zeros(len(rows), dtype=np.int64))
            return
        ends = np.searchsorted(-values, -values[rows], side="right").astype(np.int64)
        piece = len(self._ends)
        self._ends.append(ends + self.offset_of_last_block)
        self._open.extend((piece, int(i)) for i in np.flatnonzero(ends == len(values)))

    def rows_at_or_above(self) -> NDArray[np.int64]:
        return np.concatenate(self._ends) if self._ends else np.zeros(0, dtype=np.int64)


def _points(lower: NDArray[np.int64], rows: int) -> NDArray[np.float64]:
    """rank.authority from the count of lower values: the share of the other rows, 0 to 100,
    rounded to 0.1."""
    if rows <= 1:
        return np.zeros(len(lower))
    points: NDArray[np.float64] = np.round(100.0 * lower / (rows - 1), 1)
    return points


def _lower_in_second_pass(
    uri: str, settings: Settings, block_bytes: int, kept: NDArray[np.float64],
) -> NDArray[np.int64]:
    """For each kept value, the rows of the file with a lower harmonic centrality (the file
    read again: it is not in order, so they could not be counted on the way)."""
    distinct = np.unique(kept)
    counts = np.zeros(len(distinct) + 1, dtype=np.int64)
    for block in _blocks(uri, settings, block_bytes):
        # a value x is below distinct[j] when fewer than j + 1 distinct values are <= x
        counts += np.bincount(np.searchsorted(distinct, block["harmonic"].to_numpy(), "right"),
                              minlength=len(distinct) + 1)
    lower: NDArray[np.int64] = np.cumsum(counts)[: len(distinct)]
    return lower[np.searchsorted(distinct, kept)]

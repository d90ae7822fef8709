"""The engine setting: the Rust core and the Python path write the same parts (rows and
counters) for every input, WARC and WAT; `auto` takes the core when it is installed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from conftest import SAMPLE

from pipeline.config import Settings
from pipeline.errors import ConfigError
from pipeline.extract.engine import engine_name
from pipeline.parts.process import process_input
from pipeline.read.sources import WAT, InputFile

INPUTS = sorted(p for p in SAMPLE.rglob("*") if p.name.endswith((".warc", ".warc.gz",
                                                                     ".wat", ".wat.gz")))


def test_engine_names() -> None:
    assert engine_name("python") == "python"
    assert engine_name("auto") == "rust"  # the test command installs the core
    assert engine_name("rust") == "rust"
    with pytest.raises(ConfigError, match="engine must be one of"):
        engine_name("fast")


def part_of(tmp_path: Path, path: Path, engine: str) -> tuple[dict[str, list[tuple]], dict]:
    data = tmp_path / engine
    settings = replace(Settings.defaults(), data_dir=str(data), engine=engine, partitions=4)
    source = InputFile(str(path))
    result = process_input(source, settings)
    assert (source.format == WAT) == (".wat" in path.name)
    folder = data / "parts" / result.key
    info = json.loads((folder / "part.json").read_text())
    tables = {kind: sorted(pl.read_parquet(sorted(folder.glob(f"{kind}-*.parquet"))).rows())
              if list(folder.glob(f"{kind}-*.parquet")) else []
              for kind in ("pages", "links")}
    described = {key: info[key] for key in ("counters", "records", "pages", "links", "crawl")}
    described["files"] = sorted(info["files"])
    return tables, described


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_both_engines_write_the_same_part(tmp_path: Path, path: Path) -> None:
    rust = part_of(tmp_path, path, "rust")
    python = part_of(tmp_path, path, "python")
    assert rust == python
    assert rust[1]["records"] > 0


def test_the_core_serves_new_threads_after_the_first_ones_exit() -> None:
    """A small run's files are read in a thread pool whose threads end with the run; the
    next run in the same process (a notebook's, a program's second call) reads in new
    threads. mimalloc 3.x, the core's allocator, crashed there (a segmentation fault in
    mi_thread_init on the first allocation of a new thread, microsoft/mimalloc#1393); the
    core now builds mimalloc 2. In a child process, so that a crash fails only this test."""
    import subprocess
    import sys

    code = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from pipeline.config import Settings\n"
        "from pipeline.extract.engine import CoreEngine\n"
        "settings = Settings.defaults()\n"
        "for run in range(4):\n"
        "    with ThreadPoolExecutor(2) as pool:\n"
        "        engines = list(pool.map(lambda _: CoreEngine(settings), range(6)))\n"
        "    print('run', run, len(engines), flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "run 3 6"

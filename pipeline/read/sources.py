"""List the inputs of a run: local files, folders and globs, and remote URLs as they are.

A crawl's own file list (``warc.paths.gz``) is read in crawls.py.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline import bundled
from pipeline.errors import BacklinksError
from pipeline.scratch import scratch_folder

WARC, WAT = "warc", "wat"
FORMATS = (WARC, WAT)
SUFFIXES = {WARC: (".warc", ".warc.gz"), WAT: (".wat", ".wat.gz")}
WARC_SUFFIXES = SUFFIXES[WARC]
_CRAWL_IN_PATH = re.compile(r"CC-MAIN-\d{4}-\d{2}(?!\d)")
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class InputFile:
    """One input of a run: an absolute local path, an http(s):// URL or an s3:// URL."""

    uri: str

    @property
    def format(self) -> str:
        """``wat`` for a WAT file (named *.wat or *.wat.gz), else ``warc``."""
        return WAT if self.name.endswith(SUFFIXES[WAT]) else WARC

    @property
    def remote(self) -> bool:
        return "://" in self.uri

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    @property
    def key(self) -> str:
        """A file-system-safe id, stable for the same uri: the part of this input is named so."""
        digest = hashlib.sha1(self.uri.encode("utf-8")).hexdigest()[:12]
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", self.name)[:80] or "input"
        return f"{stem}-{digest}"

    @property
    def crawl_from_path(self) -> str | None:
        """The crawl id (CC-MAIN-YYYY-WW) in the path, as in crawl-data/CC-MAIN-2024-22/..."""
        match = _CRAWL_IN_PATH.search(self.uri)
        return match.group(0) if match else None


@dataclass(frozen=True)
class InputListing:
    """The inputs of a run in a file on this machine (a JSON string a line), by path and
    count: what the run's Prefect flow takes instead of the list. Prefect keeps a flow's
    parameters in its API, which refuses them above 512 KB (about 5,000 Common Crawl URLs:
    10,000 made 1.16 MB), and serializes them again for every task it submits (234 KB a task
    with 1,000 inputs), so a crawl's 90,000 inputs cannot be a parameter."""

    path: str
    count: int

    @classmethod
    def write(cls, inputs: Sequence[InputFile], path: Path) -> InputListing:
        path.write_text("".join(json.dumps(source.uri) + "\n" for source in inputs),
                        encoding="utf-8")
        return cls(str(path), len(inputs))

    def read(self) -> list[InputFile]:
        try:
            inputs = [InputFile(json.loads(line)) for line in
                      Path(self.path).read_text(encoding="utf-8").splitlines()]
        except (OSError, ValueError) as exc:
            raise BacklinksError(f"the run's list of inputs {self.path!r} cannot be read "
                                 f"({exc}); start the run again") from exc
        if len(inputs) != self.count:
            raise BacklinksError(f"the run's list of inputs {self.path!r} holds {len(inputs)} "
                                 f"inputs, not {self.count}; start the run again")
        return inputs


@contextmanager
def listed(inputs: Sequence[InputFile]) -> Iterator[InputListing]:
    """``inputs`` in a listing of their own for one run, removed when the block ends."""
    with scratch_folder("inputs") as folder:
        yield InputListing.write(inputs, folder / "inputs.jsonl")


def _has_format(path: Path, file_format: str) -> bool:
    if not path.is_file() or not path.name.endswith(SUFFIXES[file_format]):
        return False
    # a WAT file is named *.warc.wat.gz: it is never a WARC input
    return file_format == WAT or not path.name.endswith(SUFFIXES[WAT])


def _expand(argument: str, file_format: str) -> list[str]:
    """Expand one argument: a folder to its files of the format, a glob to its matches.

    A path that does not exist is kept as it is, so that processing it reports it by name
    (the other inputs still run); so is a glob that matches nothing. (The CLI refuses both
    before it starts: see explain_unusable.)
    """
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", argument):
        return [argument]  # a URL: checked when it is opened
    path = Path(argument).expanduser()
    if path.is_dir():
        return [str(p.resolve()) for p in sorted(path.rglob("*")) if _has_format(p, file_format)]
    if _GLOB_CHARS.search(argument) and not path.exists():
        matches = sorted(glob.glob(os.path.expanduser(argument), recursive=True))
        if matches:
            return [str(Path(m).resolve()) for m in matches if Path(m).is_file()]
        return [argument]
    return [str(path.resolve())]


_FORMAT_NAMES = {WARC: "WARC", WAT: "WAT"}


def _suffix_list(file_format: str) -> str:
    suffixes = (".warc.wat.gz", ".wat") if file_format == WAT else SUFFIXES[WARC]
    return ", ".join(f"*{suffix}" for suffix in suffixes)


def explain_unusable(arguments: Iterable[str], file_format: str = WARC) -> list[str]:
    """What is wrong with the arguments that can give no input at all: a path that does not
    exist, a glob that matches no file, a folder without files of the format (saying so when
    it holds files of the other format). URLs are checked when they are opened."""
    problems = []
    other = WAT if file_format == WARC else WARC
    for argument in arguments:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", argument):
            continue
        path = Path(argument).expanduser()
        if path.is_dir():
            files = [p for p in path.rglob("*") if p.is_file()]
            if any(_has_format(p, file_format) for p in files):
                continue
            problem = (f"the folder {argument} holds no {_FORMAT_NAMES[file_format]} files "
                       f"({_suffix_list(file_format)})")
            others = sum(_has_format(p, other) for p in files)
            if others:
                problem += (f"; it holds {others:,} {_FORMAT_NAMES[other]} file"
                            f"{'s' if others != 1 else ''}: add --format {other}")
            problems.append(problem)
        elif path.exists():
            continue
        elif _GLOB_CHARS.search(argument):
            matches = glob.glob(os.path.expanduser(argument), recursive=True)
            if not any(Path(m).is_file() for m in matches):
                problems.append(f"no file matches {argument}")
        else:
            problems.append(f"{argument}: no such file or folder")
    return problems


def list_inputs(arguments: Iterable[str], file_format: str = WARC) -> list[InputFile]:
    """The inputs named by paths, folders, globs and URLs, in order, each once.

    ``file_format`` chooses the files a folder contributes (WARC or WAT); a file or URL named
    explicitly is read in the format its name says.
    """
    seen: dict[str, None] = {}
    for argument in arguments:
        for uri in _expand(argument, file_format):
            seen.setdefault(uri, None)
    return [InputFile(uri) for uri in seen]


def local_bytes(inputs: Iterable[InputFile]) -> int | None:
    """The bytes of the inputs when all are local files (one that is missing counts 0: it
    fails in its task, as in any run), None when any is remote."""
    total = 0
    for source in inputs:
        if source.remote:
            return None
        try:
            total += os.stat(source.uri).st_size
        except OSError:
            continue
    return total


def sample_inputs() -> list[InputFile]:
    """The bundled Common Crawl sample (genuine WARC files from several crawls)."""
    return [InputFile(str(path)) for path in bundled.sample_files()]

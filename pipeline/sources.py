"""List the inputs of a run: local files, folders and globs (later: a crawl's paths files)."""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline import bundled

WARC_SUFFIXES = (".warc", ".warc.gz")
_CRAWL_IN_PATH = re.compile(r"CC-MAIN-\d{4}-\d{2}(?!\d)")
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class InputFile:
    """One input of a run. ``uri`` is an absolute local path (remote URLs come later)."""

    uri: str

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


def _is_warc(path: Path) -> bool:
    return path.is_file() and path.name.endswith(WARC_SUFFIXES)


def _expand(argument: str) -> list[str]:
    """Expand one argument: a folder to its WARC files, a glob to its matches.

    A path that does not exist is kept as it is, so that processing it reports it by name
    (the other inputs still run); so is a glob that matches nothing.
    """
    path = Path(argument).expanduser()
    if path.is_dir():
        return [str(p.resolve()) for p in sorted(path.rglob("*")) if _is_warc(p)]
    if _GLOB_CHARS.search(argument) and not path.exists():
        matches = sorted(glob.glob(os.path.expanduser(argument), recursive=True))
        if matches:
            return [str(Path(m).resolve()) for m in matches if Path(m).is_file()]
        return [argument]
    return [str(path.resolve())]


def list_inputs(arguments: Iterable[str]) -> list[InputFile]:
    """The inputs named by paths, folders and globs, in order, each once."""
    seen: dict[str, None] = {}
    for argument in arguments:
        for uri in _expand(argument):
            seen.setdefault(uri, None)
    return [InputFile(uri) for uri in seen]


def sample_inputs() -> list[InputFile]:
    """The bundled Common Crawl sample (genuine WARC files from several crawls)."""
    return [InputFile(str(path)) for path in bundled.sample_files()]

"""Files that ship with cc-backlinks: the Common Crawl sample, the SQL and the suffix list.

In a source checkout they live in the repository (``tests/data/cc``, ``sql/``); in an
installed wheel they are packaged under ``pipeline/_bundled/`` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_DIR = _PACKAGE_DIR.parent
_PACKAGED = _PACKAGE_DIR / "_bundled"

SAMPLE_SUFFIXES = (".warc", ".warc.gz")


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[0]


def sample_dir() -> Path:
    """Folder of the genuine Common Crawl sample WARC files (see tests/data/README.md)."""
    return _first_existing(_REPO_DIR / "tests" / "data" / "cc", _PACKAGED / "cc")


def sample_files() -> list[Path]:
    """The sample's WARC files (not its WAT or WET files), sorted by path."""
    root = sample_dir()
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(SAMPLE_SUFFIXES))


def sql_dir() -> Path:
    """Folder of the SQL applied to every published database."""
    return _first_existing(_REPO_DIR / "sql", _PACKAGED / "sql")


def public_suffix_list() -> Path:
    return _PACKAGE_DIR / "data" / "public_suffix_list.dat"

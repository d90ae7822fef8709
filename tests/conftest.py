"""Shared fixtures. Prefect runs against real local servers started by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

# Prefect reads its settings at import: give it a private home, no analytics, quiet logs.
_PREFECT_HOME = tempfile.mkdtemp(prefix="backlinks-prefect-home-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
os.environ.pop("PREFECT_API_URL", None)

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
SAMPLE = DATA / "cc"


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str
    data_dir: Path

    @property
    def db(self) -> Path:
        return self.data_dir / "graph.duckdb"


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliRun:
    """Run the real `backlinks` command in a child process."""
    full_env = {**os.environ, **(env or {})}
    completed = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    data = Path(args[args.index("--data") + 1]) if "--data" in args else REPO / "backlinks-data"
    return CliRun(completed.returncode, completed.stdout, completed.stderr, data)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """`backlinks run` on the bundled sample, once per test session."""
    data_dir = tmp_path_factory.mktemp("sample-run") / "data"
    result = run_cli("run", "--data", str(data_dir), "--workers", "2")
    assert result.returncode == 0, result.stderr + result.stdout
    return result

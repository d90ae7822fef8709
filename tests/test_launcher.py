"""The launcher at the repository's root (`./backlinks`): installs on first use, then starts
the installed command directly.

Each test runs the real script in a copy of the repository's root files, in a child process,
with uv replaced by a recording stand-in (a real `uv sync` here would rebuild the
environment the test suite runs in); the stand-in installs by linking the real
`.venv/bin/backlinks`, so the command started afterwards is the real one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CliRun

REPO = Path(__file__).resolve().parent.parent
REAL_COMMAND = Path(sys.executable).with_name("backlinks")
FAKE_UV = """#!/bin/sh
echo "$@" >> "{calls}"
[ -n "${{FAIL_SYNC:-}}" ] && {{ echo "error: the build failed" >&2; exit 1; }}
mkdir -p .venv/bin && ln -sf "{command}" .venv/bin/backlinks
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of what the launcher looks at: itself, the lock files, the project files."""
    root = tmp_path / "repo"
    (root / "core").mkdir(parents=True)
    shutil.copy2(REPO / "backlinks", root / "backlinks")
    for name in ("uv.lock", "pyproject.toml", "core/Cargo.lock", "core/pyproject.toml"):
        shutil.copy2(REPO / name, root / name)
    return root


def launch(root: Path, *arguments: str, cargo: bool = True, uv: bool = True, **env: str
           ) -> subprocess.CompletedProcess[str]:
    tools = root.parent / "tools"
    tools.mkdir(exist_ok=True)
    fake_uv = tools / "uv"
    fake_uv.write_text(FAKE_UV.format(calls=root.parent / "uv-calls", command=REAL_COMMAND))
    fake_uv.chmod(0o755)
    path = "/usr/bin:/bin"
    if cargo:
        (tools / "cargo").write_text("#!/bin/sh\n")
        (tools / "cargo").chmod(0o755)
        path = f"{tools}:{path}"
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("UV_", "BACKLINKS_", "VIRTUAL_ENV"))}
    return subprocess.run(["./backlinks", *arguments], cwd=root, capture_output=True,
                          text=True, timeout=120,
                          env={**keep, "PATH": path, **env,
                               **({"BACKLINKS_UV": str(fake_uv)} if uv else {})})


def uv_calls(root: Path) -> list[str]:
    calls = root.parent / "uv-calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_the_first_call_installs_then_runs_the_command(root: Path) -> None:
    result = launch(root, "--version")
    assert result.returncode == 0, result.stderr
    assert uv_calls(root) == ["sync --frozen --inexact --extra core --compile-bytecode --quiet"]
    assert "installing into" in result.stderr
    assert "version" in result.stdout.lower()  # the real command answered
    assert (root / ".venv" / ".backlinks-installed").is_file()


def test_later_calls_start_the_installed_command_without_uv(root: Path) -> None:
    assert launch(root, "--version").returncode == 0
    again = launch(root, "--version")
    assert again.returncode == 0 and "version" in again.stdout.lower()
    assert len(uv_calls(root)) == 1  # no second installation
    assert "installing" not in again.stderr


def test_a_changed_lock_file_installs_again(root: Path) -> None:
    assert launch(root, "--version").returncode == 0
    stamp = root / ".venv" / ".backlinks-installed"
    later = stamp.stat().st_mtime + 10
    os.utime(root / "uv.lock", (later, later))
    assert launch(root, "--version").returncode == 0
    assert len(uv_calls(root)) == 2


def test_without_cargo_it_installs_the_python_path_and_says_so(root: Path) -> None:
    result = launch(root, "--version", cargo=False)
    assert result.returncode == 0, result.stderr
    assert uv_calls(root) == ["sync --frozen --inexact --compile-bytecode --quiet"]
    assert "no Rust toolchain (cargo)" in result.stderr


def test_a_failed_installation_fails_and_is_tried_again_next_time(root: Path) -> None:
    failed = launch(root, "--version", FAIL_SYNC="1")
    assert failed.returncode != 0 and "the build failed" in failed.stderr
    assert not (root / ".venv" / ".backlinks-installed").exists()
    assert launch(root, "--version").returncode == 0
    assert len(uv_calls(root)) == 2


def test_the_command_knows_the_launcher_started_it(root: Path, sample_run: CliRun) -> None:
    """The summary's `Next:` line reads `./backlinks query ...`, as the command was typed:
    a re-run with nothing new over a copy of the sample's data folder, through the
    launcher."""
    data = root.parent / "data"
    shutil.copytree(sample_run.data_dir, data)
    result = launch(root, "run", "--data", str(data))
    assert result.returncode == 0, result.stderr
    assert "nothing new" in result.stderr
    assert "Next: ./backlinks query <domain>" in result.stdout, result.stdout


def test_without_uv_it_says_how_to_install_it(root: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"  # a python3 without uv, and no uv on PATH
    bare.mkdir()
    (bare / "python3").write_text("#!/bin/sh\nexit 1\n")
    (bare / "python3").chmod(0o755)
    result = launch(root, "--version", uv=False, PATH=f"{bare}:/bin")
    assert result.returncode == 127
    assert "python3 -m pip install uv==0.13.8" in result.stderr
    assert not (root / ".venv").exists()

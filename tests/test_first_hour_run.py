"""Issue 18, items 2, 3, 10-12, 19, 20: `backlinks run` says what it is doing, fails at once
on bad input, and its summary tells this run's work from the graph's.

Two Prefect runs in all (on the session's shared API): one in a pseudo-terminal, with two
inputs after one --input; then a quiet re-run that finds nothing new without any server.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import REPO, CliRun, run_cli
from pty_run import PtyRun, run_in_pty

from flows.cli import invoked_as
from flows.display import PlainDisplay, RunProgress
from pipeline.bundled import sample_files


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# Python's own import log (-X importtime) shows which modules a command loaded: a command
# that never loads Prefect cannot have spent its 15-25 s starting Prefect's server.
IMPORT_TIMES = {"PYTHONPROFILEIMPORTTIME": "1"}


def split_import_times(stderr: str) -> tuple[str, str]:
    """(what the command wrote to stderr, the names of the modules it imported)."""
    lines = stderr.splitlines(keepends=True)
    own = "".join(line for line in lines if not line.startswith("import time:"))
    imported = " ".join(line.rsplit("|", 1)[-1].strip()
                        for line in lines if line.startswith("import time:"))
    return own, imported


# --- item 3: instant errors ---------------------------------------------------------------


def test_a_missing_input_fails_at_once(tmp_path: Path) -> None:
    result = run_cli("run", "--input", "/nonexistent", "--data", str(tmp_path / "data"),
                     env=IMPORT_TIMES)
    assert result.returncode == 2
    err, imported = split_import_times(result.stderr)
    assert "Error: /nonexistent: no such file or folder" in err
    assert "Processing" not in err  # nothing started
    assert "pipeline.read" in imported and "prefect" not in imported  # fast: Prefect never loaded


def test_a_folder_without_warc_files_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("run", "--input", f"{empty}/", "--data", str(tmp_path / "data"))
    assert result.returncode == 2
    assert f"the folder {empty}/ holds no WARC files (*.warc, *.warc.gz)" in result.stderr
    wats = tmp_path / "wats"
    wats.mkdir()
    (wats / "x.warc.wat.gz").write_bytes(b"")
    hinted = run_cli("run", str(wats), "--data", str(tmp_path / "data"))
    assert "holds no WARC files" in hinted.stderr and "1 WAT file: add --format wat" in \
        hinted.stderr
    nothing = run_cli("run", "--input", str(tmp_path / "*.warc.gz"), "--data", str(tmp_path))
    assert nothing.returncode == 2 and "no file matches" in nothing.stderr


# --- items 2, 10, 12, 19, 20 in two runs ----------------------------------------------------


@pytest.fixture(scope="module")
def terminal_run(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[PtyRun, Path]:
    data = tmp_path_factory.mktemp("terminal-run") / "data"
    first, second = sorted(sample_files(), key=lambda p: p.stat().st_size)[-2:]
    result = run_in_pty("run", "--input", str(first), str(second), "--data", str(data),
                        "--workers", "1", env={"PREFECT_API_URL": prefect_api}, columns=120)
    return result, data


def test_several_paths_after_one_input_and_a_live_display(
    terminal_run: tuple[PtyRun, Path]
) -> None:
    result, _ = terminal_run
    assert result.returncode == 0, result.text
    text = result.text
    assert "Processing 2 inputs from your inputs" in text  # both paths after one --input
    assert "[1/2] done" in text and "[2/2] done" in text
    assert "/2 files" in text and "MB" in text  # the live row of the run
    assert "\x1b[" in result.output  # drawn with the terminal's control sequences
    assert "Run " in text and ": complete" in text
    assert "  this run  " in text and "  graph     " in text  # labelled: this run, the graph
    # no Prefect banner, analytics notice or log line in the user's terminal
    assert "analytics" not in text.lower() and "Starting temporary server" not in text
    assert " | INFO " not in text and " | ERROR " not in text


def test_a_first_run_of_small_local_files_gets_one_partition(
    terminal_run: tuple[PtyRun, Path]
) -> None:
    """The partition count chosen at a location's first run (setting 0) fits its inputs:
    two sample files, under a megabyte, are one partition, not sixteen of a few kilobytes."""
    result, data = terminal_run
    assert result.returncode == 0, result.text
    first, second = sorted(sample_files(), key=lambda p: p.stat().st_size)[-2:]
    layout = json.loads((data / "layout.json").read_text())
    assert layout["partitions"] == 1
    assert layout["chosen_for_bytes"] == first.stat().st_size + second.stat().st_size
    files = [described for part in data.glob("parts/*/part.json")
             for described in json.loads(part.read_text())["files"].values()]
    assert files and all([p for p, *_ in described["partitions"]] == [0] for described in files)
    assert "NOTE" not in result.text  # the count suits the run it was chosen for


def test_a_rerun_with_nothing_new_is_quick_quiet_and_labelled(
    terminal_run: tuple[PtyRun, Path], tmp_path: Path
) -> None:
    _, data = terminal_run
    first, second = sorted(sample_files(), key=lambda p: p.stat().st_size)[-2:]
    again = run_cli("run", "--quiet", str(first), str(second), "--data", str(data),
                    env={"UV_RUN_RECURSION_DEPTH": "1",
                         "UV_INTERNAL__PARENT_INTERPRETER": "/usr/bin/python3",
                         **IMPORT_TIMES})
    assert again.returncode == 0, again.stderr
    err, imported = split_import_times(again.stderr)
    assert err == ""  # --quiet: the summary only
    assert "pipeline.read" in imported and "prefect" not in imported  # no Prefect server started
    out = again.stdout
    assert ": complete (nothing new)" in out
    assert "inputs    2 (0 processed, 2 reused, 0 failed)" in out
    assert "this run  nothing read: all 2 inputs had a complete part" in out
    assert "  graph     " in out and "pages/s" not in out  # no "(0.0 pages/s)"
    assert "Next: python3 -m uv run backlinks query <domain> --db " in out  # as invoked


def test_the_sample_run_reports_in_plain_lines_when_not_a_terminal(sample_run: CliRun) -> None:
    err = sample_run.stderr
    assert "\x1b[" not in err  # no control sequences in a log
    assert err.count("done   ") == len(sample_files())
    assert "... aggregating all parts" in err and "... publishing " in err
    assert "Next: python -m flows.cli query <domain>" in sample_run.stdout


# --- the pieces, on a clock the test drives ------------------------------------------------


def test_plain_lines_every_interval_with_bytes_rate_and_time_left(tmp_path: Path) -> None:
    from flows.build import Step

    lines: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            lines.extend(text.splitlines())

        def flush(self) -> None:
            pass

    clock = Clock()
    display = PlainDisplay(3, str(tmp_path), Out(), lambda done, total, item: None,  # type: ignore[arg-type]
                           interval=10)
    display.progress = RunProgress(3, clock=clock)
    display._last = clock()
    state = {"input": "/x/a.warc.gz", "size": 100_000_000, "read": 0, "retries": 0,
             "notes": []}
    (tmp_path / "a.json").write_text(json.dumps(state))
    display.poll()
    clock.now += 1
    state.update(read=40_000_000, retries=1, notes=["a.warc.gz: retry 1 in 2 s: HTTP 503"])
    (tmp_path / "a.json").write_text(json.dumps(state))
    display.poll()
    assert lines == ["... a.warc.gz: retry 1 in 2 s: HTTP 503"]  # each retry, at once
    clock.now += 4
    display.tick()
    assert len(lines) == 1  # not before the interval
    clock.now += 6
    display.tick()
    assert lines[-1].startswith("... 0 of 3 files done, 1 reading: 40 MB of about 300 MB read")
    assert "MB/s" in lines[-1] and "left" in lines[-1]
    display(1, 4, Step("links", 0, 4))
    display(1, 4, Step("links", 1, 4))
    display(4, 4, Step("links", 4, 4))
    assert lines[-2:] == ["... aggregating: links, 0 of 4 partitions reduced",
                          "... aggregating: links, 4 of 4 partitions reduced"]


def test_the_run_estimate_leaves_out_reused_inputs() -> None:
    clock = Clock()
    progress = RunProgress(3, clock=clock)
    progress.known_size("a", 100)
    progress.known_size("b", 300)
    progress.finish("b", read=False)  # reused: its bytes are never read
    progress.update({"input": "a", "size": 100, "read": 50})
    clock.now += 10
    assert progress.bytes_read == 50 and progress.bytes_total == 200  # a, and c as big as a
    assert progress.eta() == pytest.approx(30.0)


def test_the_next_command_is_the_one_that_was_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("UV_RUN_RECURSION_DEPTH", "UV_INTERNAL__PARENT_INTERPRETER",
                 "BACKLINKS_LAUNCHER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.orig_argv", ["/venv/bin/python", "/venv/bin/backlinks", "run"])
    assert invoked_as() == "backlinks"
    monkeypatch.setattr("sys.orig_argv", ["python3", "-m", "flows.cli", "run"])
    assert invoked_as() == "python3 -m flows.cli"
    monkeypatch.setenv("UV_RUN_RECURSION_DEPTH", "1")
    assert invoked_as() == "uv run backlinks"
    monkeypatch.setenv("UV_INTERNAL__PARENT_INTERPRETER", "/usr/bin/python3")
    assert invoked_as() == "python3 -m uv run backlinks"
    monkeypatch.setenv("BACKLINKS_LAUNCHER", "./backlinks")  # the launcher names itself
    assert invoked_as() == "./backlinks"


def test_a_run_where_every_input_failed_is_failed() -> None:
    from flows.build import run_status

    assert run_status(3, 0) == "complete"
    assert run_status(2, 1) == "partial"
    assert run_status(0, 2) == "failed"


def test_the_shipped_template_is_at_the_installed_prefects_last_migration(
    tmp_path: Path
) -> None:
    """Else every run would migrate its copy (about 7 s of CPU) before the server answers."""
    import gzip
    import re
    import sqlite3

    import prefect.server.database

    from flows.server import TEMPLATES, _template_name, template

    assert template() == TEMPLATES / _template_name(), (
        "no template for this Prefect version: run `python -m flows.server template`")
    copy = tmp_path / "prefect.db"
    with gzip.open(template()) as source, open(copy, "wb") as out:
        shutil.copyfileobj(source, out)
    ((revision,),) = sqlite3.connect(copy).execute("select version_num from alembic_version")
    versions = Path(prefect.server.database.__file__).parent / "_migrations" / "versions"
    texts = [f.read_text() for f in (versions / "sqlite").glob("*.py")]
    assert any(re.search(rf"^revision = \"{revision}\"", t, re.M) for t in texts)
    assert not any(re.search(rf"^down_revision = \"{revision}\"", t, re.M) for t in texts), (
        "Prefect has migrations after the template's: run `python -m flows.server template`")


def test_a_temporary_server_goes_with_a_command_killed_with_sigkill(tmp_path: Path) -> None:
    """A command killed with SIGKILL (or by the out-of-memory killer) cannot stop its
    server; the server sees its parent gone and exits, removing its folder, instead of
    running on with its port and database."""
    import signal
    import subprocess
    import sys
    import time

    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from flows.server import TemporaryServer\n"
         "server = TemporaryServer().start()\n"
         "server.wait()\n"
         "print(server.process.pid, server.folder, flush=True)\n"
         "time.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    assert child.stdout is not None
    pid, folder = child.stdout.readline().split()
    assert Path(folder, "prefect.db").is_file()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    gone = not Path(f"/proc/{pid}").exists() or "zombie" in Path(
        f"/proc/{pid}/status").read_text().lower()
    if not gone:
        os.kill(int(pid), signal.SIGKILL)  # leave nothing running either way
    assert gone, "the server outlived the command that started it"
    assert not Path(folder).exists()


def test_a_temporary_server_takes_no_heartbeats_and_a_lasting_one_keeps_them(
    prefect_api: str
) -> None:
    """Prefect's flow heartbeats tell a lasting server that a run crashed; on the run's own
    temporary server nobody reads them, and stopping their thread cost up to 1 s a run."""
    import httpx
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows.build import temporary_api
    from flows.server import TemporaryServer

    default = get_current_settings().flows.heartbeat_frequency
    assert default is not None
    server = TemporaryServer().start()
    with temporary_api(server) as url:
        assert httpx.get(f"{url}/health").status_code == 200
        assert get_current_settings().flows.heartbeat_frequency is None
    assert server.process is None  # stopped with the run
    assert get_current_settings().flows.heartbeat_frequency == default

    with temporary_settings({PREFECT_API_URL: prefect_api}), temporary_api(None) as url:
        assert url == prefect_api  # the user's own server
        assert get_current_settings().flows.heartbeat_frequency == default

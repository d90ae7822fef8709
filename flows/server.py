"""The temporary Prefect API server of a run, started as early and as lean as measurement
allows (docs/benchmarks.md, "Start-up"). Importing this module does not import Prefect.

What it does differently from Prefect's own ``SubprocessASGIServer``:

- it is started by the CLI as soon as the inputs are known to be good, and the server
  process imports Prefect's server while the CLI imports the flow (two cores, in parallel);
- its database is a fresh copy of a migrated, empty one (``flows/prefect-template/``, made by
  ``python -m flows.server template`` for the pinned Prefect version), so no run waits for
  Prefect's migrations (about 7 s of CPU on a new database); for another Prefect version a
  template is migrated once into ``$PREFECT_HOME/cc-backlinks/`` and reused. The copy is
  deleted with the server: a temporary server keeps no history (set ``PREFECT_API_URL`` to
  a server of your own for that);
- only the services a run needs (task run recorder, event persister): no triggers, actions,
  event logger, websocket streams, UI, block registration or analytics;
- it goes with the command that started it: a command killed with SIGKILL (by hand, or by
  the kernel's out-of-memory killer) cannot stop it, so the server watches its parent and
  exits, removing its folder, once the parent is gone.
"""

from __future__ import annotations

import atexit
import gzip
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "prefect-template"
# A first start on a new Prefect version migrates its template, which can take a minute on
# a small, busy machine.
STARTUP_TIMEOUT_SECONDS = 180.0
PORT_IN_USE_EXIT = 3  # uvicorn's exit status when its port was taken meanwhile
PARENT_ENV = "BACKLINKS_SERVER_PARENT"  # the pid of the command the server goes with
FOLDER_ENV = "BACKLINKS_SERVER_FOLDER"  # the server's folder (its database), removed then
PARENT_CHECK_SECONDS = 1.0

SERVER_SETTINGS = {
    "PREFECT_UI_ENABLED": "false",
    "PREFECT__SERVER_EPHEMERAL": "1",  # Prefect runs only its ephemeral services ...
    "PREFECT__SERVER_FINAL": "1",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",  # ... and of those, not these
    "PREFECT_SERVER_SERVICES_ACTIONS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_LOGGER_ENABLED": "false",
    "PREFECT_SERVER_EVENTS_STREAM_OUT_ENABLED": "false",
    "PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED": "false",
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
    "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",  # (else it loads every collection)
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "ERROR",
}


def prefect_version() -> str:
    return version("prefect")


def _template_name() -> str:
    return f"prefect-{prefect_version()}.db.gz"


def _prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def _url(database: Path) -> str:
    return f"sqlite+aiosqlite:///{database}"


def make_template(destination: Path) -> Path:
    """Migrate a new, empty Prefect database and store it gzipped at ``destination``."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="backlinks-prefect-template-") as folder:
        database = Path(folder) / "prefect.db"
        env = {**os.environ, **SERVER_SETTINGS, "PREFECT_API_DATABASE_CONNECTION_URL":
               _url(database)}
        subprocess.run(
            [sys.executable, "-c",
             "import asyncio\n"
             "from prefect.server.database import provide_database_interface\n"
             "asyncio.run(provide_database_interface().create_db())\n"],
            env=env, check=True,
        )
        import sqlite3

        con = sqlite3.connect(database)
        con.execute("vacuum")
        con.close()
        partial = destination.with_name(f".{destination.name}.{os.getpid()}")
        with open(database, "rb") as source, open(partial, "wb") as raw, gzip.GzipFile(
            fileobj=raw, mode="wb", compresslevel=9, mtime=0
        ) as out:
            shutil.copyfileobj(source, out)
        os.replace(partial, destination)
    return destination


def template() -> Path:
    """The migrated empty database of the installed Prefect: shipped, or made once."""
    shipped = TEMPLATES / _template_name()
    if shipped.is_file():
        return shipped
    cached = _prefect_home() / "cc-backlinks" / _template_name()
    if not cached.is_file():
        make_template(cached)
    return cached


def create_app() -> Any:
    """Prefect's API app, made in the server process (uvicorn's factory). Importing
    Prefect's server leaves about 290,000 objects to the garbage collector, which runs
    about 690 times meanwhile and frees some 8,000; without it the server answers about a
    sixth sooner (docs/benchmarks.md, "Start-up"). What was imported is then frozen, out of
    every later collection."""
    import gc

    parent = os.environ.get(PARENT_ENV)
    if parent:
        import threading

        threading.Thread(target=exit_with_parent, name="exit-with-parent", daemon=True,
                         args=(int(parent), os.environ.get(FOLDER_ENV, ""))).start()
    gc.disable()
    try:
        from prefect.server.api.server import create_app as prefect_app

        app = prefect_app()
    finally:
        gc.freeze()
        gc.enable()
    return app


def exit_with_parent(parent: int, folder: str,
                     interval: float = PARENT_CHECK_SECONDS) -> None:
    """In the server process: exit once ``parent`` (the command that started it) is no
    longer its parent, that is, has died without stopping it; remove ``folder`` first."""
    while os.getppid() == parent:
        time.sleep(interval)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryServer:
    """A Prefect API server for one run, on a free local port, with its own database."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="backlinks-prefect-"))
        self.database = self.folder / "prefect.db"
        self.log = self.folder / "server.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._ready = False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> TemporaryServer:
        """Start the server process and return at once (``wait`` waits for it)."""
        with gzip.open(template(), "rb") as source, open(self.database, "wb") as out:
            shutil.copyfileobj(source, out)
        self._launch()
        atexit.register(self.stop)  # whatever happens to the run, the server goes with it
        return self

    def _launch(self) -> None:
        self.port = _free_port()
        env = {**os.environ, **SERVER_SETTINGS,
               "PREFECT_API_DATABASE_CONNECTION_URL": _url(self.database),
               PARENT_ENV: str(os.getpid()), FOLDER_ENV: str(self.folder)}
        env.pop("PREFECT_API_URL", None)
        with open(self.log, "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory",
                 "flows.server:create_app", "--host", "127.0.0.1", "--port",
                 str(self.port), "--log-level", "error", "--lifespan", "on"],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )

    def ready(self) -> bool:
        """Whether the API answers now (a quick look, no waiting)."""
        import httpx

        if self._ready:
            return True
        try:
            self._ready = httpx.get(f"{self.api_url}/health", timeout=0.5).status_code == 200
        except httpx.TransportError:
            return False
        return self._ready

    def wait(self, timeout: float = STARTUP_TIMEOUT_SECONDS) -> str:
        """Wait until the API answers; its URL. RuntimeError if it does not start."""
        import httpx

        if self._ready:
            return self.api_url
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None, "start() first"
                status = self.process.poll()
                if status == PORT_IN_USE_EXIT:
                    self._launch()
                    continue
                if status is not None:
                    error = self.log.read_text("utf-8", errors="replace")
                    raise RuntimeError(
                        f"the temporary Prefect server exited with status {status}: "
                        f"{error.strip()[-2000:]}"
                    )
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        self._ready = True
                        return self.api_url
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"the temporary Prefect server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def main(arguments: list[str]) -> int:
    if arguments != ["template"]:
        print("usage: python -m flows.server template   (writes "
              f"{TEMPLATES / _template_name()})", file=sys.stderr)
        return 2
    print(make_template(TEMPLATES / _template_name()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

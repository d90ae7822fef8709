"""Run the `backlinks` command in a pseudo-terminal, as a person at a terminal would: its
standard input, output and error are a terminal of a given size."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


@dataclass
class PtyRun:
    returncode: int
    output: str  # everything the terminal received, escape sequences included

    @property
    def text(self) -> str:
        """The output without terminal escape sequences and carriage returns."""
        return _ESCAPES.sub("", self.output)


def run_in_pty(*args: str, env: dict[str, str] | None = None, columns: int = 100,
               rows: int = 30, typed: str = "", timeout: float = 300) -> PtyRun:
    """`python -m flows.cli ARGS` with a terminal of ``columns`` x ``rows`` on all three
    streams; ``typed`` is sent as keyboard input."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns),
                "LINES": str(rows), **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "flows.cli", *args], cwd=REPO,
                               env=full_env, stdin=slave, stdout=slave, stderr=slave,
                               close_fds=True)
    os.close(slave)
    if typed:
        os.write(master, typed.encode())
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
    finally:
        os.close(master)
    returncode = process.wait(timeout=30)
    return PtyRun(returncode, b"".join(chunks).decode("utf-8", errors="replace"))

"""What `backlinks run` shows while it works: a live display in a terminal, plain periodic
lines otherwise, nothing with --quiet.

The per-file tasks run in worker processes; each open input writes its bytes read to a small
progress file (pipeline/read/streams.py, ``BACKLINKS_PROGRESS_DIR``) that a thread here
polls. Files finishing, aggregation steps and messages come from the flow's progress
listener (flows/build.py: ``progress``, ``_report``, ``_report_step``).

Terminal (rich): one row for the run (files done of total, bytes read, MB/s, time left), one
per file being read (bytes read of its size, MB/s), one per aggregation step (partitions done
of total); the lines of finished files scroll above them. Not a terminal: the same lines,
and every PLAIN_SECONDS a line with the run's totals, the step in progress, and each retry.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

PLAIN_SECONDS = 10.0  # between two plain progress lines
POLL_SECONDS = 0.25  # between two reads of the progress folder
MB = 1_000_000

def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """'1 part', '2 parts', '1,024 referring domains'."""
    word = singular if count == 1 else plural_form or singular + "s"
    return f"{count:,} {word}"


def megabytes(count: float) -> str:
    return f"{count / MB:,.1f} MB" if count < 10 * MB else f"{count / MB:,.0f} MB"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass
class FileState:
    size: int | None = None
    read: int = 0
    started: float | None = None
    notes: int = 0  # retry notes already shown


@dataclass
class RunProgress:
    """The numbers both displays show, from the progress files and the flow's reports."""

    total: int
    clock: Callable[[], float] = time.monotonic
    files: dict[str, FileState] = field(default_factory=dict)
    finished: dict[str, bool] = field(default_factory=dict)  # input -> its bytes were read
    steps: dict[str, tuple[int, int]] = field(default_factory=dict)
    step: str = ""
    phase: str = ""  # the last message (starting Prefect, aggregating, publishing)
    started: float = 0.0
    first_byte: float | None = None
    bytes_done: int = 0  # of finished files that were read
    all_read: float | None = None  # when the last file finished

    def __post_init__(self) -> None:
        self.started = self.clock()

    def known_size(self, uri: str, size: int | None) -> None:
        if size:
            self.files.setdefault(uri, FileState()).size = size

    def update(self, state: dict[str, Any]) -> list[str]:
        """One input's progress file; the retry notes not shown yet."""
        uri = str(state.get("input", ""))
        if not uri or uri in self.finished:
            return []
        file = self.files.setdefault(uri, FileState())
        if state.get("size"):
            file.size = int(state["size"])
        read = int(state.get("read", 0))
        if read and file.started is None:
            file.started = self.clock()
        if read and self.first_byte is None:
            self.first_byte = self.clock()
        file.read = max(file.read, read) if read else file.read
        notes = [str(n) for n in state.get("notes", [])]
        retries = int(state.get("retries", len(notes)))
        new = notes[len(notes) - max(0, retries - file.notes):] if retries > file.notes else []
        file.notes = retries
        return new

    def finish(self, uri: str, read: bool) -> None:
        file = self.files.pop(uri, FileState())
        self.finished[uri] = read
        if read:
            self.bytes_done += file.size or file.read
        if len(self.finished) >= self.total:
            self.all_read = self.clock()

    @property
    def done(self) -> int:
        return len(self.finished)

    @property
    def active(self) -> dict[str, FileState]:
        return {uri: file for uri, file in self.files.items() if file.read}

    @property
    def bytes_read(self) -> int:
        return self.bytes_done + sum(file.read for file in self.files.values())

    @property
    def bytes_total(self) -> int:
        """Bytes to read in all: known sizes, and the mean size for the files not yet seen."""
        known = [file.size for file in self.files.values() if file.size]
        read_files = [read for read in self.finished.values() if read]
        unseen = self.total - len(self.finished) - len(self.files)
        mean = (sum(known) + self.bytes_done) / max(1, len(known) + len(read_files))
        return int(self.bytes_done + sum(known) + max(0, unseen) * mean)

    def rate(self) -> float:
        """Bytes per second from the first byte to now (or to the last file's end)."""
        if self.first_byte is None:
            return 0.0
        end = self.all_read if self.all_read is not None else self.clock()
        return self.bytes_read / max(1e-6, end - self.first_byte)

    def file_rate(self, file: FileState) -> float:
        if file.started is None:
            return 0.0
        return file.read / max(1e-6, self.clock() - file.started)

    def eta(self) -> float | None:
        rate = self.rate()
        if rate <= 0 or self.clock() - (self.first_byte or 0) < 1:
            return None
        return max(0.0, (self.bytes_total - self.bytes_read) / rate)

    def summary_line(self) -> str:
        """'3 of 9 files done, 2 reading: 412 MB of 2,100 MB read, 41.2 MB/s, about 40 s left'."""
        if self.step:
            done, total = self.steps[self.step]
            return f"aggregating: {self.step}, {done:,} of {plural(total, 'partition')} reduced"
        line = f"{self.done:,} of {plural(self.total, 'file')} done"
        if not self.done and not self.active and self.phase:
            line += f" ({self.phase})"
        if self.active:
            line += (f", {len(self.active):,} reading: {megabytes(self.bytes_read)} of about "
                     f"{megabytes(self.bytes_total)} read, {self.rate() / MB:,.1f} MB/s")
            eta = self.eta()
            if eta is not None:
                line += f", about {duration(eta)} left"
        return line


class Display:
    """The progress listener of a run and the thread that polls the progress folder."""

    def __init__(self, total: int, folder: str | None, out: IO[str],
                 line: Callable[[int, int, Any], str | None]) -> None:
        self.progress = RunProgress(total)
        self.folder = folder
        self.out = out
        self.line = line  # the line of a finished input or a message, or None
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mtimes: dict[str, int] = {}

    # --- the listener ---

    def __call__(self, done: int, total: int, item: Any) -> None:
        from flows.build import Step
        from pipeline.runs import InputFailure

        with self.lock:
            self.poll()
            if isinstance(item, Step):
                self.progress.steps[item.name] = (item.done, item.total)
                self.progress.step = item.name
                self.on_step(item.name, item.done, item.total)
                return
            if isinstance(item, str):
                self.progress.phase = item
            else:
                read = not isinstance(item, InputFailure) and not item.reused
                self.progress.finish(item.input, read)
            text = self.line(done, total, item)
            if text is not None:
                self.emit(text, item)

    # --- to override ---

    def start(self) -> None:
        if self.folder is not None:
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def emit(self, text: str, item: Any) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def on_step(self, name: str, done: int, total: int) -> None:
        pass

    def on_note(self, note: str) -> None:
        self.emit(f"... {note}", None)

    def tick(self) -> None:
        pass

    # --- polling ---

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with self.lock:
                self.poll()
                self.tick()

    def poll(self) -> None:
        """Read the progress files that changed since the last poll."""
        from pipeline.read.streams import read_progress_file

        if self.folder is None:
            return
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            try:
                mtime = entry.stat().st_mtime_ns
            except OSError:
                continue
            if self._mtimes.get(entry.name) == mtime:
                continue
            state = read_progress_file(entry.path)
            if state is None:
                continue
            self._mtimes[entry.name] = mtime
            for note in self.progress.update(state):
                self.on_note(note)


class PlainDisplay(Display):
    """Lines, for a log file or a pipe: each finished input, each retry, each step as it
    starts and ends, and every ``interval`` seconds the run's totals."""

    def __init__(self, total: int, folder: str | None, out: IO[str],
                 line: Callable[[int, int, Any], str | None],
                 interval: float = PLAIN_SECONDS) -> None:
        super().__init__(total, folder, out, line)
        self.interval = interval
        self._last = self.progress.clock()
        self._said_step: dict[str, int] = {}

    def tick(self) -> None:
        now = self.progress.clock()
        if now - self._last < self.interval:
            return
        self._last = now
        if self.progress.step or self.progress.done < self.progress.total:
            self.emit(f"... {self.progress.summary_line()}", None)

    def on_step(self, name: str, done: int, total: int) -> None:
        if name not in self._said_step or done == total:
            if self._said_step.get(name) != done:
                self.emit(f"... {self.progress.summary_line()}", None)
                self._last = self.progress.clock()
        self._said_step[name] = done


class QuietDisplay(Display):
    def emit(self, text: str, item: Any) -> None:
        pass

    def start(self) -> None:
        pass


class LiveDisplay(Display):
    """rich's live progress bars on a terminal; finished inputs print above them."""

    def __init__(self, total: int, folder: str | None, out: IO[str],
                 line: Callable[[int, int, Any], str | None]) -> None:
        super().__init__(total, folder, out, line)
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(file=out, highlight=False)
        self.bars = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[amount]}", justify="right"),
            TextColumn("{task.fields[speed]}", justify="right"),
            TimeRemainingColumn(),
            console=self.console, transient=True, refresh_per_second=8,
        )
        self.run_task = self.bars.add_task("files", total=None, amount="", speed="")
        self.file_tasks: dict[str, Any] = {}
        self.step_tasks: dict[str, Any] = {}

    def start(self) -> None:
        self.bars.start()
        super().start()
        self.tick()

    def stop(self) -> None:
        super().stop()
        self.bars.stop()

    def emit(self, text: str, item: Any) -> None:
        for line in text.splitlines():
            self.console.print(_styled(line))
        self.tick()

    def on_step(self, name: str, done: int, total: int) -> None:
        task = self.step_tasks.get(name)
        if task is None:
            task = self.step_tasks[name] = self.bars.add_task(
                f"aggregate {name}", total=total, amount="", speed="")
        self.bars.update(task, completed=done, total=total,
                         amount=f"{done:,}/{plural(total, 'partition')}")
        self.tick()

    def on_note(self, note: str) -> None:
        from rich.text import Text

        self.console.print(Text(f"... {note}", style="yellow"))

    def tick(self) -> None:
        progress = self.progress
        total = progress.bytes_total
        self.bars.update(
            self.run_task, description=f"{progress.done:,}/{plural(progress.total, 'file')}",
            completed=progress.bytes_read, total=total or None,
            amount=f"{megabytes(progress.bytes_read)}/{megabytes(total)}" if total else "",
            speed=f"{progress.rate() / MB:,.1f} MB/s" if progress.first_byte else "",
        )
        active = progress.active
        for uri in [uri for uri in self.file_tasks if uri not in active]:
            self.bars.remove_task(self.file_tasks.pop(uri))
        for uri, file in active.items():
            task = self.file_tasks.get(uri)
            name = "  " + _short(uri.rstrip("/").rsplit("/", 1)[-1])
            if task is None:
                task = self.file_tasks[uri] = self.bars.add_task(name, total=file.size,
                                                                 amount="", speed="")
            self.bars.update(
                task, completed=file.read, total=file.size or None,
                amount=f"{megabytes(file.read)}/{megabytes(file.size or 0)}",
                speed=f"{progress.file_rate(file) / MB:,.1f} MB/s",
            )


def _short(name: str, width: int = 32) -> str:
    return name if len(name) <= width else name[: width // 2 - 1] + "…" + name[-(width // 2):]


def _styled(line: str) -> Text:
    from rich.text import Text

    if "] FAILED " in line:
        return Text(line, style="red")
    if "] DAMAGED " in line or line.startswith("... ") and ": retry " in line:
        return Text(line, style="yellow")
    return Text(line)


def make_display(total: int, folder: str | None, out: IO[str], *, quiet: bool,
                 terminal: bool, line: Callable[[int, int, Any], str | None]) -> Display:
    if quiet:
        return QuietDisplay(total, None, out, line)
    if terminal:
        return LiveDisplay(total, folder, out, line)
    return PlainDisplay(total, folder, out, line)

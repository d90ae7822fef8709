"""A local HTTP file server with Range support and injectable faults (data.commoncrawl.org's stand-in).

``FaultPlan`` is changed by a test while the server runs: drop connections mid-body, answer
503 "Slow Down" in bursts, stall, or fail one path for good. Its counters say what happened.
"""

from __future__ import annotations

import email.utils
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

CHUNK = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass
class FaultPlan:
    """Faults to inject, and counts of those injected. Thread-safe."""

    # The next GET whose body is longer than drop_after[0] sends that many bytes, then the
    # connection is cut; shorter bodies leave the queue as it is.
    drop_after: list[int] = field(default_factory=list)
    fail_next: int = 0  # the next requests answer fail_status
    fail_status: int = 503
    stall_seconds: float = 0.0  # per GET: pause once after stall_after bytes
    stall_after: int = 0
    always_fail: set[str] = field(default_factory=set)  # URL paths that always fail
    requests: int = 0
    range_requests: int = 0
    dropped: int = 0
    failed: int = 0
    stalled: int = 0
    headers_seen: list[dict[str, str]] = field(default_factory=list)  # of every request
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reset(self, **faults: object) -> None:
        """No faults and zero counts, then the faults given."""
        with self.lock:
            fresh = FaultPlan()
            for name in ("drop_after", "fail_next", "fail_status", "stall_seconds", "stall_after",
                         "always_fail", "requests", "range_requests", "dropped", "failed",
                         "stalled"):
                setattr(self, name, getattr(fresh, name))
            for name, value in faults.items():
                if not hasattr(fresh, name):
                    raise TypeError(f"FaultPlan has no fault {name!r}")
                setattr(self, name, value)

    def _should_fail(self, path: str) -> bool:
        with self.lock:
            self.requests += 1
            if path in self.always_fail:
                self.failed += 1
                return True
            if self.fail_next > 0:
                self.fail_next -= 1
                self.failed += 1
                return True
            return False

    def _next_drop(self, body_length: int) -> int | None:
        with self.lock:
            if not self.drop_after or self.drop_after[0] >= body_length:
                return None
            self.dropped += 1
            return self.drop_after.pop(0)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _file(self) -> Path | None:
        root = self.server.root
        path = (root / unquote(urlsplit(self.path).path).lstrip("/")).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return None
        return path

    def _send_plain(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), "Connection": "close",
                            **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _respond(self) -> None:
        plan = self.server.plan
        with plan.lock:
            plan.headers_seen.append(dict(self.headers.items()))
        url_path = unquote(urlsplit(self.path).path)
        if plan._should_fail(url_path):
            self._send_plain(plan.fail_status, b"Slow Down", {"Retry-After": "0"})
            return
        path = self._file()
        if path is None:
            self._send_plain(404, b"Not Found")
            return
        status = path.stat()
        size = status.st_size
        start, end = 0, size - 1
        range_header = self.headers.get("Range")
        if range_header:
            with plan.lock:
                plan.range_requests += 1
            match = _RANGE.match(range_header.strip())
            if not match:
                self._send_plain(400, b"bad Range")
                return
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            if start >= size:
                self._send_plain(416, b"", {"Content-Range": f"bytes */{size}"})
                return
        length = end - start + 1
        self.send_response(206 if range_header else 200)
        self.send_header("Content-Length", str(length))
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{size:x}-{status.st_mtime_ns:x}"')
        self.send_header("Last-Modified", email.utils.formatdate(status.st_mtime, usegmt=True))
        self.send_header("Connection", "close")
        if range_header:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        self._send_body(path, start, length)

    def _send_body(self, path: Path, start: int, length: int) -> None:
        plan = self.server.plan
        cut = plan._next_drop(length)
        with plan.lock:
            stall = plan.stall_seconds
            stall_at = plan.stall_after if stall > 0 else None
        sent = 0
        with open(path, "rb") as handle:
            handle.seek(start)
            while sent < length:
                chunk = handle.read(min(CHUNK, length - sent))
                if cut is not None and sent + len(chunk) >= cut:
                    self.wfile.write(chunk[: cut - sent])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if stall_at is not None and sent + len(chunk) > stall_at:
                    self.wfile.write(chunk[: stall_at - sent])
                    self.wfile.flush()
                    with plan.lock:
                        plan.stalled += 1
                    time.sleep(stall)
                    chunk, sent, stall_at = chunk[stall_at - sent :], stall_at, None
                self.wfile.write(chunk)
                sent += len(chunk)

    def do_HEAD(self) -> None:
        self._respond()

    def do_GET(self) -> None:
        try:
            self._respond()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout): nothing to do


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    plan: FaultPlan


class RangeFileServer:
    """Serve ``root`` on 127.0.0.1 (a free port) while the ``with`` block runs."""

    def __init__(self, root: Path, plan: FaultPlan | None = None) -> None:
        self.root = root.resolve()
        self.plan = plan if plan is not None else FaultPlan()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.root, self._server.plan = self.root, self.plan
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> RangeFileServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

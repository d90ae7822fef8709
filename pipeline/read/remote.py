"""Read objects from Common Crawl's public storage (HTTPS or S3) as resumable byte streams.

A crawl file is about 1 GB and is read front to back, never downloaded to disk. A dropped
connection, a read timeout or a response cut short is resumed with a Range request from the
last byte consumed, so the reader above (warcio) never notices. Throttling (429, 503 "Slow
Down") and server errors are retried with exponential backoff and jitter. An object that
makes no progress for ``retry_seconds`` (failed attempts and waits together) fails with
:class:`~pipeline.errors.InputUnavailable` naming its URL; any bytes that arrive start the
clock again, so a long file with a drop now and then never fails. Retries are counted by kind,
and each one is announced (``Retrier.announce``: "retry 3 in 8 s: dropped: ...") so that a
slow transfer is never silent for longer than the timeout.

A host name that does not resolve, or a connection refused before any byte arrived, is not a
dropped transfer: it is tried :data:`UNREACHABLE_TRIES` times, quickly, and then fails with
:class:`~pipeline.errors.HostUnreachable` ("cannot resolve data.commoncrawl.org: no network?
(see --https-base-url / --source)") instead of backing off for ``retry_seconds``.

Two stores share the retrying stream: :class:`HttpStore` (httpx) and :class:`S3Store`
(boto3; unsigned requests unless AWS credentials are configured). Memory stays bounded: at
most one network chunk (64 KiB or so) is held per open stream.
"""

from __future__ import annotations

import io
import random
import re
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from pipeline.errors import HostUnreachable, InputError, InputNotFound, InputUnavailable
from pipeline.storage.s3 import classify_failure, public_client, request_errors

S3_CHUNK_BYTES = 1 << 16  # what a dropped S3 connection can lose and must read again
MAX_DELAY_SECONDS = 60.0
USER_AGENT = "cc-backlinks (+https://github.com/cc-backlinks)"

# Retry kinds: the counters are named retries_<kind>.
DROPPED = "dropped"  # the connection broke, or the body ended early: resumed from the last byte
THROTTLED = "throttled"  # 429, 503 or S3 SlowDown
SERVER_ERROR = "server_error"  # another 5xx
TIMEOUT = "timeout"  # no connection, or no bytes, within timeout_seconds
CONNECT = "connect"  # the connection could not be made
RESOLVE = "resolve"  # the host name does not resolve (no network, a typo in a URL)
REFUSED = "refused"  # nothing listens at the address
UNREACHABLE = (RESOLVE, REFUSED)
# Tries of an unreachable host before any byte arrived: a couple, a moment apart (a flaky
# resolver gets a second chance), then the input fails at once.
UNREACHABLE_TRIES = 3
UNREACHABLE_WAIT_SECONDS = 0.5
DEFAULT_HINT = "see --https-base-url / --source"

_T = TypeVar("_T")
_RESOLVE_TEXT = ("name or service not known", "nodename nor servname", "name resolution",
                 "no address associated", "getaddrinfo failed", "name does not resolve",
                 "could not resolve host")
_REFUSED_TEXT = ("connection refused", "errno 111", "actively refused")


def unreachable_kind(exc: BaseException) -> str | None:
    """RESOLVE or REFUSED when ``exc`` (or what it wraps) says the host cannot be reached at
    all, else None. Looks through the chain of causes and botocore's wrapped ``error``."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return RESOLVE
        if isinstance(current, ConnectionRefusedError):
            return REFUSED
        text = str(current).lower()
        if any(marker in text for marker in _RESOLVE_TEXT):
            return RESOLVE
        if any(marker in text for marker in _REFUSED_TEXT):
            return REFUSED
        wrapped = getattr(current, "kwargs", None)
        if isinstance(wrapped, dict) and isinstance(wrapped.get("error"), BaseException):
            pending.append(wrapped["error"])
        pending.extend((current.__cause__, current.__context__))
    return None


_EXCEPTION_PREFIX = re.compile(r"^(\w+(Error|Exception|Timeout)): |\[Errno -?\d+\] ")


def describe_retry(number: int, wait: float, failure: Transient) -> str:
    """'retry 3 in 8 s: Connection reset by peer' (what a retry says as it starts)."""
    when = "now" if wait <= 0 else f"in {wait:.0f} s" if wait >= 1 else f"in {wait:.1f} s"
    return f"retry {number} {when}: {_EXCEPTION_PREFIX.sub('', failure.detail) or failure.kind}"


class Transient(Exception):
    """A failure that retrying may cure; ``kind`` names the counter it goes to."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait and how often to try again."""

    timeout_seconds: float = 60.0
    initial_seconds: float = 1.0
    budget_seconds: float = 600.0

    def delay(self, failures: int, rng: random.Random) -> float:
        """Exponential backoff with jitter: between half and all of initial * 2^(failures-1)."""
        ceiling = min(MAX_DELAY_SECONDS, self.initial_seconds * 2.0 ** max(0, failures - 1))
        return float(ceiling * rng.uniform(0.5, 1.0))


@dataclass(frozen=True)
class ObjectInfo:
    """Size and version (ETag or Last-Modified) of a remote object."""

    size: int
    version: str


class Store(Protocol):
    """One object store: where a URI's bytes come from."""

    def info(self, uri: str) -> ObjectInfo:
        """Size and version, or raise InputError / Transient."""
        ...

    def chunks(self, uri: str, start: int, version: str) -> Iterator[bytes]:
        """The bytes from ``start`` to the end; raises Transient when the read breaks."""
        ...


@dataclass
class Retrier:
    """Calls a function until it succeeds, waiting between failures.

    Gives up when ``budget_seconds`` pass without progress (see ``progressed``), or after
    UNREACHABLE_TRIES quick tries when the host cannot be reached and nothing ever arrived.
    ``announce`` is told of each retry as it starts; ``hint`` ends the unreachable message.
    """

    uri: str
    policy: RetryPolicy
    counters: Counter[str] = field(default_factory=Counter)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0
    last_progress: float = field(default=-1.0)
    announce: Callable[[str], None] | None = None
    hint: str = DEFAULT_HINT
    reached: bool = False  # a request of this object succeeded once
    host: str = ""  # the URL of the server asked (an S3 endpoint); empty: the URI's host

    def __post_init__(self) -> None:
        self.last_progress = self.clock()

    def _unreachable(self, failure: Transient) -> HostUnreachable:
        parts = urlsplit(self.host or self.uri)
        if failure.kind == RESOLVE:
            return HostUnreachable(
                self.uri, f"cannot resolve {parts.hostname or self.uri}: no network? ({self.hint})"
            )
        where = parts.netloc.rsplit("@", 1)[-1] or self.uri
        return HostUnreachable(self.uri, f"connection refused by {where}: is the server up? "
                               f"({self.hint})")

    def record(self, failure: Transient) -> None:
        """Count a failure and wait before the next try, or raise when the budget is spent."""
        self.counters[f"retries_{failure.kind}"] += 1
        self.failures += 1
        retries = sum(v for k, v in self.counters.items() if k.startswith("retries_"))
        if failure.kind in UNREACHABLE and not self.reached:
            if self.failures >= UNREACHABLE_TRIES:
                raise self._unreachable(failure)
            wait = UNREACHABLE_WAIT_SECONDS * self.failures
            if self.announce is not None:
                self.announce(describe_retry(retries, wait, failure))
            self.sleep(wait)
            return
        # A dropped connection after progress is resumed at once; repeated failures back off.
        wait = 0.0 if failure.kind == DROPPED and self.failures == 1 else self.policy.delay(
            self.failures, self.rng
        )
        stuck = self.clock() - self.last_progress
        if stuck + wait > self.policy.budget_seconds:
            raise InputUnavailable(
                self.uri,
                f"gave up after {retries} retries, {stuck:.1f}s without progress (last: "
                f"{failure.kind}: {failure.detail}); the run goes on without it, run again "
                "to retry it",
            )
        if self.announce is not None:
            self.announce(describe_retry(retries, wait, failure))
        if wait:
            self.sleep(wait)

    def progressed(self) -> None:
        """Bytes arrived: the next failure starts a fresh backoff and a fresh budget."""
        self.failures = 0
        self.reached = True
        self.last_progress = self.clock()

    def call(self, function: Callable[[], _T]) -> _T:
        while True:
            try:
                result = function()
            except Transient as failure:
                self.record(failure)
                continue
            self.progressed()
            return result


class ResumableStream(io.RawIOBase):
    """A read-only stream over a remote object that survives dropped connections."""

    def __init__(self, store: Store, uri: str, retrier: Retrier, info: ObjectInfo) -> None:
        super().__init__()
        self.store, self.uri, self.retrier, self.info = store, uri, retrier, info
        self.position = 0
        self._chunks: Iterator[bytes] | None = None
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes:
        """The next non-empty chunk, resuming and retrying as needed; b"" at the end."""
        while self.position < self.info.size:
            try:
                if self._chunks is None:
                    self._chunks = self.store.chunks(self.uri, self.position, self.info.version)
                chunk = next(self._chunks, None)
                if chunk is None:
                    self._chunks = None
                    raise Transient(
                        DROPPED,
                        f"the response ended at byte {self.position} of {self.info.size}",
                    )
            except Transient as failure:
                self._close_chunks()
                self.retrier.record(failure)
                continue
            if chunk:
                self.retrier.progressed()
                return chunk
        return b""

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            chunk = self._next_chunk()
            if not chunk:
                return 0
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self.position += count
        return count

    def _close_chunks(self) -> None:
        chunks, self._chunks = self._chunks, None
        close = getattr(chunks, "close", None)
        if close is not None:
            close()

    def close(self) -> None:
        self._close_chunks()
        super().close()


# --- HTTPS -------------------------------------------------------------------------------


def _status_failure(uri: str, status: int, reason: str) -> Exception:
    if status in (429, 503):
        return Transient(THROTTLED, f"HTTP {status} {reason}")
    if status >= 500:
        return Transient(SERVER_ERROR, f"HTTP {status} {reason}")
    if status == 404:
        return InputNotFound(uri, "not found (HTTP 404); check the crawl id and the path")
    if status in (401, 403):
        return InputError(uri, f"access denied (HTTP {status}); check the URL and its permissions")
    return InputError(uri, f"unexpected HTTP {status} {reason}")


def _transport_failure(exc: Exception) -> Transient:
    if isinstance(exc, httpx.ConnectTimeout | httpx.ReadTimeout | httpx.PoolTimeout):
        return Transient(TIMEOUT, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.ConnectError):
        return Transient(unreachable_kind(exc) or CONNECT, f"{type(exc).__name__}: {exc}")
    return Transient(DROPPED, f"{type(exc).__name__}: {exc}")


class HttpStore:
    """Objects served over HTTP(S) with Range support (data.commoncrawl.org or a mirror)."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.client = httpx.Client(
            timeout=httpx.Timeout(policy.timeout_seconds),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            follow_redirects=True,
        )

    def info(self, uri: str) -> ObjectInfo:
        try:
            response = self.client.head(uri)
        except httpx.TransportError as exc:
            raise _transport_failure(exc) from exc
        if response.status_code != 200:
            raise _status_failure(uri, response.status_code, response.reason_phrase)
        length = response.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise InputError(uri, "the server sent no Content-Length; it cannot be resumed")
        version = response.headers.get("ETag") or response.headers.get("Last-Modified") or ""
        return ObjectInfo(size=int(length), version=version)

    def chunks(self, uri: str, start: int, version: str) -> Iterator[bytes]:
        headers = {"Range": f"bytes={start}-"} if start else {}
        request = self.client.build_request("GET", uri, headers=headers)
        try:
            response = self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _transport_failure(exc) from exc
        if response.status_code not in (200, 206):
            response.close()
            raise _status_failure(uri, response.status_code, response.reason_phrase)
        now = response.headers.get("ETag") or response.headers.get("Last-Modified") or ""
        if version and now and now != version:
            response.close()
            raise InputError(uri, "the file changed while it was read; run again")
        return self._body(response, skip=start if response.status_code == 200 else 0)

    @staticmethod
    def _body(response: httpx.Response, skip: int) -> Iterator[bytes]:
        """The body's bytes as sent (no decoding); ``skip`` bytes dropped if Range was ignored."""
        try:
            for chunk in response.iter_raw():  # as the bytes arrive: a drop loses none
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                if chunk:
                    yield chunk
        except httpx.TransportError as exc:
            raise _transport_failure(exc) from exc
        finally:
            response.close()

    def get_bytes(self, uri: str) -> bytes:
        """A whole small object (a paths file, collinfo.json)."""
        try:
            response = self.client.get(uri)
        except httpx.TransportError as exc:
            raise _transport_failure(exc) from exc
        if response.status_code != 200:
            raise _status_failure(uri, response.status_code, response.reason_phrase)
        return response.content


# --- S3 ----------------------------------------------------------------------------------

_S3_THROTTLING = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
                  "TooManyRequests", "ServiceUnavailable", "503", "429"}
_S3_SERVER = {"InternalError", "500", "502", "504", "RequestTimeout"}


def split_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        raise InputError(uri, "not an S3 URL; write it as s3://BUCKET/KEY")
    return parts.netloc, key


class S3Store:
    """Objects in S3 (bucket ``commoncrawl`` in us-east-1, or any S3-compatible endpoint)."""

    def __init__(self, policy: RetryPolicy, endpoint_url: str = "") -> None:
        self.client = public_client(endpoint_url, policy.timeout_seconds)

    def _failure(self, uri: str, exc: Exception) -> Exception:
        kind, code, status, message = classify_failure(exc)
        if kind == "response":
            if code in _S3_THROTTLING or status in (429, 503):
                return Transient(THROTTLED, f"S3 {code or status}")
            if code in _S3_SERVER or status >= 500:
                return Transient(SERVER_ERROR, f"S3 {code or status}")
            if code in {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}:
                return InputNotFound(uri, f"not found ({code}); check the bucket, crawl and path")
            if code in {"AccessDenied", "403", "Forbidden"}:
                return InputError(
                    uri, f"access denied ({code}); configure AWS credentials, or use --source https"
                )
            return InputError(uri, f"S3 error {code or status}: {message}")
        if kind == "connect":
            return Transient(unreachable_kind(exc) or CONNECT, message)
        return Transient({"timeout": TIMEOUT}.get(kind, DROPPED), message)

    def _errors(self) -> tuple[type[Exception], ...]:
        return request_errors()

    def info(self, uri: str) -> ObjectInfo:
        bucket, key = split_s3_uri(uri)
        try:
            head = self.client.head_object(Bucket=bucket, Key=key)
        except self._errors() as exc:
            raise self._failure(uri, exc) from exc
        return ObjectInfo(size=int(head["ContentLength"]), version=str(head.get("ETag", "")))

    def chunks(self, uri: str, start: int, version: str) -> Iterator[bytes]:
        bucket, key = split_s3_uri(uri)
        extra = {"IfMatch": version} if version else {}
        try:
            response = self.client.get_object(
                Bucket=bucket, Key=key, Range=f"bytes={start}-", **extra
            )
        except self._errors() as exc:
            failure = self._failure(uri, exc)
            if isinstance(failure, InputError) and "PreconditionFailed" in str(exc):
                raise InputError(uri, "the file changed while it was read; run again") from exc
            raise failure from exc
        return self._body(uri, response["Body"])

    def _body(self, uri: str, body: Any) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(S3_CHUNK_BYTES)
        except self._errors() as exc:
            raise self._failure(uri, exc) from exc
        finally:
            body.close()

    def get_bytes(self, uri: str) -> bytes:
        bucket, key = split_s3_uri(uri)
        try:
            return bytes(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())
        except self._errors() as exc:
            raise self._failure(uri, exc) from exc

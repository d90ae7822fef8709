"""Generate Common-Crawl-shaped WARC and WAT files of any size, deterministic from a seed,
with a known host graph, so that speed can be measured and results checked exactly.

    uv run python bench/generate.py --mb 1024 --seed 1 --out bench/data

writes ``gen-<seed>-<mb>mb.warc.gz``, the matching ``.warc.wat.gz`` and
``gen-<seed>-<mb>mb.truth.json`` (the host edges every reader must find: links, distinct
linking pages and nofollow links per (source host, target host), plus page counts).

Shape, after what Common Crawl's files hold:

- one gzip member per record; a ``warcinfo`` record, then per capture ``request``,
  ``response`` and ``metadata`` records with Common Crawl's WARC headers (record ids,
  digests, concurrent-to, IP address, identified payload type);
- HTML pages of log-normal size (median about 50 KB, a tail to 1 MB) with a log-normal
  number of links (median about 100, a tail to thousands); relative, absolute,
  protocol-relative, image (``<a><img alt>``), ``mailto:``/``javascript:`` and unresolvable
  links; ``rel`` nofollow, ugc and sponsored; some pages with ``<meta name=robots
  content=nofollow>`` and some with ``<base href>``;
- pages in windows-1251 and Shift_JIS as well as UTF-8; PDF responses, 404s and redirects
  (301/302 with ``Location``, which are links of type ``redirect``);
- navigation and footer links that a host repeats on every page (median 25 per host);
- a host graph whose degrees follow power laws: pages per source host and links per target
  host are drawn from Zipf distributions, so a few hosts are very popular.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import uuid
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CRAWL = "CC-MAIN-2099-01"
WORDS = ("common crawl open web data link graph anchor text archive host domain page "
         "search index news blog shop travel music science sport weather review guide "
         "photo video forum wiki story city garden kitchen market health school").split()
CYRILLIC = "новости поиск погода спорт музыка магазин форум блог наука город".split()
JAPANESE = "ニュース 検索 天気 スポーツ 音楽 買い物 掲示板 日記 科学 都市".split()
TLDS = ["com", "org", "net", "de", "co.uk", "com.au", "fr", "io", "jp", "ru"]
REJECTED = ["http://localhost/admin", "http://192.168.0.1/", "http://[::1]/x",
            "http://bad_host_-.example.com./x"]


@dataclass
class Truth:
    """What the generator put in: the cross-host edges, as the pipeline must find them."""

    edges: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0])
    )  # (src_host, dst_host) -> [links, pages, nofollow_links]
    pages: int = 0  # HTML pages and redirects
    html_pages: int = 0
    redirects: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add_page(self, src: str, links: list[tuple[str, bool]]) -> None:
        seen: set[str] = set()
        for dst, nofollow in links:
            edge = self.edges[(src, dst)]
            edge[0] += 1
            edge[2] += int(nofollow)
            if dst not in seen:
                edge[1] += 1
                seen.add(dst)

    def to_json(self) -> dict[str, Any]:
        return {
            "pages": self.pages, "html_pages": self.html_pages, "redirects": self.redirects,
            "skipped": dict(sorted(self.skipped.items())),
            "host_edges": sorted(
                [src, dst, links, pages, nofollow]
                for (src, dst), (links, pages, nofollow) in self.edges.items()
            ),
        }


class Generator:
    def __init__(self, seed: int, hosts: int) -> None:
        self.rng = random.Random(seed)
        self.hosts = [self._host(i) for i in range(hosts)]
        # Zipf-like weights: host i has weight 1/(i+1)^s (shuffled, so popularity is not
        # alphabetical); separate draws for sources and targets.
        self.source_weights = self._zipf(hosts, 1.1)
        self.target_weights = self._zipf(hosts, 1.0)
        self.padding = self._padding_text()
        self.time = datetime(2099, 1, 1, tzinfo=UTC)
        self.pages_made: dict[str, int] = defaultdict(int)
        self.templates: dict[str, list[tuple[str, str, str, str]]] = {}

    def template(self, host: str) -> list[tuple[str, str, str, str]]:
        """The navigation and footer links a host repeats on every page: (href, anchor, rel,
        target host), a log-normal number of them (median 25)."""
        if host not in self.templates:
            rng, links = self.rng, []
            for _ in range(self.lognormal_int(25, 0.8, 0, 300)):
                if rng.random() < 0.7:
                    href, target = f"/{rng.choice(WORDS)}/", host
                else:
                    target = self.pick(self.target_weights)
                    href = f"https://{target}/"
                rel = "nofollow" if rng.random() < 0.2 else ""
                links.append((href, self.words(rng.randint(1, 3)), rel, target))
            self.templates[host] = links
        return self.templates[host]

    def _host(self, i: int) -> str:
        rng = self.rng
        name = f"{rng.choice(WORDS)}{rng.choice(WORDS)}{i}"
        tld = TLDS[i % len(TLDS)]
        prefix = rng.choice(["www.", "", "", "blog.", "shop.", "news."])
        return f"{prefix}{name}.{tld}"

    def _zipf(self, n: int, s: float) -> list[float]:
        weights = [1.0 / (rank + 1) ** s for rank in range(n)]
        self.rng.shuffle(weights)
        cumulative, total = [], 0.0
        for weight in weights:
            total += weight
            cumulative.append(total)
        return cumulative

    def _padding_text(self) -> str:
        """Tag-dense markup like real pages (nested divs with classes, spans, lists, inline
        scripts and styles), one element per line so that it can be cut between lines."""
        rng, lines = self.rng, []
        while sum(map(len, lines)) < 3_000_000:
            kind = rng.random()
            w = lambda n: " ".join(rng.choices(WORDS, k=n))  # noqa: E731
            if kind < 0.3:
                lines.append(
                    f'<div class="row c{rng.randint(1, 99)}"><div class="col-md-{rng.randint(1, 12)}">'
                    f'<span class="t">{w(3)}</span> <em>{w(1)}</em> {w(2)}</div></div>'
                )
            elif kind < 0.45:
                items = "".join(f'<li class="i"><span>{w(2)}</span></li>' for _ in range(4))
                lines.append(f'<ul class="list-{rng.randint(1, 9)}">{items}</ul>')
            elif kind < 0.95:
                lines.append(f"<p>{w(rng.randint(20, 60))}</p>")
            elif kind < 0.98:
                lines.append(
                    f"<script>window.dataLayer=window.dataLayer||[];dataLayer.push("
                    f"{{'event':'{w(1)}','id':{rng.randint(1, 10**6)}}});</script>"
                )
            else:
                lines.append(f".c{rng.randint(1, 99)}{{margin:0 {rng.randint(1, 9)}px;color:#333}}"
                             .join(("<style>", "</style>")))
        return "\n".join(lines)

    def pick(self, cumulative: list[float]) -> str:
        return self.rng.choices(self.hosts, cum_weights=cumulative, k=1)[0]

    def words(self, n: int, vocabulary: list[str] | None = None) -> str:
        return " ".join(self.rng.choices(vocabulary or WORDS, k=n))

    def lognormal_int(self, median: float, sigma: float, low: int, high: int) -> int:
        return max(low, min(high, int(self.rng.lognormvariate(0.0, sigma) * median)))


@dataclass
class Capture:
    url: str
    host: str
    status: int
    content_type: str
    body: bytes
    location: str = ""
    wat_links: list[dict[str, str]] = field(default_factory=list)
    wat_head: dict[str, Any] = field(default_factory=dict)
    truth_links: list[tuple[str, bool]] = field(default_factory=list)


def make_page(gen: Generator, url: str, host: str) -> Capture:
    """An HTML page: links of every kind, their truth, and the WAT view of them."""
    rng = gen.rng
    charset = rng.choices(["utf-8", "windows-1251", "shift_jis"], weights=[85, 10, 5])[0]
    vocabulary = {"utf-8": WORDS, "windows-1251": CYRILLIC, "shift_jis": JAPANESE}[charset]
    robots = rng.random() < 0.03
    base = f"https://{host}/base/" if rng.random() < 0.05 else None
    resolve_base = base or url
    n_links = gen.lognormal_int(75, 1.0, 0, 5000)  # plus the host's template links
    size = gen.lognormal_int(50_000, 0.9, 2_000, 1_000_000)
    parts: list[str] = []
    wat_links: list[dict[str, str]] = []
    truth: list[tuple[str, bool]] = []
    for href, anchor, rel, target in gen.template(host):
        rel_attr = f' rel="{rel}"' if rel else ""
        parts.append(f'<li><a href="{href}"{rel_attr}>{anchor}</a></li>')
        wat_links.append({"path": "A@/href", "url": href, "text": anchor,
                          **({"rel": rel} if rel else {})})
        if target != host and not (base and href.startswith("/")):
            truth.append((target, robots or rel == "nofollow"))
    for _ in range(n_links):
        roll = rng.random()
        rel_tokens = []
        if rng.random() < 0.10:
            rel_tokens.append("nofollow")
        if rng.random() < 0.02:
            rel_tokens.append("ugc")
        if rng.random() < 0.02:
            rel_tokens.append("sponsored")
        if rng.random() < 0.05:
            rel_tokens.append("noopener")
        rel = " ".join(rel_tokens)
        nofollow = robots or "nofollow" in rel_tokens
        anchor = gen.words(rng.randint(1, 6), vocabulary)
        path = f"/{rng.choice(WORDS)}/{rng.randint(1, 10**6)}.html"
        image = False
        if roll < 0.30:  # relative: same host as the base
            href, target = path.lstrip("/") if rng.random() < 0.5 else path, _host_of(resolve_base)
        elif roll < 0.35:  # a fragment or a query on the page itself
            href, target = rng.choice(["#top", "?page=2"]), _host_of(resolve_base)
        elif roll < 0.80:  # absolute, to a popular or a rare host
            target = gen.pick(gen.target_weights)
            href = f"{rng.choice(['http', 'https'])}://{target}{path}"
        elif roll < 0.86:  # protocol-relative
            target = gen.pick(gen.target_weights)
            href = f"//{target}{path}"
        elif roll < 0.92:  # an image inside a link
            target = gen.pick(gen.target_weights)
            href, image = f"https://{target}{path}", True
        elif roll < 0.96:  # not http(s)
            href, target = rng.choice(["mailto:someone@example.com", "javascript:void(0)",
                                       "tel:+123456", "ftp://files.example.com/x"]), ""
        else:  # rejected hosts
            href, target = rng.choice(REJECTED), ""
        rel_attr = f' rel="{rel}"' if rel else ""
        if image:
            parts.append(f'<a href="{href}"{rel_attr}><img src="/i/{rng.randint(1, 999)}.png" '
                         f'alt="{anchor}"></a>')
            wat_links.append({"path": "A@/href", "url": href, **({"rel": rel} if rel else {})})
            wat_links.append({"path": "IMG@/src", "url": f"/i/{rng.randint(1, 999)}.png",
                              "alt": anchor})
        else:
            parts.append(f'<p>{gen.words(8, vocabulary)} <a href="{href}"{rel_attr}>{anchor}</a></p>')
            wat_links.append({"path": "A@/href", "url": href, "text": anchor,
                              **({"rel": rel} if rel else {})})
        if target and target != host:
            truth.append((target, nofollow))
    head = [f'<meta charset="{charset}">' if charset == "shift_jis" else "",
            f"<title>{gen.words(5, vocabulary)}</title>"]
    metas = []
    if robots:
        head.append('<meta name="robots" content="noindex, nofollow">')
        metas.append({"name": "robots", "content": "noindex, nofollow"})
    if base:
        head.append(f'<base href="{base}">')
    body_links = "\n".join(parts)
    filler_needed = max(0, size - len(body_links) - 300)
    start = gen.padding.find("\n", rng.randrange(0, len(gen.padding) - 1_100_000)) + 1
    end = gen.padding.rfind("\n", start, start + filler_needed)
    filler = gen.padding[start:end] if end > start else ""
    text = (f"<!DOCTYPE html>\n<html><head>{''.join(head)}</head><body>\n"
            f"<div class=\"content\">{filler}\n{body_links}\n</div></body></html>\n")
    wat_head: dict[str, Any] = {"Title": "", "Metas": metas}
    if base:
        wat_head["Base"] = base
    body = text.encode(charset, errors="replace")
    content_type = "text/html" if charset == "shift_jis" else f"text/html; charset={charset}"
    return Capture(url, host, 200, content_type, body, wat_links=wat_links, wat_head=wat_head,
                   truth_links=truth)


def _host_of(url: str) -> str:
    return url.split("/", 3)[2]


def make_capture(gen: Generator, truth: Truth) -> Capture:
    rng = gen.rng
    host = gen.pick(gen.source_weights)
    gen.pages_made[host] += 1
    url = f"https://{host}/p/{gen.pages_made[host]}/{rng.choice(WORDS)}.html"
    roll = rng.random()
    if roll < 0.08:
        truth.skipped["not_html"] += 1
        return Capture(url.replace(".html", ".pdf"), host, 200, "application/pdf",
                       b"%PDF-1.4\n" + rng.randbytes(gen.lognormal_int(60_000, 0.8, 1_000, 900_000)))
    if roll < 0.10:
        truth.skipped["status_4xx"] += 1
        return Capture(url, host, 404, "text/html", b"<html><body>Not Found</body></html>")
    if roll < 0.13:
        target = gen.pick(gen.target_weights) if rng.random() < 0.7 else host
        location = f"https://{target}/moved/{rng.randint(1, 10**6)}"
        truth.pages += 1
        truth.redirects += 1
        if target != host:
            truth.add_page(host, [(target, False)])
        return Capture(url, host, rng.choice([301, 302]), "text/html", b"", location=location)
    page = make_page(gen, url, host)
    truth.pages += 1
    truth.html_pages += 1
    truth.add_page(host, page.truth_links)
    return page


def _digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _record(kind: str, headers: list[tuple[str, str]], block: bytes) -> bytes:
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in [
        ("WARC-Type", kind), *headers, ("Content-Length", str(len(block)))
    ]) + "\r\n"
    return _gzip(head.encode() + block + b"\r\n\r\n")


def _gzip(data: bytes) -> bytes:
    deflater = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return deflater.compress(data) + deflater.flush()


def _http_response(capture: Capture) -> bytes:
    reason = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}[capture.status]
    lines = [f"HTTP/1.1 {capture.status} {reason}", f"Content-Type: {capture.content_type}",
             f"Content-Length: {len(capture.body)}", "Server: nginx",
             "X-Crawler-Content-Encoding: gzip"]
    if capture.location:
        lines.append(f"Location: {capture.location}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + capture.body


def write_files(out: Path, mb: int, seed: int, crawl: str = CRAWL) -> tuple[Path, Path, Path]:
    """Write the WARC, the WAT and the truth for about ``mb`` MB of uncompressed WARC."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"gen-{seed}-{mb}mb"
    warc_path, wat_path = out / f"{stem}.warc.gz", out / f"{stem}.warc.wat.gz"
    truth_path = out / f"{stem}.truth.json"
    gen = Generator(seed, hosts=max(500, mb * 40))
    truth = Truth()
    target = mb * 1_000_000
    written = 0
    uuids = random.Random(seed + 1)

    def record_id() -> str:
        return f"<urn:uuid:{uuid.UUID(int=uuids.getrandbits(128), version=4)}>"

    info_id = record_id()
    info = (f"isPartOf: {crawl}\r\nsoftware: cc-backlinks bench/generate.py\r\n"
            f"description: generated, seed {seed}\r\n").encode()
    with open(warc_path, "wb") as warc, open(wat_path, "wb") as wat:
        name = warc_path.name
        warc.write(_record("warcinfo", [("WARC-Date", "2099-01-01T00:00:00Z"),
                                        ("WARC-Filename", name), ("WARC-Record-ID", info_id),
                                        ("Content-Type", "application/warc-fields")], info))
        wat.write(_record("warcinfo", [("WARC-Date", "2099-01-01T00:00:00Z"),
                                       ("WARC-Filename", name.replace(".warc.gz", ".warc.wat.gz")),
                                       ("WARC-Record-ID", record_id()),
                                       ("Content-Type", "application/warc-fields")], info))
        while written < target:
            capture = make_capture(gen, truth)
            gen.time += timedelta(seconds=1)
            date = gen.time.strftime("%Y-%m-%dT%H:%M:%SZ")
            request = (f"GET /{capture.url.split('/', 3)[3]} HTTP/1.1\r\nHost: {capture.host}\r\n"
                       "User-Agent: CCBot/2.0 (https://commoncrawl.org/faq/)\r\n"
                       "Accept: text/html\r\n\r\n").encode()
            response = _http_response(capture)
            response_id = record_id()
            common = [("WARC-Date", date), ("WARC-Warcinfo-ID", info_id),
                      ("WARC-IP-Address", f"10.{gen.rng.randint(0, 255)}.0.1"),
                      ("WARC-Target-URI", capture.url)]
            records = [
                _record("request", [*common, ("WARC-Record-ID", record_id()),
                                    ("Content-Type", "application/http; msgtype=request"),
                                    ("WARC-Block-Digest", _digest(request))], request),
                _record("response", [*common, ("WARC-Record-ID", response_id),
                                     ("Content-Type", "application/http; msgtype=response"),
                                     ("WARC-Payload-Digest", _digest(capture.body)),
                                     ("WARC-Block-Digest", _digest(response)),
                                     ("WARC-Identified-Payload-Type",
                                      capture.content_type.split(";")[0])], response),
                _record("metadata", [("WARC-Date", date), ("WARC-Record-ID", record_id()),
                                     ("WARC-Warcinfo-ID", info_id),
                                     ("WARC-Concurrent-To", response_id),
                                     ("WARC-Target-URI", capture.url),
                                     ("Content-Type", "application/warc-fields")],
                        b"fetchTimeMs: 120\r\ncharset-detected: UTF-8\r\n"),
            ]
            for member in records:
                warc.write(member)
            written += len(request) + len(response) + 3000
            wat.write(_wat_record(capture, date, name, record_id()))
    truth_path.write_text(json.dumps(truth.to_json()))
    return warc_path, wat_path, truth_path


def _wat_record(capture: Capture, date: str, filename: str, record_id: str) -> bytes:
    response: dict[str, Any] = {
        "Response-Message": {"Status": str(capture.status), "Version": "HTTP/1.1"},
        "Headers": {"Content-Type": capture.content_type,
                    **({"Location": capture.location} if capture.location else {})},
    }
    if capture.status == 200 and capture.content_type.startswith("text/html"):
        response["HTML-Metadata"] = {"Head": capture.wat_head, "Links": capture.wat_links}
    envelope = {"Envelope": {
        "Format": "WARC",
        "WARC-Header-Length": "500",
        "Block-Digest": "sha1:x",
        "Actual-Content-Length": str(len(capture.body)),
        "WARC-Header-Metadata": {"WARC-Type": "response", "WARC-Date": date,
                                 "WARC-Target-URI": capture.url,
                                 "WARC-Filename": filename},
        "Payload-Metadata": {"Actual-Content-Type": "application/http; msgtype=response",
                             "HTTP-Response-Metadata": response},
    }, "Container": {"Filename": filename, "Compressed": True}}
    block = json.dumps(envelope, ensure_ascii=False).encode()
    return _record("metadata", [("WARC-Date", date), ("WARC-Target-URI", capture.url),
                                ("WARC-Record-ID", record_id),
                                ("Content-Type", "application/json")], block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=1024, help="uncompressed WARC size, MB")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--crawl", default=CRAWL, help="crawl id in the warcinfo record")
    args = parser.parse_args()
    for path in write_files(args.out, args.mb, args.seed, args.crawl):
        print(f"{path}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()

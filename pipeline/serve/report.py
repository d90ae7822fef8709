"""The backlink profile report: one self-contained HTML file for a target (no network:
styles, charts and the one small script are inline), built from the macros of a published
database.

:func:`gather` runs the SQL (the target bound as a parameter) into a :class:`ReportData`;
:func:`render_html` turns that into HTML with plain SVG bar charts, pure and testable; text
from the web (anchors, URLs) is always escaped. :func:`classify_anchor` sorts anchors into
the kinds SEO tools use.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipeline.errors import DatabaseError, ExportError
from pipeline.serve.export import atomic_path

TOP_DOMAINS = 25
TOP_PAGES = 15
TOP_ANCHORS = 12
AUTHORITY_BANDS = tuple(f"{low}–{low + 10}" for low in range(0, 100, 10))
ANCHOR_KINDS = ("brand", "naked URL", "generic", "empty", "other")
# Anchors that say nothing about the page they point to, in the crawl's common languages.
GENERIC_ANCHORS = frozenset((
    "click here|here|click|read more|more|learn more|more info|more information|details|"
    "this|this page|this link|this site|link|website|web site|site|homepage|home page|home|"
    "source|visit|visit site|visit website|go|go to|continue|continue reading|view|see more|"
    "download|official site|official website|hier|mehr|weiter|weiterlesen|ici|"
    "en savoir plus|plus|aquí|aqui|más|leer más|qui|clicca qui|подробнее|здесь|тут"
).split("|"))
_NAKED_URL = re.compile(r"^(https?://)?(www\.)?[\w-]+(\.[\w-]+)+(:\d+)?(/\S*)?$", re.I)
_NOT_ALNUM = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float


@dataclass
class ReportData:
    """Everything the report shows, already computed."""

    target: str
    profile: dict[str, Any]
    crawls: list[str]
    authority_bands: list[Bar] = field(default_factory=list)
    flags: list[Bar] = field(default_factory=list)
    link_types: list[Bar] = field(default_factory=list)
    contexts: list[Bar] = field(default_factory=list)
    anchor_kinds: list[Bar] = field(default_factory=list)
    anchors: list[tuple[str, int, int, str]] = field(default_factory=list)
    crawl_changes: list[tuple[str, int, int]] = field(default_factory=list)  # crawl, new, lost
    top_domains: list[dict[str, Any]] = field(default_factory=list)
    top_pages: list[dict[str, Any]] = field(default_factory=list)
    similar_hosts: list[str] = field(default_factory=list)
    total_domains: int = 0  # referring domains in all (the table shows the top ones)
    total_pages: int = 0  # linked pages in all
    total_anchors: int = 0

    @property
    def empty(self) -> bool:
        return not self.profile["backlinks"]


def brand_name(target: str) -> str:
    """The brand in a target: the first label of its registered domain ('example' for
    blog.example.co.uk when the domain is example.co.uk), letters and digits only."""
    return _NOT_ALNUM.sub("", target.split(".")[0].lower())


def classify_anchor(anchor: str, target: str, domain: str) -> str:
    """One of ANCHOR_KINDS. In order: ``empty`` (no text: an image without alt, a bare
    link); ``naked URL`` (the anchor is a URL or a host name); ``brand`` (it contains the
    target's brand, e.g. 'Google+ page' for google.com); ``generic`` (a phrase of
    GENERIC_ANCHORS such as 'click here'); else ``other`` (descriptive or keyword anchors).
    """
    text = anchor.strip()
    if not text:
        return "empty"
    if _NAKED_URL.match(text) or target in text.lower():
        return "naked URL"
    brand = brand_name(domain)
    if len(brand) >= 3 and brand in _NOT_ALNUM.sub("", text.lower()):
        return "brand"
    if " ".join(_NOT_ALNUM.sub(" ", text.lower()).split()) in GENERIC_ANCHORS:
        return "generic"
    return "other"


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, parameters: list[Any]) -> list[dict[str, Any]]:
    result = con.execute(sql, parameters)
    columns = [column[0] for column in result.description or []]
    return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]


def gather(con: duckdb.DuckDBPyConnection, target: str) -> ReportData:
    """Run the report's queries for ``target`` (bound, never formatted into SQL)."""
    try:
        (profile,) = _dicts(con, "select * from link_profile(?)", [target])
    except duckdb.CatalogException as exc:
        raise DatabaseError(
            "this database has no link_profile macro (built by an older cc-backlinks); "
            "run `backlinks run` again to rebuild it"
        ) from exc
    crawls = sorted((c for (c,) in con.execute("select distinct crawl from pages").fetchall()),
                    key=lambda crawl: (crawl_order(crawl), crawl))
    data = ReportData(target=profile["target"], profile=profile, crawls=crawls)
    if data.empty:
        data.similar_hosts = [h for (h,) in con.execute(
            "select host from hosts where contains(host, ?) order by in_domains desc, host "
            "limit 5", [data.target]).fetchall()]
        return data
    domains = _dicts(con, "select * from referring_domains(?)", [target])
    bands = [0] * len(AUTHORITY_BANDS)
    for row in domains:
        if row["authority"] is not None:  # null when the graph was built with ranks = false
            bands[min(int(row["authority"] // 10), 9)] += 1
    data.authority_bands = [Bar(label, count) for label, count in zip(AUTHORITY_BANDS, bands, strict=True)]
    (flags,) = _dicts(con, """
        select count(*) filter (where dofollow) as dofollow,
               count(*) filter (where nofollow) as nofollow,
               count(*) filter (where ugc) as ugc,
               count(*) filter (where sponsored) as sponsored
        from backlinks(?)""", [target])
    data.flags = [Bar(name, value) for name, value in flags.items()]
    data.link_types = [Bar(r["link_type"], r["links"]) for r in
                       _dicts(con, "select * from link_types(?)", [target])]
    data.contexts = [Bar(r["context"], r["links"]) for r in
                     _dicts(con, "select * from link_contexts(?)", [target])]
    (domain,) = con.execute(
        "select coalesce((select domain from hosts where host = target_name(?)), target_name(?))",
        [target, target]).fetchone() or (data.target,)
    anchors = _dicts(con, "select anchor, links, referring_domains from anchors(?)", [target])
    kinds = dict.fromkeys(ANCHOR_KINDS, 0)
    for row in anchors:
        kind = classify_anchor(row["anchor"], data.target, domain)
        kinds[kind] += row["links"]
        if len(data.anchors) < TOP_ANCHORS:
            data.anchors.append((row["anchor"], row["links"], row["referring_domains"], kind))
    data.anchor_kinds = [Bar(kind, count) for kind, count in kinds.items()]
    dated = [crawl for crawl in crawls if crawl != "local"]  # 'local': no crawl id, no date
    if len(dated) > 1:
        for crawl in dated:
            (new,) = con.execute("select count(*) from new_referring_domains(?, ?)",
                                 [target, crawl]).fetchone() or (0,)
            (lost,) = con.execute("select count(*) from lost_referring_domains(?, ?)",
                                  [target, crawl]).fetchone() or (0,)
            data.crawl_changes.append((crawl, int(new), int(lost)))
    data.top_domains = domains[:TOP_DOMAINS]
    data.total_domains = len(domains)
    data.total_anchors = len(anchors)
    data.top_pages = _dicts(con, "select * from top_pages(?) limit ?", [target, TOP_PAGES])
    (pages,) = con.execute("select count(*) from top_pages(?)", [target]).fetchone() or (0,)
    data.total_pages = int(pages)
    return data


# ---- rendering ------------------------------------------------------------------------

_CSS = """
:root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --bar: #0b62c4; --bar2: #b35900;
        --bg: #ffffff; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); background: var(--bg); }
header.top { padding: 20px 32px 12px; border-bottom: 1px solid var(--line); }
header.top h1 { margin: 0 0 4px; font-size: 24px; }
header.top p { margin: 0; color: var(--muted); }
main { padding: 16px 32px 40px; max-width: 1280px; }
.metrics { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(150px, 100%), 1fr));
           gap: 12px; margin: 8px 0 24px; padding: 0; list-style: none; }
.metric { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
          padding: 12px 14px; }
.metric .value { display: block; font-size: 28px; font-weight: 650; }
.metric .name { color: var(--muted); font-size: 13px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(380px, 100%), 1fr));
          gap: 16px; }
figure.chart { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
figure.chart figcaption { font-weight: 600; margin-bottom: 2px; }
figure.chart p.note { margin: 0 0 6px; color: var(--muted); font-size: 13px; }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
svg .bar { fill: var(--bar); } svg .bar.lost { fill: var(--bar2); }
section { margin-top: 28px; }
h2 { font-size: 18px; margin: 0 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { background: var(--panel); cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " ▲"; } th[aria-sort="descending"]::after { content: " ▼"; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.url { word-break: break-all; }
td { overflow-wrap: anywhere; }
td a { color: var(--bar); }
.table-wrap { max-width: 100%; overflow-x: auto; }
p.note { color: var(--muted); font-size: 13px; margin: 6px 0 0; }
@media (max-width: 600px) {
  header.top { padding: 14px 12px 10px; } main { padding: 12px 12px 32px; }
  header.top h1 { font-size: 20px; overflow-wrap: anywhere; }
  .metric .value { font-size: 22px; }
  table { font-size: 13px; } th, td { padding: 4px 5px; } th { white-space: normal; }
}
.kind { font-size: 12px; padding: 1px 6px; border-radius: 10px; background: var(--panel);
        border: 1px solid var(--line); white-space: nowrap; }
.empty-state { border: 1px dashed var(--line); border-radius: 8px; padding: 24px;
               background: var(--panel); }
footer { color: var(--muted); font-size: 13px; margin-top: 32px; }
"""

# Sort a table by a clicked header; numbers by value. No data leaves the page.
_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.tabIndex = 0;
    function sort() {
      var body = table.tBodies[0];
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[column].dataset.sort, y = b.cells[column].dataset.sort;
        var nx = Number(x), ny = Number(y);
        var order = (x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny))
          ? nx - ny : x.localeCompare(y);
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
  });
});
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def bar_chart(name: str, title: str, bars: list[Bar], note: str = "",
              second: list[Bar] | None = None, series: tuple[str, str] = ("", "")) -> str:
    """A horizontal bar chart as inline SVG, labelled with its values (readable without
    colour) and described for screen readers. ``second`` draws a second bar per row; the
    values of the two series are prefixed with the names in ``series``."""
    label_width, bar_width, row, value_width = 110, 220, 24, 70
    rows = len(bars)
    height = rows * row * (2 if second else 1) + 8
    largest = max([b.value for b in bars] + [b.value for b in second or []] + [1])
    parts = []
    y = 4
    for index, bar in enumerate(bars):
        pair = [("bar", bar)] + ([("bar lost", second[index])] if second else [])
        for offset, (css, item) in enumerate(pair):
            length = 0 if not item.value else max(2, bar_width * item.value / largest)
            label = item.label if offset == 0 else ""
            prefix = f"{series[offset]} " if series[offset] else ""
            parts.append(
                f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end">{_e(label)}</text>'
                f'<rect class="{css}" x="{label_width}" y="{y + 4}" width="{length:.1f}" '
                f'height="{row - 8}" rx="2"></rect>'
                f'<text x="{label_width + length + 6:.1f}" y="{y + 16}">{prefix}{_number(item.value)}'
                f"</text>"
            )
            y += row
    desc = "; ".join(f"{b.label}: {series[0]} {_number(b.value)}".replace("  ", " ") for b in bars)
    if second:
        desc += ". " + "; ".join(f"{b.label}: {series[1]} {_number(b.value)}" for b in second)
    width = label_width + bar_width + value_width
    return (
        f'<figure class="chart" data-chart="{_e(name)}"><figcaption id="{_e(name)}-title">'
        f"{_e(title)}</figcaption>" + (f'<p class="note">{_e(note)}</p>' if note else "")
        + f'<svg role="img" aria-labelledby="{_e(name)}-title {_e(name)}-desc" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" style="max-width:100%;height:auto">'
        f'<desc id="{_e(name)}-desc">'
        f"{_e(desc)}</desc>{''.join(parts)}</svg></figure>"
    )


def _metric(key: str, name: str, shown: str, raw: Any) -> str:
    return (f'<li class="metric" data-metric="{key}" data-value="{_e("" if raw is None else raw)}">'
            f'<span class="value">{_e(shown)}</span><span class="name">{_e(name)}</span></li>')


Cell = tuple[str, Any, str] | tuple[str, Any, str, str]


def _cell_html(cell: Cell) -> str:
    text, sort, css = cell[0], cell[1], cell[2]
    href = cell[3] if len(cell) > 3 else ""
    shown = _e(text)
    if href:
        shown = f'<a href="{_e(href)}" rel="nofollow noopener noreferrer">{shown}</a>'
    return f'<td class="{css}" data-sort="{_e("" if sort is None else sort)}">{shown}</td>'


def _table(name: str, headers: list[tuple[str, bool]], rows: list[list[Cell]]) -> str:
    """A sortable table; each cell is (text, sort value, css class[, link]). It scrolls in
    its own box when it is wider than the screen, so the page never does."""
    head = "".join(f'<th scope="col"{" class=num" if numeric else ""}>{_e(h)}</th>'
                   for h, numeric in headers)
    body = "".join("<tr>" + "".join(_cell_html(cell) for cell in r) + "</tr>" for r in rows)
    return (f'<div class="table-wrap"><table class="sortable" data-table="{_e(name)}"><thead>'
            f"<tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


_CRAWL_ID = re.compile(r"^CC-MAIN-(\d{4})-(\d{2})$")
LOCAL_NOTE = ("local: pages from files without a Common Crawl crawl id (your own WARC files, or "
              "single-record files without a warcinfo record); it sorts after every crawl.")


def crawl_order(crawl: str | None) -> int:
    """A sort key that orders crawl ids by date (CC-MAIN-2014-35 < CC-MAIN-2024-22) with
    'local' (no date) last."""
    match = _CRAWL_ID.match(crawl or "")
    return int(match.group(1)) * 100 + int(match.group(2)) if match else 999_999


def _web_link(url: str) -> str:
    """A link for a URL from the graph: http(s) only, anything else is shown, not linked."""
    return url if url.lower().startswith(("http://", "https://")) else ""


def _heading(title: str, shown: int, total: int) -> str:
    counted = f" (top {shown:,} of {total:,})" if total > shown else f" ({total:,})"
    return f"<h2>{_e(title)}{counted}</h2>"


def render_html(data: ReportData) -> str:
    """The report as one HTML document (pure: no IO)."""
    profile = data.profile
    authority = profile["authority"]
    metrics = "".join([
        _metric("backlinks", "backlinks", _number(profile["backlinks"]), profile["backlinks"]),
        _metric("referring_domains", "referring domains", _number(profile["referring_domains"]),
                profile["referring_domains"]),
        _metric("referring_hosts", "referring hosts", _number(profile["referring_hosts"]),
                profile["referring_hosts"]),
        _metric("dofollow_share", "dofollow share", _share(profile["dofollow_share"]),
                profile["dofollow_share"]),
        _metric("sitewide_share", "sitewide share", _share(profile["sitewide_share"]),
                profile["sitewide_share"]),
        _metric("authority", "authority (0–100)",
                "not in graph" if authority is None else _number(authority), authority),
    ])
    crawls = ", ".join(data.crawls) or "none"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Backlink profile of {_e(data.target)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<header class="top"><h1>Backlink profile of <span data-target>{_e(data.target)}</span>'
        f"</h1><p>From the cc-backlinks graph of Common Crawl: crawls {_e(crawls)}.</p></header>",
        f'<main><ul class="metrics" aria-label="Headline numbers">{metrics}</ul>',
    ]
    if data.empty:
        hint = (" Hosts in the graph with a similar name: " + ", ".join(data.similar_hosts) + "."
                if data.similar_hosts else "")
        parts.append(
            f'<div class="empty-state" role="status"><h2>No backlinks of {_e(data.target)} '
            f"in this graph</h2><p>No page of the crawls loaded here links to it from "
            f"another registered domain.{_e(hint)} Add crawls with <code>backlinks run "
            f"--crawl ...</code> and build the report again.</p></div>"
        )
    else:
        parts.append('<div class="charts">')
        parts.append(bar_chart(
            "authority", "Referring domains by authority", data.authority_bands,
            "Authority 0–100: the share of domains in the graph that are less central "
            "(harmonic centrality)."))
        parts.append(bar_chart(
            "flags", "Dofollow and nofollow, ugc, sponsored links", data.flags,
            "Backlinks by rel flag; a link can carry several of nofollow, ugc and sponsored."))
        parts.append(bar_chart("link_types", "Link types", data.link_types,
                               "a: text link, img: image link, canonical, refresh, redirect."))
        parts.append(bar_chart("contexts", "Where the links sit", data.contexts,
                               "The nearest nav, header, footer or aside around the link, "
                               "else body."))
        parts.append(bar_chart(
            "anchor_kinds", "Anchor text kinds", data.anchor_kinds,
            "Backlinks by anchor: brand, naked URL, generic ('click here'), empty, other."))
        if data.crawl_changes:
            parts.append(bar_chart(
                "crawl_changes", "New and lost referring domains by crawl",
                [Bar(c.removeprefix("CC-MAIN-"), n) for c, n, _ in data.crawl_changes],
                "Referring domains that link in that crawl and did not in the crawl before "
                "(new, blue), and the reverse (lost, orange).",
                second=[Bar(c.removeprefix("CC-MAIN-"), lost) for c, _, lost in data.crawl_changes],
                series=("new", "lost")))
        parts.append("</div>")
        parts.append("<section>" + _heading("Top anchors", len(data.anchors),
                                            max(data.total_anchors, len(data.anchors))) + _table(
            "anchors",
            [("anchor", False), ("kind", False), ("links", True), ("referring domains", True)],
            [[(anchor or "(empty)", anchor, ""), (kind, kind, ""), (_number(links), links, "num"),
              (_number(domains), domains, "num")]
             for anchor, links, domains, kind in data.anchors]) + "</section>")
        local = any("local" in (r["first_seen"], r["last_seen"]) for r in data.top_domains)
        parts.append("<section>" + _heading(
            "Top referring domains", len(data.top_domains),
            max(data.total_domains, len(data.top_domains))) + _table(
            "referring_domains",
            [("domain", False), ("authority", True), ("links", True), ("dofollow links", True),
             ("pages", True), ("first seen", False), ("last seen", False)],
            [[(r["referring_domain"], r["referring_domain"], "",
               _web_link(f"https://{r['referring_domain']}/")),
              (_number(r["authority"]), r["authority"], "num"),
              (_number(r["links"]), r["links"], "num"),
              (_number(r["dofollow_links"]), r["dofollow_links"], "num"),
              (_number(r["pages"]), r["pages"], "num"),
              (r["first_seen"], crawl_order(r["first_seen"]), ""),
              (r["last_seen"], crawl_order(r["last_seen"]), "")]
             for r in data.top_domains])
            + (f'<p class="note">{_e(LOCAL_NOTE)}</p>' if local else "") + "</section>")
        parts.append("<section>" + _heading(
            "Top linked pages", len(data.top_pages), max(data.total_pages, len(data.top_pages)))
            + _table(
            "top_pages",
            [("page", False), ("referring domains", True), ("links", True), ("top anchors", False)],
            [[(r["page"], r["page"], "url", _web_link(r["page"])),
              (_number(r["referring_domains"]), r["referring_domains"], "num"),
              (_number(r["links"]), r["links"], "num"),
              ("; ".join(r["top_anchors"]), "; ".join(r["top_anchors"]), "")]
             for r in data.top_pages]) + "</section>")
    parts.append(
        "<footer>Made by cc-backlinks from Common Crawl data. Counts are of external links "
        "(from other registered domains) in the crawled pages only; see docs/sql.md for "
        "definitions.</footer></main>"
    )
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def write_report(html_text: str, path: Path) -> None:
    """Write the report under a temporary name beside ``path``, then rename it there."""
    try:
        with atomic_path(path) as temporary:
            temporary.write_text(html_text, "utf-8")
    except OSError as exc:  # said of the file asked for, not of its temporary name
        raise ExportError(
            f"cannot write the report to {str(path)!r}: {exc.strerror or exc}") from exc

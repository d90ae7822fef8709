//! backlinks_core: the per-page work of cc-backlinks in Rust.
//!
//! One definition, two implementations: the Python modules (pipeline/pages.py, extract.py,
//! urls.py, domains.py, rules.py, wat.py) define the rows; this crate computes the same rows
//! for a batch of pages at a time and hands them back as Arrow data (the Arrow PyCapsule
//! interface), so no Python object is made per link. Reading the WARC (framing, warcio)
//! stays in Python.

use std::collections::HashMap;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

pub mod arrow_out;
pub mod charset;
pub mod extract;
pub mod lexbor;
pub mod pages;
pub mod partitions;
pub mod psl;
pub mod py;
#[allow(dead_code)]
mod pychars;
pub mod rules;
pub mod urls;
pub mod wat;

use extract::{Context, Kind, RawLink};
use pages::{Assembler, Limits, PageIn, Source};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc; // the Rust side's allocations only

static LEXBOR: std::sync::OnceLock<Result<lexbor::Api, String>> = std::sync::OnceLock::new();

/// ``str.lower()`` (Rust's lowering, which follows the same SpecialCasing rules).
pub fn py_lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// ``str.splitlines()``.
pub fn py_splitlines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let brk = matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e'
            | '\u{85}' | '\u{2028}' | '\u{2029}');
        if brk {
            out.push(&text[start..i]);
            let mut next = i + c.len_utf8();
            if c == '\r' {
                if let Some(&(_, '\n')) = chars.peek() {
                    chars.next();
                    next += 1;
                }
            }
            start = next;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn lexbor_api(py: Python<'_>) -> PyResult<&'static lexbor::Api> {
    let loaded = LEXBOR.get_or_init(|| {
        let module = py.import("selectolax.lexbor").map_err(|e| e.to_string())?;
        let path: String = module
            .getattr("__file__")
            .and_then(|f| f.extract())
            .map_err(|e| e.to_string())?;
        lexbor::load(&path)
    });
    loaded.as_ref().map_err(|e| PyRuntimeError::new_err(format!("backlinks_core: {e}")))
}

/// The per-process state: the suffix list, the limits, the codec lookups made so far.
#[pyclass(module = "backlinks_core", unsendable)]
pub struct Engine {
    assembler: Assembler,
    codecs: HashMap<String, Option<String>>,
    fallbacks: u64,
    tables: HashMap<String, Option<[char; 256]>>,
    epoch: Py<PyAny>,
    one_us: Py<PyAny>,
    /// The size of the last batch's link columns, reserved for the next batch.
    link_sizes: arrow_out::Sizes,
}

fn fetch_time_us(engine: &Engine, py: Python<'_>, dt: &Bound<'_, PyAny>) -> PyResult<i64> {
    dt.sub(engine.epoch.bind(py))?.floor_div(engine.one_us.bind(py))?.extract()
}

impl Engine {
    /// extract.py's ``_codec``: the label through the aliases, then ``codecs.lookup``.
    fn codec(&mut self, py: Python<'_>, label: &str) -> PyResult<Option<String>> {
        if label.is_empty() {
            return Ok(None);
        }
        if let Some(found) = self.codecs.get(label) {
            return Ok(found.clone());
        }
        let lowered: String = PyString::new(py, label).call_method0("lower")?.extract()?;
        let aliased = match lowered.as_str() {
            "iso-8859-1" | "latin1" | "us-ascii" | "ascii" => "cp1252",
            "gb2312" => "gbk",
            "x-sjis" => "shift_jis",
            other => other,
        };
        let codecs = py.import("codecs")?;
        let result = match codecs.call_method1("lookup", (aliased,)) {
            Ok(info) => Some(info.getattr("name")?.extract::<String>()?),
            Err(err) if err.is_instance_of::<pyo3::exceptions::PyLookupError>(py) => None,
            Err(err) => return Err(err),
        };
        self.codecs.insert(label.to_string(), result.clone());
        Ok(result)
    }

    /// The table of a codec that decodes byte by byte (a charmap codec: cp1251, koi8-r...),
    /// read off Python's own codec: each byte alone, then every pair of bytes in one decode
    /// to check that no byte depends on its neighbour (which rules out multi-byte codecs).
    fn single_byte_table(&mut self, py: Python<'_>, codec: &str) -> PyResult<Option<[char; 256]>> {
        if let Some(found) = self.tables.get(codec) {
            return Ok(*found);
        }
        let mut table = ['\0'; 256];
        let mut ok = true;
        for b in 0..=255u8 {
            let decoded = PyBytes::new(py, &[b]).call_method1("decode", (codec, "replace"));
            let text: String = match decoded.and_then(|t| t.extract()) {
                Ok(t) => t,
                Err(_) => {
                    ok = false;
                    break;
                }
            };
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => table[b as usize] = c,
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            let mut pairs = Vec::with_capacity(2 * 65536);
            let mut expected = String::with_capacity(4 * 65536);
            for a in 0..=255u8 {
                for b in 0..=255u8 {
                    pairs.push(a);
                    pairs.push(b);
                    expected.push(table[a as usize]);
                    expected.push(table[b as usize]);
                }
            }
            let decoded = PyBytes::new(py, &pairs).call_method1("decode", (codec, "replace"));
            ok = matches!(decoded.and_then(|t| t.extract::<String>()), Ok(t) if t == expected);
        }
        let result = if ok { Some(table) } else { None };
        self.tables.insert(codec.to_string(), result);
        Ok(result)
    }

    /// ``detect_charset``.
    fn detect_charset(
        &mut self,
        py: Python<'_>,
        html: &[u8],
        headers: &[(String, String)],
    ) -> PyResult<String> {
        for (key, value) in headers {
            if py_lower(key) != "content-type" {
                continue;
            }
            if let Some(label) = charset::label_in_header(value) {
                if let Some(codec) = self.codec(py, label)? {
                    return Ok(codec);
                }
            }
        }
        if let Some(label) = charset::label_in_html(html) {
            let label = String::from_utf8_lossy(label).into_owned();
            if let Some(codec) = self.codec(py, &label)? {
                return Ok(codec);
            }
        }
        Ok("utf-8".to_string())
    }

    /// ``extract_links`` of one page: charset, parse, walk.
    fn extract_page(
        &mut self,
        py: Python<'_>,
        body: &Bound<'_, PyBytes>,
        headers: &[(String, String)],
        counters: &mut pages::Counters,
    ) -> PyResult<extract::Extracted> {
        let api = lexbor_api(py)?;
        let html = body.as_bytes();
        let charset = self.detect_charset(py, html, headers)?;
        let header_robots = headers
            .iter()
            .filter(|(k, _)| py_lower(k) == "x-robots-tag")
            .any(|(_, v)| rules::says_nofollow(v));
        let decoded: Option<Vec<u8>>;
        let input: &[u8] = if charset == "utf-8" && std::str::from_utf8(html).is_ok() {
            html
        } else if let Some(table) = self.single_byte_table(py, &charset)? {
            let mut utf8 = Vec::with_capacity(html.len() * 2);
            let mut replaced = false;
            for &b in html {
                let c = table[b as usize];
                replaced |= c == '\u{fffd}';
                let mut buf = [0u8; 4];
                utf8.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            if replaced {
                counters.set("decode_replacements", 1);
            }
            decoded = Some(utf8);
            decoded.as_deref().unwrap()
        } else {
            let text = body.call_method1("decode", (charset.as_str(), "replace"))?;
            let text = text.cast_into::<PyString>()?;
            let utf8: Vec<u8> = match text.to_str() {
                Ok(s) => s.as_bytes().to_vec(),
                Err(_) => text
                    .call_method1("encode", ("UTF-8", "ignore"))?
                    .cast_into::<PyBytes>()?
                    .as_bytes()
                    .to_vec(),
            };
            if memchr::memmem::find(&utf8, "\u{fffd}".as_bytes()).is_some() {
                counters.set("decode_replacements", 1);
            }
            decoded = Some(utf8);
            decoded.as_deref().unwrap()
        };
        // A new document per page, as selectolax makes one: Lexbor parsing again into a used
        // document (it cleans it first) was measured faster, but its tree can differ from a
        // fresh parse after some pages (found by the differential fuzzer: a link's anchor
        // merged into the previous one), so it is not done.
        let document = lexbor::Document::parse(api, input)
            .ok_or_else(|| PyRuntimeError::new_err("Lexbor could not parse a page"))?;
        Ok(extract::extract(api, &document, header_robots))
    }
}


impl Engine {
    /// ``parse_warc_date`` as microseconds since the epoch.
    fn warc_date_us(&self, py: Python<'_>, value: Option<&str>) -> PyResult<i64> {
        let Some(value) = value.filter(|v| !v.is_empty()) else { return Ok(0) };
        if let Some(us) = simple_warc_date(value) {
            return Ok(us);
        }
        let datetime = py.import("datetime")?.getattr("datetime")?;
        let iso = value.replace('Z', "+00:00");
        let parsed = match datetime.call_method1("fromisoformat", (iso,)) {
            Ok(p) => p,
            Err(e) if e.is_instance_of::<pyo3::exceptions::PyValueError>(py) => return Ok(0),
            Err(e) => return Err(e),
        };
        let parsed = if parsed.getattr("tzinfo")?.is_none() {
            let kwargs = PyDict::new(py);
            kwargs.set_item("tzinfo", py.import("datetime")?.getattr("timezone")?.getattr("utc")?)?;
            parsed.call_method("replace", (), Some(&kwargs))?
        } else {
            parsed
        };
        fetch_time_us(self, py, &parsed)
    }

    /// A Python event (from the fallback) as an [`wat::Event`].
    fn event_from_python(&self, py: Python<'_>, got: &Bound<'_, PyAny>)
        -> PyResult<wat::Event<'static>> {
        if let Ok(s) = got.cast::<PyString>() {
            return Ok(wat::Event::Warcinfo(s.to_str()?.to_string()));
        }
        if let Ok(reason) = got.getattr("reason") {
            let reason: String = reason.extract()?;
            return Ok(wat::Event::Python(PyEvent::Skipped(reason)));
        }
        let url = url_text(&got.getattr("url")?)?;
        let fetch_time = fetch_time_us(self, py, &got.getattr("fetch_time")?)?;
        let status: i64 = got.getattr("status")?.extract()?;
        if let Ok(location) = got.getattr("location") {
            return Ok(wat::Event::Python(PyEvent::Redirect {
                url, fetch_time, status, location: url_text(&location)?,
            }));
        }
        let mut links = Vec::new();
        for link in got.getattr("links")?.try_iter()? {
            let link = link?;
            let kind: String = link.getattr("link_type")?.extract()?;
            let context: String = link.getattr("context")?.extract()?;
            links.push(RawLink {
                href: url_text(&link.getattr("href")?)?.into(),
                anchor: link.getattr("anchor")?.extract::<String>()?.into(),
                kind: match extract::KIND_NAMES.iter().position(|k| *k == kind) {
                    Some(0) => Kind::A, Some(1) => Kind::Img, Some(2) => Kind::Area,
                    Some(3) => Kind::Canonical, Some(4) => Kind::Refresh, Some(5) => Kind::Redirect,
                    _ => return Err(PyRuntimeError::new_err(format!("unknown link type {kind}"))),
                },
                nofollow: link.getattr("nofollow")?.extract()?,
                ugc: link.getattr("ugc")?.extract()?,
                sponsored: link.getattr("sponsored")?.extract()?,
                context: match extract::CONTEXT_NAMES.iter().position(|k| *k == context) {
                    Some(0) => Context::Nav, Some(1) => Context::Header, Some(2) => Context::Footer,
                    Some(3) => Context::Aside, Some(4) => Context::Body, Some(5) => Context::Head,
                    Some(6) => Context::Http, Some(7) => Context::Unknown,
                    _ => return Err(PyRuntimeError::new_err(format!("unknown context {context}"))),
                },
            });
        }
        Ok(wat::Event::Python(PyEvent::Page {
            url, fetch_time, status, links,
            base_href: {
                let base = got.getattr("base_href")?;
                if base.is_none() { None } else { Some(url_text(&base)?) }
            },
            robots: got.getattr("robots_nofollow")?.extract()?,
        }))
    }

    /// process.py's handling of one WAT event: counters, crawl, page_rows.
    fn wat_event(
        &mut self,
        py: Python<'_>,
        event: wat::Event<'_>,
        crawl: &mut Option<String>,
        fallback_crawl: &str,
        out: &mut pages::Output,
    ) -> PyResult<()> {
        let (url, fetch_time, status, links, base_href, robots, redirect) = match event {
            wat::Event::Warcinfo(part) => {
                if !part.is_empty() {
                    *crawl = Some(part);
                }
                out.counters.add("skipped_warcinfo", 1);
                return Ok(());
            }
            wat::Event::Skipped(reason) => {
                out.counters.add(&format!("skipped_{reason}"), 1);
                return Ok(());
            }
            wat::Event::Python(PyEvent::Skipped(reason)) => {
                out.counters.add(&format!("skipped_{reason}"), 1);
                return Ok(());
            }
            wat::Event::Redirect { url, date, status, location } => {
                let t = self.warc_date_us(py, date.as_deref())?;
                (url, t, status, vec![redirect_link(location)], None, false, true)
            }
            wat::Event::Python(PyEvent::Redirect { url, fetch_time, status, location }) => {
                (url, fetch_time, status, vec![redirect_link(location)], None, false, true)
            }
            wat::Event::Page { url, date, links, base_href, robots } => {
                let t = self.warc_date_us(py, date.as_deref())?;
                (url, t, 200, links, base_href, robots, false)
            }
            wat::Event::Python(PyEvent::Page { url, fetch_time, status, links, base_href, robots }) => {
                (url, fetch_time, status, links, base_href, robots, false)
            }
        };
        let page_crawl = crawl
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| fallback_crawl.to_string());
        let source = match urls::resolve_page_url(&url) {
            Ok(source) => source,
            Err(reason) => {
                out.counters.add(&format!("pages_rejected_{reason}"), 1);
                return Ok(());
            }
        };
        let mut counters = pages::Counters::default();
        if redirect {
            counters.add("redirects", 1);
        }
        let page = PageIn { crawl: page_crawl, fetch_time, status, truncated: false };
        self.assembler.assemble(&page, Source(source), links, base_href, robots, counters, out);
        Ok(())
    }
}

/// An event the Python fallback gave.
pub enum PyEvent {
    Skipped(String),
    Redirect { url: String, fetch_time: i64, status: i64, location: String },
    Page { url: String, fetch_time: i64, status: i64, links: Vec<RawLink<'static>>,
           base_href: Option<String>, robots: bool },
}

fn redirect_link(location: String) -> RawLink<'static> {
    RawLink {
        href: location.into(),
        anchor: "".into(),
        kind: Kind::Redirect,
        nofollow: false,
        ugc: false,
        sponsored: false,
        context: Context::Http,
    }
}

/// ``YYYY-MM-DDTHH:MM:SSZ`` (what Common Crawl writes) without Python; None for any other
/// form, which Python's ``datetime.fromisoformat`` then reads.
fn simple_warc_date(v: &str) -> Option<i64> {
    let b = v.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':'
        || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = &b[r];
        if s.iter().all(u8::is_ascii_digit) {
            Some(s.iter().fold(0i64, |a, &d| a * 10 + (d - b'0') as i64))
        } else {
            None
        }
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if y < 1 || !(1..=12).contains(&m) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d < 1 || d > days_in[(m - 1) as usize] {
        return None;
    }
    // days from civil (Howard Hinnant)
    let (yy, mo) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mo + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1_000_000)
}

fn headers_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        let item = item?;
        let pair = item.cast::<PyTuple>()?;
        out.push((pair.get_item(0)?.extract()?, pair.get_item(1)?.extract()?));
    }
    Ok(out)
}

/// A URL from the Python path as a Rust string. One holding a lone surrogate (JSON may
/// give one) cannot be encoded, so ada_url's Python binding rejects it as an invalid URL:
/// it becomes a URL that ada rejects as well.
fn url_text(obj: &Bound<'_, PyAny>) -> PyResult<String> {
    let text = obj.cast::<PyString>()?;
    Ok(match text.to_str() {
        Ok(s) => s.to_string(),
        Err(_) => INVALID_URL_TEXT.to_string(),
    })
}

/// A URL no WHATWG parser accepts, absolute or relative to any base (an unclosed IPv6 host).
const INVALID_URL_TEXT: &str = "http://[";

fn opt_string(obj: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if obj.is_none() {
        Ok(None)
    } else {
        Ok(Some(obj.extract()?))
    }
}

#[pymethods]
impl Engine {
    /// ``Engine(psl_text, private, links_per_page, url_chars, anchor_chars)``.
    #[new]
    #[pyo3(signature = (psl_text, private=false, links_per_page=10_000, url_chars=2_048, anchor_chars=256))]
    fn new(
        py: Python<'_>,
        psl_text: &str,
        private: bool,
        links_per_page: usize,
        url_chars: usize,
        anchor_chars: usize,
    ) -> PyResult<Self> {
        lexbor_api(py)?;
        let datetime = py.import("datetime")?;
        let utc = datetime.getattr("timezone")?.getattr("utc")?;
        let epoch = datetime
            .getattr("datetime")?
            .call((1970, 1, 1, 0, 0, 0, 0, utc), None)?
            .unbind();
        let kwargs = PyDict::new(py);
        kwargs.set_item("microseconds", 1)?;
        let one_us = datetime.getattr("timedelta")?.call((), Some(&kwargs))?.unbind();
        Ok(Engine {
            assembler: Assembler::new(
                psl::PublicSuffixList::from_text(psl_text, private),
                Limits { links_per_page, url_chars, anchor_chars },
            ),
            codecs: HashMap::new(),
            fallbacks: 0,
            tables: HashMap::new(),
            epoch,
            one_us,
            link_sizes: arrow_out::Sizes::default(),
        })
    }

    /// The rows of a batch of WARC events, each an ``HtmlPage`` or a ``Redirect``
    /// (pipeline/records.py), as page_rows gives them: ``(links, pages, counters)``, the
    /// first two Arrow tables (``__arrow_c_stream__``) in LINKS_SCHEMA and PAGES_SCHEMA
    /// order, the third a dict. A page's crawl is its own, else ``fallback_crawl``.
    fn warc_batch(
        &mut self,
        py: Python<'_>,
        events: &Bound<'_, PyList>,
        fallback_crawl: &str,
    ) -> PyResult<(arrow_out::Table, arrow_out::Table, Py<PyDict>)> {
        let mut out = pages::Output::with_capacity(&self.link_sizes);
        for event in events.iter() {
            let url: String = event.getattr("url")?.extract()?;
            let crawl = opt_string(&event.getattr("crawl")?)?
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| fallback_crawl.to_string());
            let fetch_time = fetch_time_us(self, py, &event.getattr("fetch_time")?)?;
            let status: i64 = event.getattr("status")?.extract()?;
            let mut counters = pages::Counters::default();
            let source = match urls::resolve_page_url(&url) {
                Ok(source) => source,
                Err(reason) => {
                    out.counters.add(&format!("pages_rejected_{reason}"), 1);
                    continue;
                }
            };
            if let Ok(location) = event.getattr("location") {
                let location: String = location.extract()?;
                counters.add("redirects", 1);
                let links = vec![RawLink {
                    href: location.into(),
                    anchor: "".into(),
                    kind: Kind::Redirect,
                    nofollow: false,
                    ugc: false,
                    sponsored: false,
                    context: Context::Http,
                }];
                let page = PageIn { crawl, fetch_time, status, truncated: false };
                self.assembler.assemble(&page, Source(source), links, None, false, counters,
                                        &mut out);
                continue;
            }
            let body = event.getattr("body")?;
            let body = body.cast::<PyBytes>()?;
            let headers = headers_of(&event.getattr("headers")?)?;
            let extracted = self.extract_page(py, body, &headers, &mut counters)?;
            let truncated: bool = event.getattr("truncated")?.extract()?;
            if truncated {
                counters.add("pages_truncated", 1);
            }
            let page = PageIn { crawl, fetch_time, status, truncated };
            self.assembler.assemble(&page, Source(source), extracted.links,
                                    extracted.base_href, extracted.robots, counters, &mut out);
        }
        self.link_sizes = out.links.sizes();
        out.finish(py)
    }

    /// The rows of a batch of WAT metadata records (their JSON payloads, in file order), as
    /// wat.py's envelope reading and page_rows give them. ``crawl`` is the crawl named by the
    /// last warcinfo envelope before the batch (None at the start of a file); a page's crawl
    /// is that, else ``fallback_crawl``. ``fallback(payload, crawl)`` is the Python path's
    /// event of one payload (a WatPage, Redirect, Skipped, or the crawl string of a warcinfo
    /// envelope), asked for the few records whose JSON this module does not read itself.
    /// Every payload is one record: ``skipped_<reason>`` counters are included. Returns
    /// ``(links, pages, counters, crawl)``.
    #[pyo3(signature = (payloads, crawl, fallback_crawl, fallback))]
    fn wat_batch(
        &mut self,
        py: Python<'_>,
        payloads: &Bound<'_, PyList>,
        crawl: Option<String>,
        fallback_crawl: &str,
        fallback: &Bound<'_, PyAny>,
    ) -> PyResult<(arrow_out::Table, arrow_out::Table, Py<PyDict>, Option<String>)> {
        let mut out = pages::Output::with_capacity(&self.link_sizes);
        let mut crawl = crawl;
        let unescape_fn = py.import("html")?.getattr("unescape")?;
        for payload in payloads.iter() {
            let payload = payload.cast::<PyBytes>()?;
            let mut unescape = |s: &str| -> Result<String, wat::Fallback> {
                unescape_fn.call1((s,)).and_then(|r| r.extract()).map_err(|_| wat::Fallback)
            };
            let document = wat::parse(payload.as_bytes());
            let event = match document.as_ref().map_err(|_| wat::Fallback)
                .and_then(|document| wat::event(document, &mut unescape)) {
                Ok(event) => event,
                Err(wat::Fallback) => {
                    self.fallbacks += 1;
                    let got = fallback.call1((payload, crawl.clone()))?;
                    self.event_from_python(py, &got)?
                }
            };
            self.wat_event(py, event, &mut crawl, fallback_crawl, &mut out)?;
        }
        self.link_sizes = out.links.sizes();
        let (links, pages, counters) = out.finish(py)?;
        Ok((links, pages, counters, crawl))
    }

    /// How many WAT records were handed to the Python fallback so far.
    #[getter]
    fn fallbacks(&self) -> u64 {
        self.fallbacks
    }

    /// ``PublicSuffixList.registered_domain`` (the conformance suite's entry point).
    fn registered_domain(&self, host: &str) -> Option<String> {
        self.assembler.psl.registered_domain(host)
    }

    /// ``PublicSuffixList.fold``.
    fn fold(&mut self, host: &str) -> String {
        self.assembler.psl.fold(host).to_string()
    }

    /// ``extract_links(html, headers)`` as ``(links, base_href, robots, counters)``, each
    /// link a tuple (href, anchor, type, nofollow, ugc, sponsored, context): for tests.
    fn extract_links(
        &mut self,
        py: Python<'_>,
        html: &Bound<'_, PyBytes>,
        headers: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyTuple>> {
        let headers = headers_of(headers)?;
        let mut counters = pages::Counters::default();
        let extracted = self.extract_page(py, html, &headers, &mut counters)?;
        let links = PyList::empty(py);
        for l in &extracted.links {
            links.append((
                &l.href,
                &l.anchor,
                extract::KIND_NAMES[l.kind as usize],
                l.nofollow,
                l.ugc,
                l.sponsored,
                extract::CONTEXT_NAMES[l.context as usize],
            ))?;
        }
        Ok((links, extracted.base_href, extracted.robots, counters.to_dict(py)?)
            .into_pyobject(py)?
            .unbind())
    }
}

/// ``resolve_link(href, base)``: ``(url, host)`` or the reject reason.
#[pyfunction]
fn resolve_link(py: Python<'_>, href: &str, base: &str) -> PyResult<Py<PyAny>> {
    resolution(py, urls::resolve_link(href, base))
}

/// ``resolve_page_url(url)``: ``(url, host)`` or the reject reason.
#[pyfunction]
fn resolve_page_url(py: Python<'_>, url: &str) -> PyResult<Py<PyAny>> {
    resolution(py, urls::resolve_page_url(url))
}

/// ``host_reject_reason(host)``.
#[pyfunction]
fn host_reject_reason(host: &str) -> Option<&'static str> {
    urls::host_reject_reason(host)
}

fn resolution(py: Python<'_>, r: urls::Resolution) -> PyResult<Py<PyAny>> {
    Ok(match r {
        Ok(resolved) => (resolved.url.clone(), resolved.host().to_string())
            .into_pyobject(py)?
            .into_any()
            .unbind(),
        Err(reason) => PyString::new(py, reason).into_any().unbind(),
    })
}

/// Raise unless the Lexbor of the installed selectolax can be used.
#[pyfunction]
fn check_lexbor(py: Python<'_>) -> PyResult<()> {
    lexbor_api(py).map(|_| ())
}

#[pymodule]
fn backlinks_core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Engine>()?;
    m.add_class::<arrow_out::Table>()?;
    m.add_function(wrap_pyfunction!(resolve_link, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_page_url, m)?)?;
    m.add_function(wrap_pyfunction!(host_reject_reason, m)?)?;
    m.add_function(wrap_pyfunction!(check_lexbor, m)?)?;
    m.add_function(wrap_pyfunction!(partitions::md5_partitions, m)?)?;

    Ok(())
}

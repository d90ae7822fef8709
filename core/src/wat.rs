//! pipeline/wat.py: a WAT metadata record's JSON -> an event -> rows.
//!
//! wat.py reads the envelope with Python's dynamic types: ``x or {}``, ``str(value)``,
//! ``dict.get`` on whatever the JSON holds, iteration of a string or a dict... This module
//! follows those semantics for every value it can say exactly what Python does with
//! (strings, ints, booleans, null, objects and arrays where wat.py expects them), and answers
//! [`Fallback`] for the rest (a float or a container where wat.py would ``str()`` it,
//! JSON that sonic-rs refuses but Python's json module might take: NaN, lone surrogates,
//! deep nesting, a BOM, UTF-16...): lib.rs then asks the Python path for that record's
//! event, so the result is Python's in every case.

use std::borrow::Cow;

use sonic_rs::{JsonContainerTrait, JsonType, JsonValueTrait, Object, Value};

type Map = Object;

use crate::extract::{anchor_text_cow, Context, Kind, RawLink};
use crate::rules;

pub const INVALID_JSON: &str = "wat_invalid_json";
pub const MALFORMED: &str = "wat_malformed";

/// What one WAT record is.
pub enum Event<'d> {
    /// A warcinfo envelope: the crawl it names ("" for none).
    Warcinfo(String),
    Skipped(&'static str),
    /// A status 3xx with a Location.
    Redirect { url: String, date: Option<String>, status: i64, location: String },
    Page { url: String, date: Option<String>, links: Vec<RawLink<'d>>, base_href: Option<String>,
           robots: bool },
    /// What the Python path said of a record this module left to it.
    Python(crate::PyEvent),
}

/// Why this module cannot say what Python does: the caller asks Python.
pub struct Fallback;

/// A Python exception that page_from_envelope turns into MALFORMED.
pub enum Stop {
    Malformed,
    Fallback,
}

type R<T> = Result<T, Stop>;

fn truthy(v: &Value) -> bool {
    match v.get_type() {
        JsonType::Null => false,
        JsonType::Boolean => v.as_bool().unwrap_or(false),
        JsonType::Number => {
            if let Some(i) = v.as_i64() {
                i != 0
            } else if let Some(u) = v.as_u64() {
                u != 0
            } else {
                v.as_f64().map(|f| f != 0.0).unwrap_or(true)
            }
        }
        JsonType::String => !v.as_str().unwrap_or("").is_empty(),
        JsonType::Array => v.as_array().map(|a| !a.is_empty()).unwrap_or(false),
        JsonType::Object => v.as_object().map(|o| !o.is_empty()).unwrap_or(false),
    }
}

/// ``str(value)`` where Python's answer is known (a string is borrowed from the document).
fn py_str(v: &Value) -> R<Cow<'_, str>> {
    match v.get_type() {
        JsonType::String => Ok(Cow::Borrowed(v.as_str().unwrap_or(""))),
        JsonType::Null => Ok(Cow::Borrowed("None")),
        JsonType::Boolean => {
            Ok(Cow::Borrowed(if v.as_bool() == Some(true) { "True" } else { "False" }))
        }
        JsonType::Number if v.is_i64() => Ok(Cow::Owned(v.as_i64().unwrap().to_string())),
        JsonType::Number if v.is_u64() => Ok(Cow::Owned(v.as_u64().unwrap().to_string())),
        _ => Err(Stop::Fallback), // a float's repr, a container's repr
    }
}

/// ``d.get(key)`` of a Python dict made by json.loads: the last value of a repeated key.
fn lookup<'a>(m: &'a Map, key: &str) -> Option<&'a Value> {
    let mut found = None;
    for (k, v) in m.iter() {
        if k == key {
            found = Some(v);
        }
    }
    found
}

/// ``d.items()`` of such a dict: each key once, where it first came, with its last value.
fn items(m: &Map) -> Vec<(&str, &Value)> {
    let mut out: Vec<(&str, &Value)> = Vec::with_capacity(m.len());
    for (k, v) in m.iter() {
        match out.iter_mut().find(|(seen, _)| *seen == k) {
            Some(entry) => entry.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

/// Whether arrays and objects nest deeper than `limit` in a JSON text (strings skipped):
/// Python's json gives up (RecursionError) somewhere near 1,000 levels, where exactly
/// depends on its call stack, so past `limit` Python is asked.
fn deeper_than(payload: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    let n = payload.len();
    while i < n {
        match payload[i] {
            b'"' => {
                // a string: jump to its closing quote (memchr over the text)
                i += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &payload[i..]) {
                        None => return false,
                        Some(j) if payload[i + j] == b'\\' => i += j + 2,
                        Some(j) => {
                            i += j + 1;
                            break;
                        }
                    }
                    if i >= n {
                        return false;
                    }
                }
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    /// The scan byte by byte: the reference for [`super::deeper_than`] (which skips strings
    /// with memchr).
    fn deeper_than_bytewise(payload: &[u8], limit: usize) -> bool {
        let mut depth = 0usize;
        let mut i = 0;
        while i < payload.len() {
            match payload[i] {
                b'"' => {
                    i += 1;
                    loop {
                        match payload.get(i) {
                            None => return false,
                            Some(b'"') => break,
                            Some(b'\\') => i += 2,
                            Some(_) => i += 1,
                        }
                    }
                }
                b'[' | b'{' => {
                    depth += 1;
                    if depth > limit {
                        return true;
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        false
    }

    #[test]
    fn deeper_than_is_the_bytewise_scan() {
        let pieces: [&[u8]; 12] = [b"[", b"]", b"{", b"}", b"\"", b"\\", b"a", b"\"[[[[\"",
                                   b"\"\\\"[\"", b"0123456789abcdef", b"\\\"", b"}}]]"];
        // pseudo-random texts from the pieces, of every length up to a few blocks
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut text = Vec::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = (state % 40) as usize;
            for k in 0..n {
                let r = state.rotate_left(k as u32 * 5);
                text.extend_from_slice(pieces[(r % pieces.len() as u64) as usize]);
            }
            for limit in [0, 1, 2, 3, 5] {
                assert_eq!(super::deeper_than(&text, limit), deeper_than_bytewise(&text, limit),
                           "{:?} {limit}", String::from_utf8_lossy(&text));
            }
        }
        let deep = [b"[".repeat(101), b"]".repeat(101)].concat();
        assert!(super::deeper_than(&deep, 100));
        assert!(!super::deeper_than(&deep[1..deep.len() - 1], 100));
    }
}

/// ``x or {}`` then ``.get(key)`` on it: None for a missing key; MALFORMED when the value
/// is truthy and not a dict (AttributeError).
fn or_dict(v: Option<&Value>) -> R<Option<&Map>> {
    match v {
        None => Ok(None),
        Some(v) if !truthy(v) => Ok(None),
        Some(v) => v.as_object().map(Some).ok_or(Stop::Malformed),
    }
}

fn get<'a>(m: Option<&'a Map>, key: &str) -> Option<&'a Value> {
    m.and_then(|m| lookup(m, key))
}

/// ``for item in (x or [])``: the items that are dicts (wat.py skips the others). A dict or
/// a string iterates to non-dicts; a truthy number or ``true`` raises TypeError.
fn dict_items(v: Option<&Value>) -> R<Vec<&Map>> {
    match v {
        None => Ok(Vec::new()),
        Some(v) if !truthy(v) => Ok(Vec::new()),
        Some(v) => match v.get_type() {
            JsonType::Array => {
                let array = v.as_array().unwrap();
                let mut dicts = Vec::with_capacity(array.len());
                dicts.extend(array.iter().filter_map(|i| i.as_object()));
                Ok(dicts)
            }
            JsonType::Object | JsonType::String => Ok(Vec::new()),
            _ => Err(Stop::Malformed),
        },
    }
}

/// ``_text(entry, key)``: None for missing or null, else ``str(value)``.
fn text<'a>(entry: &'a Map, key: &str) -> R<Option<Cow<'a, str>>> {
    match lookup(entry, key) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => py_str(v).map(Some),
    }
}

/// ``rules.header_values(headers, name)`` over a Headers object.
fn header_values<'a>(headers: Option<&'a Map>, name: &str) -> R<Vec<Cow<'a, str>>> {
    let mut found = Vec::new();
    if let Some(h) = headers {
        for (key, value) in items(h) {
            if crate::py_lower(key) != name {
                continue;
            }
            match value.as_array() {
                Some(list) => {
                    for item in list.iter() {
                        found.push(py_str(item)?);
                    }
                }
                None => found.push(py_str(value)?),
            }
        }
    }
    Ok(found)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// ``_url(entry)``: ``str(entry["url"])``, character references decoded when it has a '&'
/// (by Python's own html.unescape: the caller's `unescape`).
fn url_of<'a>(entry: &'a Map, unescape: &mut dyn FnMut(&str) -> Result<String, Fallback>)
    -> R<Cow<'a, str>> {
    href_of(lookup(entry, "url").ok_or(Stop::Fallback)?, unescape)
}

fn href_of<'a>(url: &'a Value, unescape: &mut dyn FnMut(&str) -> Result<String, Fallback>)
    -> R<Cow<'a, str>> {
    let href = py_str(url)?;
    if memchr::memchr(b'&', href.as_bytes()).is_some() {
        unescape(&href).map(Cow::Owned).map_err(|_| Stop::Fallback)
    } else {
        Ok(href)
    }
}

/// ``json.loads(payload)``, for [`event`] (which borrows the links' strings from it).
pub fn parse(payload: &[u8]) -> Result<Value, Fallback> {
    if deeper_than(payload, 100) {
        return Err(Fallback);
    }
    // Python's json may read what sonic-rs refuses
    sonic_rs::from_slice(payload).map_err(|_| Fallback)
}

/// ``document["Envelope"]`` and ``page_from_envelope`` of a [`parse`]d payload.
pub fn event<'d>(
    document: &'d Value,
    unescape: &mut dyn FnMut(&str) -> Result<String, Fallback>,
) -> Result<Event<'d>, Fallback> {
    let Some(document) = document.as_object() else { return Ok(Event::Skipped(INVALID_JSON)) };
    let envelope = match lookup(document, "Envelope").and_then(|e| e.as_object()) {
        Some(e) => e,
        None => return Ok(Event::Skipped(INVALID_JSON)),
    };
    match from_envelope(envelope, unescape) {
        Ok(e) => Ok(e),
        Err(Stop::Malformed) => Ok(Event::Skipped(MALFORMED)),
        Err(Stop::Fallback) => Err(Fallback),
    }
}

fn from_envelope<'d>(
    envelope: &'d Map,
    unescape: &mut dyn FnMut(&str) -> Result<String, Fallback>,
) -> R<Event<'d>> {
    let warc = or_dict(lookup(envelope, "WARC-Header-Metadata"))?;
    let payload = lookup(envelope, "Payload-Metadata");
    let kind = get(warc, "WARC-Type");
    let kind_str = kind.and_then(|k| k.as_str());
    match kind_str {
        _ if kind.is_none() => return Ok(Event::Skipped("other_record_type")), // "" is no type
        Some("warcinfo") => {
            let payload = or_dict(payload)?;
            let info = or_dict(get(payload, "WARC-Info-Metadata"))?;
            let part = match get(info, "isPartOf") {
                Some(v) if truthy(v) => py_str(v)?.into_owned(),
                _ => String::new(),
            };
            return Ok(Event::Warcinfo(part));
        }
        Some("response") => {}
        Some(k) => {
            return Ok(Event::Skipped(match k {
                "request" => "request",
                "metadata" => "metadata",
                _ => "other_record_type",
            }))
        }
        None if kind.is_some_and(|k| k.is_array() || k.is_object()) => {
            return Err(Stop::Malformed) // unhashable: TypeError
        }
        None => return Ok(Event::Skipped("other_record_type")),
    }
    let url = match get(warc, "WARC-Target-URI") {
        Some(v) if truthy(v) => py_str(v)?,
        _ => Cow::Borrowed(""),
    };
    let url = url.trim_matches(|c| c == '<' || c == '>' || c == ' ').to_string();
    if url.is_empty() {
        return Ok(Event::Skipped("no_target_uri"));
    }
    let payload = or_dict(payload)?;
    let response = or_dict(get(payload, "HTTP-Response-Metadata"))?;
    let message = or_dict(get(response, "Response-Message"))?;
    let status = match get(message, "Status") {
        None => Cow::Borrowed(""),
        Some(v) => py_str(v)?,
    };
    let headers = match get(response, "Headers") {
        None => None,
        Some(v) if !truthy(v) => None,
        Some(v) => match v.as_object() {
            Some(h) => Some(h),
            None => return Err(Stop::Malformed), // _headers: TypeError
        },
    };
    let date = match get(warc, "WARC-Date") {
        Some(v) if truthy(v) => match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => return Err(Stop::Malformed), // value.replace: AttributeError
        },
        _ => None,
    };
    let location = header_values(headers, "location")?;
    let location: &str = location.first().map(|l| &**l).unwrap_or_default();
    let first = status.chars().next().map(|c| c.to_string()).unwrap_or_default();
    if first == "3" && digits(&status) && !location.is_empty() {
        let code: i64 = status.parse().map_err(|_| Stop::Fallback)?;
        if code > i16::MAX as i64 {
            return Err(Stop::Fallback);
        }
        let location = crate::py::strip(location).to_string();
        return Ok(Event::Redirect { url, date, status: code, location });
    }
    if status != "200" {
        return Ok(Event::Skipped(if digits(&first) {
            status_reason(&first)
        } else {
            "status_invalid"
        }));
    }
    let metadata = match get(response, "HTML-Metadata").and_then(|m| m.as_object()) {
        Some(m) => m,
        None => return Ok(Event::Skipped("not_html")),
    };
    let head = or_dict(lookup(metadata, "Head"))?;
    // _metas
    let mut meta_robots = false;
    let mut refreshes = Vec::new();
    let metas = dict_items(get(head, "Metas"))?;
    for meta in metas {
        let (nofollow, target) = rules::read_meta(
            text(meta, "name")?.as_deref(),
            text(meta, "http-equiv")?.as_deref(),
            text(meta, "content")?.as_deref(),
        );
        meta_robots = meta_robots || nofollow;
        if let Some(t) = target {
            refreshes.push(t);
        }
    }
    let mut robots = false;
    for value in header_values(headers, "x-robots-tag")? {
        if rules::says_nofollow(&value) {
            robots = true;
            break;
        }
    }
    let robots = robots || meta_robots;
    let base = match get(head, "Base") {
        Some(v) if truthy(v) => Some(py_str(v)?.into_owned()),
        _ => None,
    };
    // _head_links
    let head_links = dict_items(get(head, "Link"))?;
    let mut links = Vec::with_capacity(refreshes.len() + head_links.len());
    for target in refreshes {
        links.push(declared(Cow::Owned(target), Kind::Refresh, robots));
    }
    for entry in head_links {
        if lookup(entry, "url").is_none() {
            continue;
        }
        let is_link = lookup(entry, "path").and_then(|p| p.as_str()) == Some("LINK@/href");
        if is_link && rules::rel_tokens(text(entry, "rel")?.as_deref()).canonical {
            links.push(declared(url_of(entry, unescape)?, Kind::Canonical, robots));
        }
    }
    // _links
    // (read after the head's links, as wat.py reads them: the first error is wat.py's)
    let link_entries = dict_items(lookup(metadata, "Links"))?;
    links.reserve(link_entries.len());
    for entry in link_entries {
        // one pass over the entry for its five keys (the last of a repeated key wins)
        let (mut path, mut url, mut text, mut alt, mut rel_value) = (None, None, None, None, None);
        for (k, v) in entry.iter() {
            match k {
                "path" => path = Some(v),
                "url" => url = Some(v),
                "text" => text = Some(v),
                "alt" => alt = Some(v),
                "rel" => rel_value = Some(v),
                _ => {}
            }
        }
        let kind = match path.and_then(|p| p.as_str()) {
            Some("A@/href") => Kind::A,
            Some("AREA@/href") => Kind::Area,
            _ => continue, // str() of anything else is no link path
        };
        let Some(url) = url else { continue };
        let rel = match rel_value {
            Some(v) if truthy(v) => rules::rel_tokens(Some(&py_str(v)?)),
            _ => rules::Rel::default(),
        };
        let raw_text = if kind == Kind::Area { alt } else { text };
        let anchor = match raw_text {
            Some(v) if truthy(v) => match py_str(v)? {
                Cow::Borrowed(raw) => anchor_text_cow(raw),
                Cow::Owned(raw) => Cow::Owned(anchor_text_cow(&raw).into_owned()),
            },
            _ => Cow::Borrowed(""),
        };
        let href = href_of(url, unescape)?;
        links.push(RawLink {
            href,
            anchor,
            kind,
            nofollow: robots || rel.nofollow,
            ugc: rel.ugc,
            sponsored: rel.sponsored,
            context: Context::Unknown,
        });
    }
    Ok(Event::Page { url, date, links, base_href: base, robots })
}

fn status_reason(first: &str) -> &'static str {
    match first {
        "0" => "status_0xx",
        "1" => "status_1xx",
        "2" => "status_2xx",
        "3" => "status_3xx",
        "4" => "status_4xx",
        "5" => "status_5xx",
        "6" => "status_6xx",
        "7" => "status_7xx",
        "8" => "status_8xx",
        _ => "status_9xx",
    }
}

fn declared(href: Cow<'_, str>, kind: Kind, robots: bool) -> RawLink<'_> {
    RawLink {
        href,
        anchor: Cow::Borrowed(""),
        kind,
        nofollow: robots,
        ugc: false,
        sponsored: false,
        context: Context::Head,
    }
}

//! pipeline/wat.py: a WAT metadata record's JSON -> an event -> rows.
//!
//! wat.py reads the envelope with Python's dynamic types: ``x or {}``, ``str(value)``,
//! ``dict.get`` on whatever the JSON holds, iteration of a string or a dict... This module
//! follows those semantics for every value it can say exactly what Python does with
//! (strings, ints, booleans, null, objects and arrays where wat.py expects them), and answers
//! [`Step::Fallback`] for the rest (a float or a container where wat.py would ``str()`` it,
//! JSON that serde_json refuses but Python's json module might take: NaN, lone surrogates,
//! deep nesting, a BOM, UTF-16...): lib.rs then asks the Python path for that record's
//! event, so the result is Python's in every case.

use serde_json::{Map, Value};

use crate::extract::{anchor_text, Context, Kind, RawLink};
use crate::rules;

pub const INVALID_JSON: &str = "wat_invalid_json";
pub const MALFORMED: &str = "wat_malformed";

/// What one WAT record is.
pub enum Event {
    /// A warcinfo envelope: the crawl it names ("" for none).
    Warcinfo(String),
    Skipped(&'static str),
    /// A status 3xx with a Location.
    Redirect { url: String, date: Option<String>, status: i64, location: String },
    Page { url: String, date: Option<String>, links: Vec<RawLink>, base_href: Option<String>,
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
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => {
            let text = n.as_str();
            if is_int_literal(text) {
                text.trim_start_matches('-').bytes().any(|b| b != b'0')
            } else {
                text.parse::<f64>().map(|f| f != 0.0).unwrap_or(true)
            }
        }
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn is_int_literal(text: &str) -> bool {
    !text.bytes().any(|b| b == b'.' || b == b'e' || b == b'E')
}

/// ``str(value)`` where Python's answer is known.
fn py_str(v: &Value) -> R<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok("None".into()),
        Value::Bool(true) => Ok("True".into()),
        Value::Bool(false) => Ok("False".into()),
        Value::Number(n) => {
            let text = n.as_str();
            if is_int_literal(text) {
                if text.trim_start_matches('-').bytes().all(|b| b == b'0') {
                    Ok("0".into())
                } else {
                    Ok(text.to_string())
                }
            } else {
                Err(Stop::Fallback) // a float's repr
            }
        }
        _ => Err(Stop::Fallback),
    }
}

/// ``x or {}`` then ``.get(key)`` on it: None for a missing key; MALFORMED when the value
/// is truthy and not a dict (AttributeError).
fn or_dict(v: Option<&Value>) -> R<Option<&Map<String, Value>>> {
    match v {
        None => Ok(None),
        Some(v) if !truthy(v) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(Stop::Malformed),
    }
}

fn get<'a>(m: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    m.and_then(|m| m.get(key))
}

/// ``for item in (x or [])``: the items that are dicts (wat.py skips the others). A dict or
/// a string iterates to non-dicts; a truthy number or ``true`` raises TypeError.
fn dict_items(v: Option<&Value>) -> R<Vec<&Map<String, Value>>> {
    match v {
        None => Ok(Vec::new()),
        Some(v) if !truthy(v) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            Ok(items.iter().filter_map(|i| i.as_object()).collect())
        }
        Some(Value::Object(_)) | Some(Value::String(_)) => Ok(Vec::new()),
        Some(_) => Err(Stop::Malformed),
    }
}

/// ``_text(entry, key)``: None for missing or null, else ``str(value)``.
fn text(entry: &Map<String, Value>, key: &str) -> R<Option<String>> {
    match entry.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => py_str(v).map(Some),
    }
}

/// ``rules.header_values(headers, name)`` over a Headers object.
fn header_values(headers: Option<&Map<String, Value>>, name: &str) -> R<Vec<String>> {
    let mut found = Vec::new();
    if let Some(h) = headers {
        for (key, value) in h {
            if crate::py_lower(key) != name {
                continue;
            }
            match value {
                Value::Array(items) => {
                    for item in items {
                        found.push(py_str(item)?);
                    }
                }
                other => found.push(py_str(other)?),
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
fn url_of(entry: &Map<String, Value>, unescape: &mut dyn FnMut(&str) -> Result<String, Fallback>)
    -> R<String> {
    let href = py_str(&entry["url"])?;
    if href.contains('&') {
        unescape(&href).map_err(|_| Stop::Fallback)
    } else {
        Ok(href)
    }
}

/// ``json.loads(payload)["Envelope"]`` and ``page_from_envelope``.
pub fn event(
    payload: &[u8],
    unescape: &mut dyn FnMut(&str) -> Result<String, Fallback>,
) -> Result<Event, Fallback> {
    let document: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(_) => return Err(Fallback), // Python's json may read what serde_json refuses
    };
    let envelope = match document {
        Value::Object(mut m) => match m.remove("Envelope") {
            Some(Value::Object(e)) => e,
            _ => return Ok(Event::Skipped(INVALID_JSON)),
        },
        _ => return Ok(Event::Skipped(INVALID_JSON)),
    };
    match from_envelope(&envelope, unescape) {
        Ok(e) => Ok(e),
        Err(Stop::Malformed) => Ok(Event::Skipped(MALFORMED)),
        Err(Stop::Fallback) => Err(Fallback),
    }
}

fn from_envelope(
    envelope: &Map<String, Value>,
    unescape: &mut dyn FnMut(&str) -> Result<String, Fallback>,
) -> R<Event> {
    let warc = or_dict(envelope.get("WARC-Header-Metadata"))?;
    let payload = envelope.get("Payload-Metadata");
    let kind = get(warc, "WARC-Type");
    match kind {
        None => return Ok(Event::Skipped("other_record_type")), // "" is no type
        Some(Value::String(k)) if k == "warcinfo" => {
            let payload = or_dict(payload)?;
            let info = or_dict(get(payload, "WARC-Info-Metadata"))?;
            let part = match get(info, "isPartOf") {
                Some(v) if truthy(v) => py_str(v)?,
                _ => String::new(),
            };
            return Ok(Event::Warcinfo(part));
        }
        Some(Value::String(k)) if k == "response" => {}
        Some(Value::String(k)) => {
            return Ok(Event::Skipped(match k.as_str() {
                "request" => "request",
                "metadata" => "metadata",
                _ => "other_record_type",
            }))
        }
        Some(Value::Array(_)) | Some(Value::Object(_)) => return Err(Stop::Malformed),
        Some(_) => return Ok(Event::Skipped("other_record_type")),
    }
    let url = match get(warc, "WARC-Target-URI") {
        Some(v) if truthy(v) => py_str(v)?,
        _ => String::new(),
    };
    let url = url.trim_matches(|c| c == '<' || c == '>' || c == ' ').to_string();
    if url.is_empty() {
        return Ok(Event::Skipped("no_target_uri"));
    }
    let payload = or_dict(payload)?;
    let response = or_dict(get(payload, "HTTP-Response-Metadata"))?;
    let message = or_dict(get(response, "Response-Message"))?;
    let status = match get(message, "Status") {
        None => String::new(),
        Some(v) => py_str(v)?,
    };
    let headers = match get(response, "Headers") {
        None => None,
        Some(v) if !truthy(v) => None,
        Some(Value::Object(h)) => Some(h),
        Some(_) => return Err(Stop::Malformed), // _headers: TypeError
    };
    let date = match get(warc, "WARC-Date") {
        Some(v) if truthy(v) => match v {
            Value::String(s) => Some(s.clone()),
            _ => return Err(Stop::Malformed), // value.replace: AttributeError
        },
        _ => None,
    };
    let location = header_values(headers, "location")?;
    let location = location.first().cloned().unwrap_or_default();
    let first = status.chars().next().map(|c| c.to_string()).unwrap_or_default();
    if first == "3" && digits(&status) && !location.is_empty() {
        let code: i64 = status.parse().map_err(|_| Stop::Fallback)?;
        if code > i16::MAX as i64 {
            return Err(Stop::Fallback);
        }
        let location = crate::py::strip(&location).to_string();
        return Ok(Event::Redirect { url, date, status: code, location });
    }
    if status != "200" {
        return Ok(Event::Skipped(if digits(&first) {
            status_reason(&first)
        } else {
            "status_invalid"
        }));
    }
    let metadata = match get(response, "HTML-Metadata") {
        Some(Value::Object(m)) => m,
        _ => return Ok(Event::Skipped("not_html")),
    };
    let head = or_dict(metadata.get("Head"))?;
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
        Some(v) if truthy(v) => Some(py_str(v)?),
        _ => None,
    };
    // _head_links
    let mut links = Vec::new();
    for target in refreshes {
        links.push(declared(target, Kind::Refresh, robots));
    }
    for entry in dict_items(get(head, "Link"))? {
        if !entry.contains_key("url") {
            continue;
        }
        let is_link = matches!(entry.get("path"), Some(Value::String(p)) if p == "LINK@/href");
        if is_link && rules::rel_tokens(text(entry, "rel")?.as_deref()).canonical {
            links.push(declared(url_of(entry, unescape)?, Kind::Canonical, robots));
        }
    }
    // _links
    for entry in dict_items(metadata.get("Links"))? {
        let kind = match entry.get("path") {
            Some(Value::String(p)) if p == "A@/href" => Kind::A,
            Some(Value::String(p)) if p == "AREA@/href" => Kind::Area,
            _ => continue, // str() of anything else is no link path
        };
        if !entry.contains_key("url") {
            continue;
        }
        let rel = match entry.get("rel") {
            Some(v) if truthy(v) => rules::rel_tokens(Some(&py_str(v)?)),
            _ => rules::Rel::default(),
        };
        let raw_text = entry.get(if kind == Kind::Area { "alt" } else { "text" });
        let anchor = match raw_text {
            Some(v) if truthy(v) => anchor_text(&py_str(v)?),
            _ => String::new(),
        };
        let href = url_of(entry, unescape)?;
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

fn declared(href: String, kind: Kind, robots: bool) -> RawLink {
    RawLink {
        href,
        anchor: String::new(),
        kind,
        nofollow: robots,
        ugc: false,
        sponsored: false,
        context: Context::Head,
    }
}

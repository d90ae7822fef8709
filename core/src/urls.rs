//! pipeline/urls.py: resolution with ada (the same ada as the Python binding: 4.0.0) and
//! the host rules of DESIGN.md, with the same reject reasons.

pub const UNSUPPORTED_SCHEME: &str = "unsupported_scheme";
pub const INVALID_URL: &str = "invalid_url";
pub const IP_HOST: &str = "ip_host";
pub const SINGLE_LABEL_HOST: &str = "single_label_host";
pub const INVALID_HOST: &str = "invalid_host";
pub const HOST_TOO_LONG: &str = "host_too_long";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub url: String,
    pub host_start: usize,
    pub host_end: usize,
    /// The host when it is not a slice of `url` (urls.py's root-relative fast path pairs the
    /// page's host with a URL that spells its origin as the base does).
    pub own_host: Option<String>,
}

impl Resolved {
    pub fn host(&self) -> &str {
        match &self.own_host {
            Some(h) => h,
            None => &self.url[self.host_start..self.host_end],
        }
    }

    fn with_host(url: String, host: &str) -> Self {
        Resolved { url, host_start: 0, host_end: 0, own_host: Some(host.to_string()) }
    }
}

pub type Resolution = Result<Resolved, &'static str>;

fn is_ipv4(host: &[u8]) -> bool {
    // ^\d{1,3}(?:\.\d{1,3}){3}$ (a host here is ASCII; re's \d on non-ASCII digits cannot
    // occur in a serialised host)
    let mut parts = 0;
    for part in host.split(|&b| b == b'.') {
        parts += 1;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
    }
    parts == 4
}

fn label_ok(label: &[u8]) -> bool {
    // ^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$
    let n = label.len();
    if n == 0 || n > 63 {
        return false;
    }
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    if !edge(label[0]) || !edge(label[n - 1]) {
        return false;
    }
    label.iter().all(|&b| edge(b) || b == b'-')
}

/// ``host_reject_reason``.
pub fn host_reject_reason(host: &str) -> Option<&'static str> {
    let h = host.as_bytes();
    if h.first() == Some(&b'[') || is_ipv4(h) {
        return Some(IP_HOST);
    }
    let chars = if host.is_ascii() { host.len() } else { host.chars().count() };
    if chars > 253 {
        return Some(HOST_TOO_LONG);
    }
    let mut labels = 0;
    let mut bad = false;
    for label in h.split(|&b| b == b'.') {
        labels += 1;
        if label.is_empty() {
            return Some(INVALID_HOST);
        }
        if !label_ok(label) {
            bad = true;
        }
    }
    if labels < 2 {
        return Some(SINGLE_LABEL_HOST);
    }
    if bad {
        return Some(INVALID_HOST);
    }
    None
}

/// ``_validated_href``: a serialised URL checked and cut to what the graph stores.
pub fn validated_href(href: &str) -> Resolution {
    let start = if href.starts_with("https://") {
        8
    } else if href.starts_with("http://") {
        7
    } else {
        return Err(UNSUPPORTED_SCHEME);
    };
    let b = href.as_bytes();
    let mut end = b.len();
    for delimiter in [b'/', b'?', b'#'] {
        if let Some(i) = b[start..end].iter().position(|&c| c == delimiter) {
            end = start + i;
        }
    }
    let host_start = match b[start..end].iter().rposition(|&c| c == b'@') {
        Some(i) => start + i + 1,
        None => start,
    };
    if b.get(host_start) == Some(&b'[') {
        return Err(IP_HOST);
    }
    let host_end = match b[host_start..end].iter().position(|&c| c == b':') {
        Some(i) => host_start + i,
        None => end,
    };
    let mut host = &href[host_start..host_end];
    let trailing_dot = host.ends_with('.');
    if trailing_dot {
        host = &host[..host.len() - 1];
    }
    if let Some(reason) = host_reject_reason(host) {
        return Err(reason);
    }
    let mut url = match b[end..].iter().position(|&c| c == b'#') {
        Some(i) => href[..end + i].to_string(),
        None => href.to_string(),
    };
    let mut host_stop = host_end;
    if trailing_dot {
        url.remove(host_end - 1);
        host_stop -= 1;
    }
    Ok(Resolved { url, host_start, host_end: host_stop, own_host: None })
}

#[inline]
fn plain_path_char(b: u8) -> bool {
    // [A-Za-z0-9\-._~!$&()*+,;=:@%/]
    b.is_ascii_alphanumeric() || b"-._~!$&()*+,;=:@%/".contains(&b)
}

/// urls.py's ``_PLAIN_PATH`` followed by ``(?:#|$)`` at `start`: the end of the path and
/// query, or None. (``$`` also matches before a final newline, as in Python.)
fn plain_path_end(b: &[u8], start: usize) -> Option<usize> {
    if b.get(start) != Some(&b'/') {
        return None;
    }
    let mut i = start + 1;
    while i < b.len() && plain_path_char(b[i]) {
        i += 1;
    }
    if b.get(i) == Some(&b'?') {
        i += 1;
        while i < b.len() && (plain_path_char(b[i]) || b[i] == b'?') {
            i += 1;
        }
    }
    let at_end = i == b.len() || (i + 1 == b.len() && b[i] == b'\n');
    if at_end || b[i] == b'#' {
        Some(i)
    } else {
        None
    }
}

/// urls.py's ``_DOT_SEGMENT``: "/." or "%2e" (any case).
fn has_dot_segment(b: &[u8]) -> bool {
    b.windows(2).any(|w| w == b"/.")
        || b.windows(3).any(|w| w[0] == b'%' && w[1] == b'2' && (w[2] | 0x20) == b'e')
}

/// urls.py's ``_PLAIN_ABSOLUTE`` host: ``(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*`` in full.
fn plain_host(h: &[u8]) -> bool {
    let mut labels = 0;
    let mut last: &[u8] = &[];
    for label in h.split(|&c| c == b'.') {
        if label.is_empty() || !label.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
            return false;
        }
        labels += 1;
        last = label;
    }
    labels >= 2 && last[0].is_ascii_lowercase()
}

/// urls.py's ``_origin(base)``: the base up to its path, and the host of that origin when
/// it validates. Cached for the last base (a page's links share one).
struct Origin {
    base: String,
    origin: String,
    host: Option<String>,
}

impl Origin {
    fn of(base: &str) -> Origin {
        let origin_end = base.find("//").and_then(|i| base[i + 2..].find('/').map(|j| i + 2 + j));
        let origin = match origin_end {
            Some(e) if e > 0 => &base[..e],
            _ => base,
        };
        let host = validated_href(&format!("{origin}/")).ok().map(|page| page.host().to_string());
        Origin { base: base.to_string(), origin: origin.to_string(), host }
    }
}

thread_local! {
    static ORIGIN: std::cell::RefCell<Option<Origin>> = const { std::cell::RefCell::new(None) };
}

/// ``resolve_link(href, base)``, with urls.py's two fast paths for links already in
/// WHATWG's serialised form (which tests/test_properties.py checks against ada), then ada.
pub fn resolve_link(href: &str, base: &str) -> Resolution {
    let b = href.as_bytes();
    if href.starts_with("http://") || href.starts_with("https://") {
        let start = if b[4] == b's' { 8 } else { 7 };
        let host_end = b[start..]
            .iter()
            .position(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.'))
            .map(|i| start + i)
            .unwrap_or(b.len());
        if plain_host(&b[start..host_end]) {
            if let Some(end) = plain_path_end(b, host_end) {
                if !href.contains("xn--") && !has_dot_segment(&b[host_end..end]) {
                    let host = &href[start..host_end];
                    return match host_reject_reason(host) {
                        Some(reason) => Err(reason),
                        None => Ok(Resolved { url: href[..end].to_string(), host_start: start, own_host: None,
                                              host_end }),
                    };
                }
            }
        }
    } else if b.first() == Some(&b'/') && b.get(1) != Some(&b'/') {
        if let Some(end) = plain_path_end(b, 0) {
            if !has_dot_segment(&b[..end]) {
                if let Some(resolved) = ORIGIN.with(|cache| {
                    let mut cache = cache.borrow_mut();
                    if cache.as_ref().map(|c| c.base.as_str()) != Some(base) {
                        *cache = Some(Origin::of(base));
                    }
                    let origin = cache.as_ref().unwrap();
                    origin.host.as_ref().map(|host| {
                        let mut url = String::with_capacity(origin.origin.len() + end);
                        url.push_str(&origin.origin);
                        url.push_str(&href[..end]);
                        Resolved::with_host(url, host)
                    })
                }) {
                    return Ok(resolved);
                }
            }
        }
    }
    match ada_url::Url::parse(href, Some(base)) {
        Ok(url) => validated_href(url.href()),
        Err(_) => Err(INVALID_URL),
    }
}

/// ``resolve_page_url``.
pub fn resolve_page_url(url: &str) -> Resolution {
    match ada_url::Url::parse(url, None) {
        Ok(parsed) => validated_href(parsed.href()),
        Err(_) => Err(INVALID_URL),
    }
}

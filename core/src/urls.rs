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
}

impl Resolved {
    pub fn host(&self) -> &str {
        &self.url[self.host_start..self.host_end]
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
    if host.chars().count() > 253 {
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
    Ok(Resolved { url, host_start, host_end: host_stop })
}

/// ``resolve_link(href, base)``: join with ada, then validate. (The Python path's fast
/// paths for plain links are checked against ada by tests/test_properties.py.)
pub fn resolve_link(href: &str, base: &str) -> Resolution {
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

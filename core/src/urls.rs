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

/// A byte's part in a host label: ``[a-z0-9_]`` may start, end or fill one, '-' only fill
/// one, anything else (a '.' aside) makes the label invalid.
const LABEL_EDGE: u8 = 1;
const LABEL_INNER: u8 = 2;
const LABEL_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' {
            table[b] = LABEL_EDGE | LABEL_INNER;
        } else if c == b'-' {
            table[b] = LABEL_INNER;
        }
        b += 1;
    }
    table
};

/// ``host_reject_reason``. One pass over the labels: each must match
/// ``^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$``; an empty label rejects at once, a bad
/// one only once the host is known to have two labels or more.
pub fn host_reject_reason(host: &str) -> Option<&'static str> {
    let h = host.as_bytes();
    // an IPv4 address ends with a digit: the full check only then
    if h.first() == Some(&b'[') || (h.last().is_some_and(u8::is_ascii_digit) && is_ipv4(h)) {
        return Some(IP_HOST);
    }
    // code points, not bytes (there are never more code points than bytes)
    if h.len() > 253 && host.chars().count() > 253 {
        return Some(HOST_TOO_LONG);
    }
    let mut labels = 0;
    let mut bad = false;
    let mut start = 0;
    loop {
        let end = match memchr::memchr(b'.', &h[start..]) {
            Some(i) => start + i,
            None => h.len(),
        };
        let label = &h[start..end];
        labels += 1;
        match label {
            [] => return Some(INVALID_HOST),
            [first, inner @ .., last] => {
                bad |= label.len() > 63
                    || LABEL_BYTES[*first as usize] & LABEL_BYTES[*last as usize] & LABEL_EDGE == 0
                    || inner.iter().any(|&c| LABEL_BYTES[c as usize] & LABEL_INNER == 0);
            }
            [only] => bad |= LABEL_BYTES[*only as usize] & LABEL_EDGE == 0,
        }
        if end == h.len() {
            break;
        }
        start = end + 1;
    }
    if labels < 2 {
        return Some(SINGLE_LABEL_HOST);
    }
    if bad {
        return Some(INVALID_HOST);
    }
    None
}

/// Where `_validated_href` cuts a serialised URL: the host, and the end of what is kept.
struct Cut {
    host_start: usize,
    /// The end of the host, a trailing dot excluded.
    host_end: usize,
    /// The end of the URL without its fragment.
    end: usize,
    /// Whether the host ends with a dot (removed from the stored URL).
    trailing_dot: bool,
}

/// ``_validated_href``'s checks; `host_ok` is the host rules (``host_reject_reason``).
fn cut(href: &str, host_ok: &mut impl FnMut(&str) -> Option<&'static str>)
    -> Result<Cut, &'static str> {
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
    let mut host_end = match b[host_start..end].iter().position(|&c| c == b':') {
        Some(i) => host_start + i,
        None => end,
    };
    let trailing_dot = href[host_start..host_end].ends_with('.');
    if trailing_dot {
        host_end -= 1;
    }
    if let Some(reason) = host_ok(&href[host_start..host_end]) {
        return Err(reason);
    }
    let end = match memchr::memchr(b'#', &b[end..]) {
        Some(i) => end + i,
        None => b.len(),
    };
    Ok(Cut { host_start, host_end, end, trailing_dot })
}

impl Cut {
    /// The stored URL written to `out` (cleared first); its host is `out[host_start..host_end]`.
    fn write(&self, href: &str, out: &mut String) {
        out.clear();
        if self.trailing_dot {
            out.push_str(&href[..self.host_end]);
            out.push_str(&href[self.host_end + 1..self.end]);
        } else {
            out.push_str(&href[..self.end]);
        }
    }
}

/// ``_validated_href``: a serialised URL checked and cut to what the graph stores.
pub fn validated_href(href: &str) -> Resolution {
    let cut = cut(href, &mut host_reject_reason)?;
    let mut url = String::with_capacity(cut.end);
    cut.write(href, &mut url);
    Ok(Resolved { url, host_start: cut.host_start, host_end: cut.host_end, own_host: None })
}

/// ``[A-Za-z0-9\-._~!$&()*+,;=:@%/]``, as a table.
const PLAIN_PATH_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let others = b"-._~!$&()*+,;=:@%/";
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
};

#[inline]
fn plain_path_char(b: u8) -> bool {
    PLAIN_PATH_BYTES[b as usize]
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
    // one pass (paths are short: a loop beats searching twice)
    (0..b.len()).any(|i| match b[i] {
        b'/' => b.get(i + 1) == Some(&b'.'),
        b'%' => b.get(i + 1) == Some(&b'2') && b.get(i + 2).is_some_and(|&c| c | 0x20 == b'e'),
        _ => false,
    })
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
/// it validates.
struct Origin {
    origin_end: usize,
    host: Option<String>,
}

impl Origin {
    fn of(base: &str) -> Origin {
        let origin_end = base.find("//").and_then(|i| base[i + 2..].find('/').map(|j| i + 2 + j));
        let origin_end = match origin_end {
            Some(e) if e > 0 => e,
            _ => base.len(),
        };
        let origin = &base[..origin_end];
        let host = validated_href(&format!("{origin}/")).ok().map(|page| page.host().to_string());
        Origin { origin_end, host }
    }
}

/// The base URL of a page's links, with its origin worked out once, when first needed.
pub struct Base<'b> {
    url: &'b str,
    origin: Option<Origin>,
}

impl<'b> Base<'b> {
    pub fn new(url: &'b str) -> Self {
        Base { url, origin: None }
    }

    fn origin(&mut self) -> &Origin {
        let url = self.url;
        self.origin.get_or_insert_with(|| Origin::of(url))
    }
}

/// "xn--" anywhere in an href keeps it off the fast path (the searcher built once).
static PUNYCODE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"xn--"));

/// A resolved link: its URL and host, borrowed from the href or from the [`Resolver`].
pub struct Target<'a> {
    pub url: &'a str,
    pub host: &'a str,
}

/// ``resolve_link`` without a string of its own per link: what a link resolves to is a slice
/// of its href (the fast path) or is written to a buffer reused from link to link. The last
/// host that passed the host rules is remembered: a page's links share few hosts.
#[derive(Default)]
pub struct Resolver {
    buffer: String,
    host_passed: String,
}

impl Resolver {
    /// ``host_reject_reason``, remembering the last host that passed.
    fn host_reject_reason(host_passed: &mut String, host: &str) -> Option<&'static str> {
        if host == host_passed.as_str() && !host.is_empty() {
            return None;
        }
        let reason = host_reject_reason(host);
        if reason.is_none() {
            host_passed.clear();
            host_passed.push_str(host);
        }
        reason
    }

    /// ``resolve_link(href, base)``, with urls.py's two fast paths for links already in
    /// WHATWG's serialised form (which tests/test_properties.py checks against ada), then
    /// ada.
    pub fn resolve<'a>(&'a mut self, href: &'a str, base: &mut Base<'_>)
        -> Result<Target<'a>, &'static str> {
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
                    if PUNYCODE.find(b).is_none() && !has_dot_segment(&b[host_end..end])
                    {
                        let host = &href[start..host_end];
                        return match Self::host_reject_reason(&mut self.host_passed, host) {
                            Some(reason) => Err(reason),
                            None => Ok(Target { url: &href[..end], host }),
                        };
                    }
                }
            }
        } else if b.first() == Some(&b'/') && b.get(1) != Some(&b'/') {
            if let Some(end) = plain_path_end(b, 0) {
                if !has_dot_segment(&b[..end]) {
                    let base_url = base.url;
                    let origin = base.origin();
                    if let Some(host) = &origin.host {
                        // the URL, then its host, in the buffer
                        self.buffer.clear();
                        self.buffer.push_str(&base_url[..origin.origin_end]);
                        self.buffer.push_str(&href[..end]);
                        let url_len = self.buffer.len();
                        self.buffer.push_str(host);
                        let (url, host) = self.buffer.split_at(url_len);
                        return Ok(Target { url, host });
                    }
                }
            }
        }
        match ada_url::Url::parse(href, Some(base.url)) {
            Ok(url) => {
                let serialised = url.href();
                let host_passed = &mut self.host_passed;
                let cut = cut(serialised, &mut |host| Self::host_reject_reason(host_passed, host))?;
                cut.write(serialised, &mut self.buffer);
                let host = &self.buffer[cut.host_start..cut.host_end];
                Ok(Target { url: &self.buffer, host })
            }
            Err(_) => Err(INVALID_URL),
        }
    }
}

/// ``resolve_link(href, base)``.
pub fn resolve_link(href: &str, base: &str) -> Resolution {
    let mut resolver = Resolver::default();
    let target = resolver.resolve(href, &mut Base::new(base))?;
    let host = target.host.to_string();
    Ok(Resolved::with_host(target.url.to_string(), &host))
}

/// ``resolve_page_url``.
pub fn resolve_page_url(url: &str) -> Resolution {
    match ada_url::Url::parse(url, None) {
        Ok(parsed) => validated_href(parsed.href()),
        Err(_) => Err(INVALID_URL),
    }
}

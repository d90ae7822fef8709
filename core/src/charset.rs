//! The charset labels of extract.py's ``detect_charset``: the two regexes matched by hand.
//! The labels are then looked up with Python's own codecs (lib.rs), as extract.py does.

use crate::py;

/// ``charset\s*=\s*["']?([\w.:-]+)`` (re.I) searched in a header value: the group, or None.
pub fn label_in_header(value: &str) -> Option<&str> {
    let bytes = value.as_bytes();
    for (start, _) in value.char_indices() {
        let Some(after) = charset_word(value, start) else { continue };
        let mut i = skip(value, after, py::is_space);
        if bytes.get(i) != Some(&b'=') {
            continue;
        }
        i = skip(value, i + 1, py::is_space);
        if matches!(bytes.get(i), Some(b'"') | Some(b'\'')) {
            i += 1;
        }
        let end = skip(value, i, |c| c == '.' || c == ':' || c == '-' || py::is_re_word(c));
        if end > i {
            return Some(&value[i..end]);
        }
    }
    None
}

/// "charset" at `start`, case-insensitive as Python's re.I has it (where 'ſ' is an 's'):
/// the index after it.
fn charset_word(s: &str, start: usize) -> Option<usize> {
    let mut chars = s[start..].char_indices();
    for want in "charset".chars() {
        let (_, c) = chars.next()?;
        let ok = c.eq_ignore_ascii_case(&want) || (want == 's' && c == '\u{17f}');
        if !ok {
            return None;
        }
    }
    Some(match chars.next() {
        Some((i, _)) => start + i,
        None => s.len(),
    })
}

fn skip(s: &str, from: usize, pred: impl Fn(char) -> bool) -> usize {
    let mut i = from;
    for c in s[from..].chars() {
        if !pred(c) {
            break;
        }
        i += c.len_utf8();
    }
    i
}

#[inline]
fn ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

#[inline]
fn ascii_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b':' || b == b'-'
}

/// The label ``<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)`` (bytes, re.I) finds in ``html``
/// (the first 4096 bytes): for the leftmost ``<meta`` that matches, the rightmost
/// ``charset`` before the tag's first ``>`` that is followed by a label (the greedy
/// ``[^>]+`` backtracks from the right).
pub fn label_in_html(html: &[u8]) -> Option<&[u8]> {
    let html = &html[..html.len().min(4096)];
    let mut from = 0;
    while let Some(found) = memchr::memchr(b'<', &html[from..]) {
        let p = from + found;
        from = p + 1;
        if html.len() < p + 5 || !html[p + 1..p + 5].eq_ignore_ascii_case(b"meta") {
            continue;
        }
        let region_start = p + 5;
        let region_end = memchr::memchr(b'>', &html[region_start..])
            .map(|i| region_start + i)
            .unwrap_or(html.len());
        // `[^>]+` takes at least one byte, so "charset" starts at region_start + 1 or later.
        let mut q = region_end;
        while q > region_start {
            q -= 1;
            if q < region_start + 1 {
                break;
            }
            if let Some(label) = tail_at(html, q) {
                return Some(label);
            }
        }
    }
    None
}

fn tail_at(html: &[u8], q: usize) -> Option<&[u8]> {
    if html.len() < q + 7 || !html[q..q + 7].eq_ignore_ascii_case(b"charset") {
        return None;
    }
    let mut i = q + 7;
    while i < html.len() && ascii_space(html[i]) {
        i += 1;
    }
    if html.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while i < html.len() && ascii_space(html[i]) {
        i += 1;
    }
    if matches!(html.get(i), Some(b'"') | Some(b'\'')) {
        i += 1;
    }
    while i < html.len() && ascii_space(html[i]) {
        i += 1;
    }
    let start = i;
    while i < html.len() && ascii_word(html[i]) {
        i += 1;
    }
    if i > start {
        Some(&html[start..i])
    } else {
        None
    }
}

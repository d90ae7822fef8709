//! pipeline/rules.py: robots tokens, rel tokens and flags, canonical, meta refresh.

use crate::py;

/// ``says_nofollow``: the value lowercased, split on ``[\s,:]+``, holds nofollow or none.
pub fn says_nofollow(value: &str) -> bool {
    value
        .split(|c: char| c == ',' || c == ':' || py::is_space(c))
        .any(|t| t.eq_ignore_ascii_case("nofollow") || t.eq_ignore_ascii_case("none"))
}

/// ``(name or "").strip().lower() == word``.
pub fn is_word(value: Option<&str>, word: &str) -> bool {
    py::strip(value.unwrap_or("")).eq_ignore_ascii_case(word)
}

/// ``read_meta``: (robots nofollow, refresh target).
pub fn read_meta(
    name: Option<&str>,
    http_equiv: Option<&str>,
    content: Option<&str>,
) -> (bool, Option<String>) {
    if is_word(name, "robots") {
        return (says_nofollow(content.unwrap_or("")), None);
    }
    if is_word(http_equiv, "refresh") {
        return (false, refresh_url(content.unwrap_or("")));
    }
    (false, None)
}

/// ``refresh_url``: the regex ``^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(["']?)(.*)$`` (re.I,
/// re.S) matched by hand: every part is optional and the tail always matches, so taking each
/// part greedily is the match the regex engine finds.
pub fn refresh_url(content: &str) -> Option<String> {
    let s = content;
    let mut i = skip(s, 0, py::is_space);
    i = skip(s, i, |c| c == '.' || py::is_re_digit(c));
    i = skip(s, i, py::is_space);
    if s[i..].starts_with(';') || s[i..].starts_with(',') {
        i += 1;
    }
    i = skip(s, i, py::is_space);
    if s.len() >= i + 3 && s.as_bytes()[i..i + 3].eq_ignore_ascii_case(b"url") {
        let j = skip(s, i + 3, py::is_space);
        if s[j..].starts_with('=') {
            i = skip(s, j + 1, py::is_space);
        }
    }
    let mut rest = &s[i..];
    let quote = rest.chars().next().filter(|&c| c == '"' || c == '\'');
    if let Some(q) = quote {
        rest = &rest[1..];
        if let Some(end) = rest.find(q) {
            rest = &rest[..end];
        }
    }
    let url = py::strip(rest);
    if url.is_empty() {
        None
    } else {
        Some(url.to_string())
    }
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

/// The flags a link gets from ``rel_tokens(rel)``: (nofollow token, ugc, sponsored).
#[derive(Default, Clone, Copy)]
pub struct Rel {
    pub nofollow: bool,
    pub ugc: bool,
    pub sponsored: bool,
    pub canonical: bool,
}

/// ``rel_tokens``: ``value.lower().split()`` (empty for None or "").
pub fn rel_tokens(value: Option<&str>) -> Rel {
    let mut rel = Rel::default();
    if let Some(v) = value {
        for t in py::split(v) {
            if t.eq_ignore_ascii_case("nofollow") {
                rel.nofollow = true;
            } else if t.eq_ignore_ascii_case("ugc") {
                rel.ugc = true;
            } else if t.eq_ignore_ascii_case("sponsored") {
                rel.sponsored = true;
            } else if t.eq_ignore_ascii_case("canonical") {
                rel.canonical = true;
            }
        }
    }
    rel
}

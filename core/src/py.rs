//! Python's character classes and the few string operations of the Python path that
//! depend on them (``str.split``, ``str.strip``, ``re``'s ``\s \d \w``), exactly.

use crate::pychars;

#[inline]
fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let cp = c as u32;
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// ``str.isspace`` (also ``re``'s ``\s`` for str patterns: the same table).
#[inline]
pub fn is_space(c: char) -> bool {
    // pychars::SPACE spelled out (tests check the two agree)
    matches!(c, '\t'..='\r' | '\x1c'..=' ' | '\u{85}' | '\u{a0}' | '\u{1680}'
        | '\u{2000}'..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}'
        | '\u{3000}')
}

/// ``re``'s ``\d`` for str patterns (Unicode decimal digits).
#[inline]
pub fn is_re_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        in_table(pychars::RE_DIGIT, c)
    }
}

/// ``re``'s ``\w`` for str patterns.
#[inline]
pub fn is_re_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        in_table(pychars::RE_WORD, c)
    }
}

/// ``str.isdigit`` of one character.
#[inline]
pub fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        in_table(pychars::ISDIGIT, c)
    }
}

/// ``str.isprintable`` of one character.
#[inline]
pub fn is_printable(c: char) -> bool {
    in_table(pychars::PRINTABLE, c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn is_collapsed_is_collapse_into_unchanged() {
        let cases = ["", " ", "a", "a b", "a  b", " a", "a ", "a\tb", "a\x1cb", "é b", "é  b",
                     "é\u{a0}b", "é\u{3000}", "abc", "ab c d", "é", "a\x01b", "a \x01 b",
                     "\x01", "a\x1f", "ab  c\x01", " a\x01"];
        for text in cases {
            for limit in [0, 1, 2, 3, 4, 100] {
                let mut out = String::new();
                super::collapse_into(text, limit, &mut out);
                assert_eq!(super::is_collapsed(text, limit), out == text, "{text:?} {limit}");
            }
        }
    }

    #[test]
    fn is_space_is_the_table() {
        for cp in 0..0x110000u32 {
            if let Some(c) = char::from_u32(cp) {
                assert_eq!(super::is_space(c), super::in_table(crate::pychars::SPACE, c), "{cp:x}");
            }
        }
    }
}

/// ``str.strip()``.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// ``str.rstrip()``.
pub fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

/// ``str.split()`` (no argument).
pub fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|t| !t.is_empty())
}

/// ``" ".join(text.split())[:limit]``: whitespace collapsed, trimmed, cut to ``limit``
/// code points, appended to ``out``.
pub fn collapse_into(text: &str, limit: usize, out: &mut String) {
    if text.is_ascii() {
        // ASCII: whitespace is \t \n \x0b \x0c \r \x1c-\x1f and space; bytes are chars
        let start = out.len();
        for word in text
            .split(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c' | '\x1c'..='\x1f'))
            .filter(|w| !w.is_empty())
        {
            if out.len() > start {
                out.push(' ');
            }
            out.push_str(word);
            if out.len() - start >= limit {
                out.truncate(start + limit);
                break;
            }
        }
        return;
    }
    let start = out.len();
    let mut count = 0usize;
    for word in split(text) {
        if count >= limit {
            break;
        }
        if out.len() > start {
            out.push(' ');
            count += 1;
            if count >= limit {
                break;
            }
        }
        for c in word.chars() {
            if count >= limit {
                break;
            }
            out.push(c);
            count += 1;
        }
    }
}

static DOUBLE_SPACE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"  "));

/// Whether ``" ".join(text.split())[:limit] == text``: no whitespace at either end, each
/// run of whitespace a single ' ', at most ``limit`` code points.
pub fn is_collapsed(text: &str, limit: usize) -> bool {
    if text.is_ascii() {
        let b = text.as_bytes();
        if b.len() > limit {
            return false;
        }
        // Most anchors have no control character: then whitespace is only ' ', and passes
        // that vectorise say it all.
        let controls = b.iter().fold(false, |any, &c| any | (c < b' '));
        if !controls {
            return b.first() != Some(&b' ')
                && b.last() != Some(&b' ')
                && DOUBLE_SPACE.find(b).is_none();
        }
        let mut previous_space = true; // no whitespace at the start
        for &c in b {
            // ASCII whitespace: \t \n \x0b \x0c \r \x1c-\x1f and space
            if matches!(c, b'\t'..=b'\r' | 0x1c..=b' ') {
                if c != b' ' || previous_space {
                    return false;
                }
                previous_space = true;
            } else {
                previous_space = false;
            }
        }
        return !previous_space || b.is_empty();
    }
    let mut count = 0usize;
    let mut previous_space = true;
    for c in text.chars() {
        count += 1;
        if count > limit {
            return false;
        }
        if is_space(c) {
            if c != ' ' || previous_space {
                return false;
            }
            previous_space = true;
        } else {
            previous_space = false;
        }
    }
    !previous_space
}

/// The first ``n`` code points of ``s``.
pub fn prefix_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// ``len(s)`` of a Python str: code points.
#[inline]
pub fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// ``str.lower()`` as far as the Python path's comparisons can tell: tokens are only ever
/// compared with ASCII words, and no non-ASCII character lowers to one of their letters
/// ('K' KELVIN SIGN lowers to 'k', which none of them has), so ASCII lowering suffices.
pub fn lower_for_ascii_compare(s: &str) -> String {
    s.to_ascii_lowercase()
}

//! pipeline/domains.py: the Public Suffix List's algorithm over the bundled list, with the
//! ICANN section only unless `private`.

use std::rc::Rc;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

const PRIVATE_START: &str = "// ===BEGIN PRIVATE DOMAINS===";

pub struct PublicSuffixList {
    rules: HashSet<String>,
    exceptions: HashSet<String>,
    cache: HashMap<Box<str>, Rc<str>>,
}

/// ``_to_ascii``: ada's IDNA ToASCII, or the name itself when that fails (empty).
pub fn to_ascii(name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let converted = ada_url::Idna::ascii(name);
    if converted.is_empty() {
        name.to_string()
    } else {
        converted
    }
}

impl PublicSuffixList {
    pub fn from_text(text: &str, private: bool) -> Self {
        let mut rules = HashSet::default();
        let mut exceptions = HashSet::default();
        // str.splitlines() splits on more than \n; the list is plain \n text, but follow it
        for line in crate::py_splitlines(text) {
            if line.starts_with(PRIVATE_START) && !private {
                break;
            }
            let stripped = crate::py::strip(line);
            let rule = stripped.split(' ').next().unwrap_or("");
            if rule.is_empty() || rule.starts_with("//") {
                continue;
            }
            if let Some(rest) = rule.strip_prefix('!') {
                exceptions.insert(to_ascii(&crate::py_lower(rest)));
            } else if let Some(rest) = rule.strip_prefix("*.") {
                rules.insert(format!("*.{}", to_ascii(&crate::py_lower(rest))));
            } else {
                rules.insert(to_ascii(&crate::py_lower(rule)));
            }
        }
        PublicSuffixList { rules, exceptions, cache: HashMap::default() }
    }

    pub fn public_suffix<'h>(&self, host: &'h str) -> &'h str {
        // labels[i:] joined is the suffix of host after the i-th dot
        let mut starts = vec![0usize];
        for (i, b) in host.bytes().enumerate() {
            if b == b'.' {
                starts.push(i + 1);
            }
        }
        let mut key = String::new();
        for (k, &s) in starts.iter().enumerate() {
            let candidate = &host[s..];
            if self.exceptions.contains(candidate) {
                return match starts.get(k + 1) {
                    Some(&next) => &host[next..],
                    None => "",
                };
            }
            if self.rules.contains(candidate) {
                return candidate;
            }
            if let Some(&next) = starts.get(k + 1) {
                key.clear();
                key.push_str("*.");
                key.push_str(&host[next..]);
                if self.rules.contains(key.as_str()) {
                    return candidate;
                }
            }
        }
        &host[*starts.last().unwrap()..]
    }

    /// ``registered_domain`` (for any host string, as the conformance suite gives).
    pub fn registered_domain(&self, host: &str) -> Option<String> {
        let host = to_ascii(&crate::py_lower(host));
        if host.is_empty() || host.starts_with('.') || host.contains("..") {
            return None;
        }
        let suffix = self.public_suffix(&host);
        if host == suffix {
            return None;
        }
        let rest = &host[..host.len() - suffix.len() - 1];
        let last = rest.rsplit('.').next().unwrap_or(rest);
        Some(format!("{last}.{suffix}"))
    }

    /// ``fold``: the registered domain, or the host itself when it is a public suffix.
    pub fn fold(&mut self, host: &str) -> Rc<str> {
        if let Some(found) = self.cache.get(host) {
            return found.clone();
        }
        let folded: Rc<str> = self.registered_domain(host).unwrap_or_else(|| host.to_string()).into();
        if self.cache.len() > 262_144 {
            self.cache.clear();
        }
        self.cache.insert(host.into(), folded.clone());
        folded
    }
}

//! pipeline/pages.py's ``_assemble``: a page's raw links -> its page row, its cross-host
//! link rows and its counters, in the same order and with the same counter keys (a key is
//! made when pages.py's Counter would make it, with 0 where it adds 0).

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrow_out::{LinksBuilder, PagesBuilder, Table};
use crate::extract::RawLink;
use crate::psl::PublicSuffixList;
use crate::py;
use crate::urls::{self, Resolved, Resolver};

#[derive(Clone, Copy)]
pub struct Limits {
    pub links_per_page: usize,
    pub url_chars: usize,
    pub anchor_chars: usize,
}

/// Counter keys in first-seen order, as a Python Counter keeps them.
#[derive(Default)]
pub struct Counters {
    index: HashMap<String, usize>,
    items: Vec<(String, i64)>,
}

impl Counters {
    pub fn add(&mut self, key: &str, n: i64) {
        match self.index.get(key) {
            Some(&i) => self.items[i].1 += n,
            None => {
                self.index.insert(key.to_string(), self.items.len());
                self.items.push((key.to_string(), n));
            }
        }
    }

    pub fn set(&mut self, key: &str, n: i64) {
        match self.index.get(key) {
            Some(&i) => self.items[i].1 = n,
            None => {
                self.index.insert(key.to_string(), self.items.len());
                self.items.push((key.to_string(), n));
            }
        }
    }

    pub fn merge(&mut self, other: &Counters) {
        for (k, v) in &other.items {
            self.add(k, *v);
        }
    }

    pub fn to_dict(&self, py: Python<'_>) -> PyResult<Py<PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.items {
            d.set_item(k, v)?;
        }
        Ok(d.unbind())
    }
}

pub struct PageIn {
    pub crawl: String,
    pub fetch_time: i64,
    pub status: i64,
    pub truncated: bool,
}

pub struct Source(pub Resolved);

#[derive(Default)]
pub struct Output {
    pub links: LinksBuilder,
    pub pages: PagesBuilder,
    pub counters: Counters,
}

impl Output {
    /// An output whose link columns have room for about `sizes` (the last batch's).
    pub fn with_capacity(sizes: &crate::arrow_out::Sizes) -> Self {
        Output { links: LinksBuilder::with_capacity(sizes), ..Output::default() }
    }

    pub fn finish(self, py: Python<'_>) -> PyResult<(Table, Table, Py<PyDict>)> {
        Ok((self.links.finish()?, self.pages.finish()?, self.counters.to_dict(py)?))
    }
}

pub struct Assembler {
    pub psl: PublicSuffixList,
    pub limits: Limits,
    resolver: Resolver,
}

impl Assembler {
    pub fn new(psl: PublicSuffixList, limits: Limits) -> Self {
        Assembler { psl, limits, resolver: Resolver::default() }
    }

    /// ``_assemble``; `counters` are the page's own so far, merged into `out` at the end.
    #[allow(clippy::too_many_arguments)]
    pub fn assemble(
        &mut self,
        page: &PageIn,
        source: Source,
        mut links: Vec<RawLink<'_>>,
        base_href: Option<String>,
        robots_nofollow: bool,
        mut counters: Counters,
        out: &mut Output,
    ) {
        let limits = self.limits;
        let src = source.0;
        let src_host = src.host().to_string();
        let src_domain = self.psl.fold(&src_host);
        counters.add("links_found", links.len() as i64);
        if links.len() > limits.links_per_page {
            counters.add("pages_over_link_limit", 1);
            counters.add("links_over_limit", (links.len() - limits.links_per_page) as i64);
            links.truncate(limits.links_per_page);
        }
        let base_href = base_href.and_then(|href| {
            self.resolver.resolve(&href, &mut urls::Base::new(&src.url)).ok()
                .map(|resolved| resolved.url.to_string())
        });
        let mut base = urls::Base::new(base_href.as_deref().unwrap_or(&src.url));
        let (mut internal, mut external, mut stored) = (0i64, 0i64, 0i64);
        let page_index = out.pages.len();
        for link in links {
            let target = match self.resolver.resolve(&link.href, &mut base) {
                Ok(target) => target,
                Err(reason) => {
                    counters.add(&format!("links_rejected_{reason}"), 1);
                    continue;
                }
            };
            if target.url.len() > limits.url_chars {
                // a serialised URL is ASCII: bytes are code points
                counters.add("links_rejected_url_too_long", 1);
                continue;
            }
            let dst_host = target.host;
            if dst_host == src_host {
                // the page's own host folds to the page's domain: internal, and not stored
                internal += 1;
                continue;
            }
            let dst_domain = self.psl.fold(dst_host);
            let is_external = dst_domain != src_domain;
            if is_external {
                external += 1;
            } else {
                internal += 1;
            }
            let mut anchor: &str = &link.anchor;
            if py::char_len(anchor) > limits.anchor_chars {
                counters.add("anchors_cut", 1);
                anchor = py::rstrip(py::prefix_chars(anchor, limits.anchor_chars));
            }
            out.links.push(
                page_index, &page.crawl, &src.url, &src_host, &src_domain, target.url,
                dst_host, &dst_domain, anchor, link.kind, link.context, link.nofollow, link.ugc,
                link.sponsored, is_external, page.fetch_time,
            );
            stored += 1;
        }
        counters.add("pages", 1);
        counters.add("links_resolved", internal + external);
        counters.add("links_stored", stored);
        out.pages.push(
            &page.crawl, &src.url, &src_host, &src_domain, page.fetch_time, page.status,
            internal, external, robots_nofollow, page.truncated,
        );
        out.counters.merge(&counters);
    }
}

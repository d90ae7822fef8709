//! The candidate table: HTML parsers, JSON parsers and URL parsers measured on the same
//! input, for speed and for agreement with the Python path.
//!
//!   cargo run --release --example candidates -- BODIES.bin EXPECTED.jsonl [WAT_PAYLOADS.bin]
//!
//! BODIES.bin: pages as u32-LE length + UTF-8 bytes (what Lexbor is given), EXPECTED.jsonl:
//! the Python path's links of each page ({"links": [[href, anchor, type, context, ...]]}),
//! WAT_PAYLOADS.bin: WAT metadata payloads, same framing. core/tools/dump_candidates.py
//! writes them from a generated WARC and WAT. Lexbor itself is measured from Python (it is
//! selectolax's library; bench/engines.py), so it is not here.

use std::collections::HashMap;
use std::time::Instant;

use backlinks_core::extract::anchor_text;

fn frames(path: &str) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).expect("read");
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= data.len() {
        let n = u32::from_le_bytes(data[i..i + 4].try_into().unwrap()) as usize;
        out.push(data[i + 4..i + 4 + n].to_vec());
        i += 4 + n;
    }
    out
}

type Link = (String, String, String, String); // href, anchor, type, context

fn expected(path: &str) -> Vec<Vec<Link>> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    let s = |i: usize| l[i].as_str().unwrap().to_string();
                    (s(0), s(1), s(2), s(3))
                })
                .collect()
        })
        .collect()
}

mod h5 {
    use super::*;
    use html5ever::tendril::TendrilSink;
    use markup5ever_rcdom::{Handle, NodeData, RcDom};

    fn attr(node: &Handle, name: &str) -> Option<String> {
        if let NodeData::Element { attrs, .. } = &node.data {
            for a in attrs.borrow().iter() {
                if a.name.prefix.is_none() && &*a.name.local == name {
                    return Some(a.value.to_string());
                }
            }
        }
        None
    }

    fn has(node: &Handle, name: &str) -> bool {
        if let NodeData::Element { attrs, .. } = &node.data {
            return attrs.borrow().iter().any(|a| &*a.name.local == name);
        }
        false
    }

    fn text(node: &Handle, out: &mut String) {
        for child in node.children.borrow().iter() {
            match &child.data {
                NodeData::Text { contents } => out.push_str(&contents.borrow()),
                NodeData::Element { .. } => text(child, out),
                _ => {}
            }
        }
    }

    fn first_img(node: &Handle) -> Option<Handle> {
        for child in node.children.borrow().iter() {
            if let NodeData::Element { name, .. } = &child.data {
                if &*name.local == "img" {
                    return Some(child.clone());
                }
            }
            if let Some(found) = first_img(child) {
                return Some(found);
            }
        }
        None
    }

    fn walk(node: &Handle, context: &str, out: &mut Vec<Link>) {
        let mut context = context.to_string();
        if let NodeData::Element { name, .. } = &node.data {
            let tag = &*name.local;
            let role_nav = attr(node, "role").is_some_and(|r| {
                r.split_ascii_whitespace().any(|t| t.eq_ignore_ascii_case("navigation"))
            });
            if matches!(tag, "nav" | "header" | "footer" | "aside") {
                context = tag.to_string();
            } else if role_nav {
                context = "nav".into();
            }
            match tag {
                "meta" => {
                    let n = has(node, "name") as usize + has(node, "http-equiv") as usize;
                    let (_, target) = backlinks_core::rules::read_meta(
                        attr(node, "name").as_deref(), attr(node, "http-equiv").as_deref(),
                        attr(node, "content").as_deref());
                    if let Some(t) = target {
                        for _ in 0..n {
                            out.push((t.clone(), String::new(), "refresh".into(), "head".into()));
                        }
                    }
                }
                "link" if has(node, "rel") && has(node, "href") => {
                    if backlinks_core::rules::rel_tokens(attr(node, "rel").as_deref()).canonical {
                        out.push((attr(node, "href").unwrap_or_default(), String::new(),
                                  "canonical".into(), "head".into()));
                    }
                }
                "area" if has(node, "href") => out.push((
                    attr(node, "href").unwrap_or_default(),
                    anchor_text(&attr(node, "alt").unwrap_or_default()),
                    "area".into(), context.clone())),
                "a" if has(node, "href") => {
                    let mut t = String::new();
                    text(node, &mut t);
                    let mut anchor = anchor_text(&t);
                    let mut kind = "a";
                    if anchor.is_empty() {
                        if let Some(img) = first_img(node) {
                            kind = "img";
                            anchor = anchor_text(&attr(&img, "alt").unwrap_or_default());
                        }
                    }
                    out.push((attr(node, "href").unwrap_or_default(), anchor, kind.into(),
                              context.clone()));
                }
                _ => {}
            }
        }
        for child in node.children.borrow().iter() {
            walk(child, &context, out);
        }
    }

    pub fn links(html: &[u8]) -> Vec<Link> {
        let text = String::from_utf8_lossy(html);
        let mut opts = html5ever::ParseOpts::default();
        opts.tree_builder.scripting_enabled = false; // as Lexbor's default
        let dom = html5ever::parse_document(RcDom::default(), opts).one(&*text);
        let mut out = Vec::new();
        walk(&dom.document, "body", &mut out);
        out
    }

    pub fn parse_only(html: &[u8]) {
        let text = String::from_utf8_lossy(html);
        let dom = html5ever::parse_document(RcDom::default(), Default::default()).one(&*text);
        std::hint::black_box(dom);
    }
}

mod lol {
    use super::*;
    use lol_html::{element, text, HtmlRewriter, Settings};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Streaming: no tree. A link's text is what comes between its start and end tags, its
    /// context the innermost container open: misnested markup is where it differs.
    pub fn links(html: &[u8]) -> Vec<Link> {
        struct St { out: Vec<Link>, open: Option<usize>, stack: Vec<String> }
        let st = Rc::new(RefCell::new(St { out: Vec::new(), open: None, stack: Vec::new() }));
        let (s1, s2, s3, s4) = (st.clone(), st.clone(), st.clone(), st.clone());
        let mut rewriter = HtmlRewriter::new(
            Settings::new()
                .append_element_content_handler(
                    element!("nav, header, footer, aside, [role~=navigation i]", move |el| {
                        let tag = el.tag_name();
                        let ctx = if matches!(tag.as_str(), "nav" | "header" | "footer" | "aside") { tag } else { "nav".into() };
                        s1.borrow_mut().stack.push(ctx);
                        let s = s1.clone();
                        if let Some(handlers) = el.end_tag_handlers() {
                            let h: lol_html::EndTagHandler<'static> = Box::new(move |_| { s.borrow_mut().stack.pop(); Ok(()) });
                            handlers.push(h);
                        }
                        Ok(())
                    }))
                .append_element_content_handler(
                    element!("a[href], area[href]", move |el| {
                        let href = el.get_attribute("href").unwrap_or_default();
                        let mut st = s2.borrow_mut();
                        let ctx = st.stack.last().cloned().unwrap_or_else(|| "body".into());
                        if el.tag_name() == "area" {
                            let alt = anchor_text(&el.get_attribute("alt").unwrap_or_default());
                            st.out.push((href, alt, "area".into(), ctx));
                        } else {
                            st.out.push((href, String::new(), "a".into(), ctx));
                            st.open = Some(st.out.len() - 1);
                            let s = s2.clone();
                            drop(st);
                            if let Some(handlers) = el.end_tag_handlers() {
                                let h: lol_html::EndTagHandler<'static> = Box::new(move |_| {
                                    let mut st = s.borrow_mut();
                                    if let Some(i) = st.open.take() {
                                        let a = anchor_text(&st.out[i].1);
                                        st.out[i].1 = a;
                                    }
                                    Ok(())
                                });
                                handlers.push(h);
                            }
                        }
                        Ok(())
                    }))
                .append_element_content_handler(
                    element!("a img[alt]", move |el| {
                        let mut st = s4.borrow_mut();
                        if let Some(i) = st.open {
                            if st.out[i].1.trim().is_empty() {
                                st.out[i].2 = "img".into();
                                st.out[i].1 = anchor_text(&el.get_attribute("alt").unwrap_or_default());
                            }
                        }
                        Ok(())
                    }))
                .append_element_content_handler(
                    text!("a[href]", move |t| {
                        let mut st = s3.borrow_mut();
                        if let Some(i) = st.open {
                            let chunk = t.as_str().to_string();
                            st.out[i].1.push_str(&chunk);
                        }
                        Ok(())
                    })),
            |_: &[u8]| {},
        );
        if rewriter.write(html).is_ok() {
            let _ = rewriter.end();
        }
        let out = std::mem::take(&mut st.borrow_mut().out);
        out.into_iter().filter(|l| l.2 != "canonical").collect()
    }
}

fn agreement(name: &str, pages: &[Vec<u8>], want: &[Vec<Link>], f: impl Fn(&[u8]) -> Vec<Link>,
             only_body: bool) {
    let mut same_pages = 0;
    let mut same_links = 0usize;
    let mut total_links = 0usize;
    let started = Instant::now();
    let mut got_all = Vec::with_capacity(pages.len());
    for page in pages {
        got_all.push(f(page));
    }
    let seconds = started.elapsed().as_secs_f64();
    for (got, want) in got_all.iter().zip(want) {
        let want: Vec<&Link> = want.iter().filter(|l| !only_body || (l.2 != "canonical" && l.2 != "refresh")).collect();
        let got: Vec<&Link> = got.iter().filter(|l| !only_body || (l.2 != "canonical" && l.2 != "refresh")).collect();
        total_links += want.len();
        let mut counts: HashMap<&Link, i64> = HashMap::new();
        for l in &want { *counts.entry(l).or_default() += 1; }
        for l in &got {
            if let Some(c) = counts.get_mut(l) {
                if *c > 0 { *c -= 1; same_links += 1; }
            }
        }
        if got == want { same_pages += 1; }
    }
    let mb: f64 = pages.iter().map(|p| p.len()).sum::<usize>() as f64 / 1e6;
    println!("{name:34} {:8.1} MB/s  pages identical {:6.2}%  links matched {:6.2}%",
             mb / seconds, 100.0 * same_pages as f64 / pages.len() as f64,
             100.0 * same_links as f64 / total_links.max(1) as f64);
}

/// ada (the crate the core uses, the library the Python side uses) against the `url` crate
/// on the WHATWG cases: how often they serialise alike, and their speed on the cases.
fn urls(path: &str) {
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases: Vec<(String, Option<String>, Option<String>)> = cases
        .iter()
        .filter_map(|c| c.as_object())
        .map(|c| (c["input"].as_str().unwrap_or("").to_string(),
                  c.get("base").and_then(|b| b.as_str()).map(String::from),
                  c.get("href").and_then(|h| h.as_str()).map(String::from)))
        .collect();
    let (mut ada_ok, mut url_ok, mut same) = (0, 0, 0);
    for (input, base, href) in &cases {
        let a = ada_url::Url::parse(input, base.as_deref()).ok().map(|u| u.href().to_string());
        let u = match base {
            Some(b) => url::Url::parse(b).ok().and_then(|b| b.join(input).ok()),
            None => url::Url::parse(input).ok(),
        }
        .map(|u| u.to_string());
        ada_ok += (a == *href) as usize;
        url_ok += (u == *href) as usize;
        same += (a == u) as usize;
    }
    let n = cases.len();
    println!("WHATWG urltestdata: {n} cases; ada {:.1}% as expected, url {:.1}%, ada == url {:.1}%",
             100.0 * ada_ok as f64 / n as f64, 100.0 * url_ok as f64 / n as f64,
             100.0 * same as f64 / n as f64);
    for (name, which) in [("ada", 0), ("url", 1)] {
        let t = Instant::now();
        for _ in 0..50 {
            for (input, base, _) in &cases {
                if which == 0 {
                    std::hint::black_box(ada_url::Url::parse(input, base.as_deref()).ok());
                } else {
                    let r = match base {
                        Some(b) => url::Url::parse(b).ok().and_then(|b| b.join(input).ok()),
                        None => url::Url::parse(input).ok(),
                    };
                    std::hint::black_box(r);
                }
            }
        }
        println!("  {name}: {:.0} parses/s", 50.0 * n as f64 / t.elapsed().as_secs_f64());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 2 {
        return urls(&args[1]);
    }
    let pages = frames(&args[1]);
    let want = expected(&args[2]);
    let mb: f64 = pages.iter().map(|p| p.len()).sum::<usize>() as f64 / 1e6;
    println!("{} pages, {:.1} MB of HTML", pages.len(), mb);
    let t = Instant::now();
    for p in &pages { h5::parse_only(p); }
    println!("{:34} {:8.1} MB/s", "html5ever parse only (rcdom)", mb / t.elapsed().as_secs_f64());
    agreement("html5ever (rcdom) + the same walk", &pages, &want, h5::links, false);
    agreement("lol_html (streaming, a/area only)", &pages, &want, lol::links, true);
    if let Some(wat) = args.get(3) {
        let payloads = frames(wat);
        let mb: f64 = payloads.iter().map(|p| p.len()).sum::<usize>() as f64 / 1e6;
        println!("{} WAT payloads, {:.1} MB", payloads.len(), mb);
        let t = Instant::now();
        for p in &payloads { let v: serde_json::Value = serde_json::from_slice(p).unwrap(); std::hint::black_box(v); }
        let s = t.elapsed().as_secs_f64();
        println!("{:34} {:8.1} MB/s {:9.0} records/s", "serde_json (Value, preserve_order)", mb / s, payloads.len() as f64 / s);
        let t = Instant::now();
        for p in &payloads { let v: sonic_rs::Value = sonic_rs::from_slice(p).unwrap(); std::hint::black_box(v); }
        let s = t.elapsed().as_secs_f64();
        println!("{:34} {:8.1} MB/s {:9.0} records/s", "sonic-rs (Value)", mb / s, payloads.len() as f64 / s);
        let t = Instant::now();
        for p in &payloads { let mut b = p.clone(); let v = simd_json::to_owned_value(&mut b).unwrap(); std::hint::black_box(v); }
        let s = t.elapsed().as_secs_f64();
        println!("{:34} {:8.1} MB/s {:9.0} records/s", "simd-json (OwnedValue)", mb / s, payloads.len() as f64 / s);
    }
}

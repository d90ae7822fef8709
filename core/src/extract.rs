//! extract.py's ``extract_links`` on Lexbor's tree: one walk in document order.
//!
//! extract.py selects ``a[href], area[href], meta[name], meta[http-equiv], base[href],
//! link[rel][href]`` with Lexbor's selector engine, which yields a node once for each
//! selector of the list it matches (so a meta with both a name and an http-equiv comes
//! twice), matches tags whatever their namespace (an SVG ``<a>`` is an ``a``) and attribute
//! selectors by the attribute's local name (``xlink:href`` has ``[href]``), while
//! ``node.attributes`` is keyed by qualified name. The context of a link is its nearest
//! ancestor-or-self container (``nav, header, footer, aside, [role~=navigation i]``).

use std::borrow::Cow;

use crate::lexbor::{self, Api, Attr, Document, Node, NODE_ELEMENT};
use crate::py;
use crate::rules::{self, Rel};

pub const MAX_ANCHOR_CHARS: usize = 4096;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    A = 0,
    Img = 1,
    Area = 2,
    Canonical = 3,
    Refresh = 4,
    Redirect = 5,
}

pub const KIND_NAMES: [&str; 6] = ["a", "img", "area", "canonical", "refresh", "redirect"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Context {
    Nav = 0,
    Header = 1,
    Footer = 2,
    Aside = 3,
    Body = 4,
    Head = 5,
    Http = 6,
    Unknown = 7,
}

pub const CONTEXT_NAMES: [&str; 8] =
    ["nav", "header", "footer", "aside", "body", "head", "http", "unknown"];

/// A link as the page gives it. The WAT path borrows `href` and `anchor` from the parsed
/// JSON when they need no change (most do), so a link costs no string of its own.
#[derive(Clone, Debug)]
pub struct RawLink<'a> {
    pub href: Cow<'a, str>,
    pub anchor: Cow<'a, str>,
    pub kind: Kind,
    pub nofollow: bool,
    pub ugc: bool,
    pub sponsored: bool,
    pub context: Context,
}

#[derive(Default)]
pub struct Extracted {
    pub links: Vec<RawLink<'static>>,
    pub base_href: Option<String>,
    pub robots: bool,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned() // selectolax decodes with errors="replace"
}

/// selectolax's ``attrs.get(qualified)``: the last attribute of that qualified name.
fn get<'b>(attrs: &[Attr<'b>], qualified: &[u8]) -> Option<Option<&'b [u8]>> {
    attrs.iter().rev().find(|a| a.qualified == qualified).map(|a| a.value)
}

fn get_str(attrs: &[Attr<'_>], qualified: &[u8]) -> Option<String> {
    get(attrs, qualified).flatten().map(text)
}

fn has_local(attrs: &[Attr<'_>], local: &[u8]) -> bool {
    attrs.iter().any(|a| a.local == local)
}

/// ``[role~=navigation i]``: a whitespace-separated token, ASCII case-insensitive.
fn role_is_navigation(attrs: &[Attr<'_>]) -> bool {
    attrs.iter().any(|a| {
        a.local == b"role"
            && a.value.is_some_and(|v| {
                v.split(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r'))
                    .any(|t| t.eq_ignore_ascii_case(b"navigation"))
            })
    })
}

/// The text of the descendants of `node` (``node.text(deep=True)``), appended to `out`.
unsafe fn deep_text(api: &Api, node: *mut Node, out: &mut Vec<u8>) {
    let mut current = (*node).first_child;
    if current.is_null() {
        return;
    }
    while !current.is_null() {
        if (*current).local_name == api.tags.text {
            out.extend_from_slice(lexbor::text_of(current));
        }
        current = lexbor::next_in(current, node);
    }
}

/// The first ``img`` descendant of `node` (``node.css_first("img")``).
unsafe fn first_img(api: &Api, node: *mut Node) -> *mut Node {
    let mut current = (*node).first_child;
    while !current.is_null() {
        if (*current).kind == NODE_ELEMENT && (*current).local_name == api.tags.img {
            return current;
        }
        current = lexbor::next_in(current, node);
    }
    std::ptr::null_mut()
}

pub fn anchor_text(raw: &str) -> String {
    // the collapsed text is never longer than the raw text: one allocation, no regrowth
    let mut out = String::with_capacity(raw.len().min(4 * MAX_ANCHOR_CHARS));
    py::collapse_into(raw, MAX_ANCHOR_CHARS, &mut out);
    out
}

/// [`anchor_text`], borrowing `raw` when collapsing would not change it (most anchors).
pub fn anchor_text_cow(raw: &str) -> Cow<'_, str> {
    if py::is_collapsed(raw, MAX_ANCHOR_CHARS) {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(anchor_text(raw))
    }
}

/// The links of a parsed page. `robots` is what the headers said (X-Robots-Tag).
pub fn extract(api: &Api, document: &Document<'_>, header_robots: bool) -> Extracted {
    let tags = api.tags;
    let mut robots = header_robots;
    let mut base_href: Option<String> = None;
    // (href, anchor, kind, rel, context): flags are applied at the end, once robots is known.
    let mut found: Vec<(String, String, Kind, Rel, Context)> = Vec::new();
    let mut attrs: Vec<Attr<'_>> = Vec::with_capacity(16);
    let mut scratch: Vec<u8> = Vec::new();
    // The containers open around the current node: (depth marker node, context).
    let mut containers: Vec<(*mut Node, Context)> = Vec::new();
    let root = document.root();
    unsafe {
        let mut node = (*root).first_child;
        while !node.is_null() {
            // Leave the containers that are not ancestors of this node.
            while let Some(&(container, _)) = containers.last() {
                if is_ancestor(container, node) {
                    break;
                }
                containers.pop();
            }
            if (*node).kind != NODE_ELEMENT {
                node = lexbor::next_in(node, root);
                continue;
            }
            let tag = (*node).local_name;
            let is_link_tag = tag == tags.a || tag == tags.area;
            let interesting = is_link_tag
                || tag == tags.meta
                || tag == tags.base
                || tag == tags.link
                || tag == tags.nav
                || tag == tags.header
                || tag == tags.footer
                || tag == tags.aside;
            let has_attrs = !(api.attr_first)(node).is_null();
            if !has_attrs && !interesting {
                node = lexbor::next_in(node, root);
                continue;
            }
            lexbor::attributes(api, node, &mut attrs);
            let container = if tag == tags.nav {
                Some(Context::Nav)
            } else if tag == tags.header {
                Some(Context::Header)
            } else if tag == tags.footer {
                Some(Context::Footer)
            } else if tag == tags.aside {
                Some(Context::Aside)
            } else if role_is_navigation(&attrs) {
                Some(Context::Nav)
            } else {
                None
            };
            if let Some(context) = container {
                containers.push((node, context));
            }
            if tag == tags.meta {
                let matches = has_local(&attrs, b"name") as usize
                    + has_local(&attrs, b"http-equiv") as usize;
                if matches > 0 {
                    let name = get_str(&attrs, b"name");
                    let equiv = get_str(&attrs, b"http-equiv");
                    let content = get_str(&attrs, b"content");
                    let (nofollow, target) =
                        rules::read_meta(name.as_deref(), equiv.as_deref(), content.as_deref());
                    for _ in 0..matches {
                        robots = robots || nofollow;
                        if let Some(t) = &target {
                            found.push((t.clone(), String::new(), Kind::Refresh, Rel::default(),
                                        Context::Head));
                        }
                    }
                }
            } else if tag == tags.base {
                if has_local(&attrs, b"href") && base_href.is_none() {
                    base_href = get_str(&attrs, b"href");
                }
            } else if tag == tags.link {
                if has_local(&attrs, b"rel") && has_local(&attrs, b"href") {
                    let rel = get_str(&attrs, b"rel");
                    if rules::rel_tokens(rel.as_deref()).canonical {
                        let href = get_str(&attrs, b"href").unwrap_or_default();
                        found.push((href, String::new(), Kind::Canonical, Rel::default(),
                                    Context::Head));
                    }
                }
            } else if is_link_tag && has_local(&attrs, b"href") {
                let rel = rules::rel_tokens(get_str(&attrs, b"rel").as_deref());
                let (kind, anchor) = if tag == tags.area {
                    (Kind::Area, anchor_text(&get_str(&attrs, b"alt").unwrap_or_default()))
                } else {
                    scratch.clear();
                    deep_text(api, node, &mut scratch);
                    let anchor = anchor_text(&String::from_utf8_lossy(&scratch));
                    if anchor.is_empty() {
                        let image = first_img(api, node);
                        if image.is_null() {
                            (Kind::A, anchor)
                        } else {
                            let mut image_attrs = Vec::new();
                            lexbor::attributes(api, image, &mut image_attrs);
                            let alt = get_str(&image_attrs, b"alt").unwrap_or_default();
                            (Kind::Img, anchor_text(&alt))
                        }
                    } else {
                        (Kind::A, anchor)
                    }
                };
                let context = containers.last().map(|&(_, c)| c).unwrap_or(Context::Body);
                let href = get_str(&attrs, b"href").unwrap_or_default();
                found.push((href, anchor, kind, rel, context));
            }
            node = lexbor::next_in(node, root);
        }
    }
    let links = found
        .into_iter()
        .map(|(href, anchor, kind, rel, context)| RawLink {
            href: Cow::Owned(href),
            anchor: Cow::Owned(anchor),
            kind,
            nofollow: robots || rel.nofollow,
            ugc: rel.ugc,
            sponsored: rel.sponsored,
            context,
        })
        .collect();
    Extracted { links, base_href, robots }
}

#[inline]
unsafe fn is_ancestor(ancestor: *mut Node, node: *mut Node) -> bool {
    let mut current = node;
    while !current.is_null() {
        if current == ancestor {
            return true;
        }
        current = (*current).parent;
    }
    false
}

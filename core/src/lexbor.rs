//! Lexbor, the HTML parser the Python path uses (through selectolax), called from Rust.
//!
//! The Python path's tree is Lexbor's tree, so the core parses with the very same library:
//! the copy that selectolax's extension module carries (its `lxb_*` symbols are exported).
//! The functions are looked up once, by name, in that already loaded module, and the node
//! layout this module reads directly (`Node`, `CharData`) is checked against Lexbor's own
//! accessor functions on a calibration document before anything is parsed: a selectolax
//! built with another layout makes `load` fail with a clear message, never a wrong tree.

use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr;

pub type Doc = c_void;

/// `lxb_dom_node_t` (lexbor/dom/interfaces/node.h).
#[repr(C)]
pub struct Node {
    pub events: *mut c_void,
    pub local_name: usize,
    pub prefix: usize,
    pub ns: usize,
    pub owner_document: *mut c_void,
    pub next: *mut Node,
    pub prev: *mut Node,
    pub parent: *mut Node,
    pub first_child: *mut Node,
    pub last_child: *mut Node,
    pub user: *mut c_void,
    pub kind: c_int,
}

/// `lexbor_str_t`.
#[repr(C)]
pub struct LxbStr {
    pub data: *const u8,
    pub length: usize,
}

/// `lxb_dom_character_data_t`: a text node is a node followed by its data.
#[repr(C)]
pub struct CharData {
    pub node: Node,
    pub data: LxbStr,
}

pub const NODE_ELEMENT: c_int = 1;

type FnCreate = unsafe extern "C" fn() -> *mut Doc;
type FnDestroy = unsafe extern "C" fn(*mut Doc) -> *mut Doc;
type FnParse = unsafe extern "C" fn(*mut Doc, *const u8, usize) -> c_uint;
type FnOptSet = unsafe extern "C" fn(*mut Doc, u32);
type FnNode = unsafe extern "C" fn(*mut Node) -> *mut Node;
type FnTagId = unsafe extern "C" fn(*mut Node) -> usize;
type FnAttrFirst = unsafe extern "C" fn(*mut Node) -> *mut c_void;
type FnAttrNext = unsafe extern "C" fn(*mut c_void) -> *mut c_void;
type FnAttrName = unsafe extern "C" fn(*mut c_void, *mut usize) -> *const u8;
type FnElemName = unsafe extern "C" fn(*mut Node, *mut usize) -> *const u8;
type FnTextContent = unsafe extern "C" fn(*mut Node, *mut usize) -> *mut u8;
type FnDestroyText = unsafe extern "C" fn(*mut Doc, *mut u8) -> *mut u8;
use std::ffi::c_uint;

pub struct Api {
    pub create: FnCreate,
    pub destroy: FnDestroy,
    pub parse: FnParse,
    pub dom_opt_set: FnOptSet,
    pub first_child: FnNode,
    pub next: FnNode,
    pub tag_id: FnTagId,
    pub attr_first: FnAttrFirst,
    pub attr_next: FnAttrNext,
    pub attr_local_name: FnAttrName,
    pub attr_qualified_name: FnAttrName,
    pub attr_value: FnAttrName,
    pub element_local_name: FnElemName,
    pub text_content: FnTextContent,
    pub destroy_text: FnDestroyText,
    pub tags: Tags,
}

// SAFETY: function pointers into a loaded shared object; Lexbor's functions are reentrant
// for distinct documents.
unsafe impl Send for Api {}
unsafe impl Sync for Api {}

/// Lexbor's ids of the tags the extraction looks at, read off the calibration document.
#[derive(Default, Clone, Copy)]
pub struct Tags {
    pub text: usize,
    pub a: usize,
    pub area: usize,
    pub img: usize,
    pub meta: usize,
    pub base: usize,
    pub link: usize,
    pub nav: usize,
    pub header: usize,
    pub footer: usize,
    pub aside: usize,
}

unsafe fn sym<T: Copy>(handle: *mut c_void, name: &str) -> Result<T, String> {
    let cname = CString::new(name).unwrap();
    let found = libc::dlsym(handle, cname.as_ptr());
    if found.is_null() {
        return Err(format!("the Lexbor function {name} is not exported by selectolax"));
    }
    Ok(std::mem::transmute_copy::<*mut c_void, T>(&found))
}

/// An owned Lexbor document, destroyed on drop.
pub struct Document<'a> {
    pub api: &'a Api,
    pub doc: *mut Doc,
}

impl<'a> Document<'a> {
    /// Parse UTF-8 bytes as selectolax's ``LexborHTMLParser(bytes)`` does (options 0,
    /// scripting off: Lexbor's defaults, which selectolax sets explicitly).
    pub fn parse(api: &'a Api, html: &[u8]) -> Option<Document<'a>> {
        unsafe {
            let doc = (api.create)();
            if doc.is_null() {
                return None;
            }
            (api.dom_opt_set)(doc, 0);
            let status = (api.parse)(doc, html.as_ptr(), html.len());
            let document = Document { api, doc };
            if status != 0 {
                return None;
            }
            Some(document)
        }
    }

    pub fn root(&self) -> *mut Node {
        self.doc as *mut Node // lxb_html_document_t starts with its lxb_dom_node_t
    }
}

impl Drop for Document<'_> {
    fn drop(&mut self) {
        unsafe {
            (self.api.destroy)(self.doc);
        }
    }
}

/// Next node in document order (preorder) within the subtree of `root`, or null.
#[inline]
pub unsafe fn next_in(node: *mut Node, root: *mut Node) -> *mut Node {
    if !(*node).first_child.is_null() {
        return (*node).first_child;
    }
    let mut current = node;
    while current != root {
        if !(*current).next.is_null() {
            return (*current).next;
        }
        current = (*current).parent;
        if current.is_null() {
            return ptr::null_mut();
        }
    }
    ptr::null_mut()
}

/// Skip the subtree of `node`: the next node in document order after it, within `root`.
#[inline]
pub unsafe fn skip_in(node: *mut Node, root: *mut Node) -> *mut Node {
    let mut current = node;
    while current != root {
        if !(*current).next.is_null() {
            return (*current).next;
        }
        current = (*current).parent;
        if current.is_null() {
            return ptr::null_mut();
        }
    }
    ptr::null_mut()
}

#[inline]
pub unsafe fn bytes<'b>(data: *const u8, len: usize) -> &'b [u8] {
    if data.is_null() || len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(data, len)
    }
}

/// One attribute: its local name (what `[name]` selectors match), its qualified name (the
/// key of selectolax's ``attributes`` dict) and its value (None for a valueless attribute).
pub struct Attr<'b> {
    pub local: &'b [u8],
    pub qualified: &'b [u8],
    pub value: Option<&'b [u8]>,
}

pub unsafe fn attributes<'b>(api: &Api, node: *mut Node, out: &mut Vec<Attr<'b>>) {
    out.clear();
    let mut attr = (api.attr_first)(node);
    while !attr.is_null() {
        let mut len = 0usize;
        let local = (api.attr_local_name)(attr, &mut len);
        let local = bytes(local, len);
        let mut qlen = 0usize;
        let qualified = (api.attr_qualified_name)(attr, &mut qlen);
        let qualified = bytes(qualified, qlen);
        let mut vlen = 0usize;
        let value = (api.attr_value)(attr, &mut vlen);
        let value = if value.is_null() { None } else { Some(bytes(value, vlen)) };
        out.push(Attr { local, qualified, value });
        attr = (api.attr_next)(attr);
    }
}

/// The data of a text node.
#[inline]
pub unsafe fn text_of<'b>(node: *mut Node) -> &'b [u8] {
    let data = &(*(node as *mut CharData)).data;
    bytes(data.data, data.length)
}

fn find_module() -> Result<*mut c_void, String> {
    Err(String::from("unused"))
}

/// Load the functions from the shared object at `path` (selectolax's lexbor module, already
/// imported by the caller) and check the layout on a calibration document.
pub fn load(path: &str) -> Result<Api, String> {
    let _ = find_module;
    let cpath = CString::new(path).map_err(|e| e.to_string())?;
    let handle = unsafe {
        let h = libc::dlopen(cpath.as_ptr() as *const c_char, libc::RTLD_NOW | libc::RTLD_NOLOAD);
        if h.is_null() {
            libc::dlopen(cpath.as_ptr() as *const c_char, libc::RTLD_NOW)
        } else {
            h
        }
    };
    if handle.is_null() {
        return Err(format!("cannot open selectolax's Lexbor module {path}"));
    }
    let mut api = unsafe {
        Api {
            create: sym(handle, "lxb_html_document_create")?,
            destroy: sym(handle, "lxb_html_document_destroy")?,
            parse: sym(handle, "lxb_html_document_parse")?,
            dom_opt_set: sym(handle, "lxb_html_document_dom_opt_set_noi")?,
            first_child: sym(handle, "lxb_dom_node_first_child_noi")?,
            next: sym(handle, "lxb_dom_node_next_noi")?,
            tag_id: sym(handle, "lxb_dom_node_tag_id_noi")?,
            attr_first: sym(handle, "lxb_dom_element_first_attribute_noi")?,
            attr_next: sym(handle, "lxb_dom_element_next_attribute_noi")?,
            attr_local_name: sym(handle, "lxb_dom_attr_local_name_noi")?,
            attr_qualified_name: sym(handle, "lxb_dom_attr_qualified_name")?,
            attr_value: sym(handle, "lxb_dom_attr_value_noi")?,
            element_local_name: sym(handle, "lxb_dom_element_local_name")?,
            text_content: sym(handle, "lxb_dom_node_text_content")?,
            destroy_text: sym(handle, "lxb_dom_document_destroy_text_noi")?,
            tags: Tags::default(),
        }
    };
    api.tags = calibrate(&api)?;
    Ok(api)
}

const CALIBRATION: &[u8] = b"<html><head><meta><base><link></head><body><nav><header><footer><aside>\
<a>calibration text</a><area><img></aside></footer></header></nav></body></html>";

fn calibrate(api: &Api) -> Result<Tags, String> {
    let document = Document::parse(api, CALIBRATION).ok_or("Lexbor could not parse")?;
    let mut tags = Tags::default();
    let root = document.root();
    let mut seen_text = false;
    unsafe {
        let mut node = (api.first_child)(root);
        while !node.is_null() {
            // The layout read directly must agree with Lexbor's accessor functions.
            if (api.first_child)(node) != (*node).first_child
                || (api.next)(node) != (*node).next
                || (api.tag_id)(node) != (*node).local_name
            {
                return Err("selectolax's Lexbor has another node layout".into());
            }
            if (*node).kind == NODE_ELEMENT {
                let mut len = 0;
                let name = bytes((api.element_local_name)(node, &mut len), len);
                let id = (*node).local_name;
                match name {
                    b"a" => tags.a = id,
                    b"area" => tags.area = id,
                    b"img" => tags.img = id,
                    b"meta" => tags.meta = id,
                    b"base" => tags.base = id,
                    b"link" => tags.link = id,
                    b"nav" => tags.nav = id,
                    b"header" => tags.header = id,
                    b"footer" => tags.footer = id,
                    b"aside" => tags.aside = id,
                    _ => {}
                }
            } else if (*node).kind == 3 {
                let mut len = 0;
                let copy = (api.text_content)(node, &mut len);
                let via_api = bytes(copy, len).to_vec();
                (api.destroy_text)(document.doc, copy);
                if via_api != b"calibration text" || text_of(node) != b"calibration text" {
                    return Err("selectolax's Lexbor has another text node layout".into());
                }
                tags.text = (*node).local_name;
                seen_text = true;
            }
            node = next_in(node, root);
        }
    }
    let all = [tags.a, tags.area, tags.img, tags.meta, tags.base, tags.link, tags.nav,
               tags.header, tags.footer, tags.aside];
    if !seen_text || all.iter().any(|&id| id == 0) {
        return Err("the calibration document lacks an element".into());
    }
    Ok(tags)
}

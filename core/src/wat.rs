//! pipeline/wat.py (placeholder, filled in below).
use pyo3::prelude::*;
use crate::pages::{Assembler, Output};

pub fn process(_py: Python<'_>, _a: &mut Assembler, _payload: &[u8], _crawl: &mut Option<String>,
               _fallback: &str, _out: &mut Output) -> PyResult<()> {
    Ok(())
}

//! The rows as Arrow record batches, handed to Python through the Arrow PyCapsule interface
//! (``__arrow_c_stream__``): ``pl.DataFrame(table)`` takes them without a Python object per
//! row. Strings are Utf8View (polars' own string layout, so the import copies nothing); the
//! columns a page repeats on each of its links point at one copy of the page's bytes.


use std::sync::Arc;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{
    ArrayRef, BooleanArray, Int16Array, Int32Array, RecordBatch, RecordBatchIterator,
    StringViewArray, TimestampMicrosecondArray,
};
use arrow_buffer::{Buffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::extract::{Context, Kind, CONTEXT_NAMES, KIND_NAMES};

/// A Utf8View column under construction.
#[derive(Default)]
pub struct Views {
    views: Vec<u128>,
    data: Vec<u8>,
}

impl Views {
    fn with_capacity(views: usize, bytes: usize) -> Self {
        Views { views: Vec::with_capacity(views), data: Vec::with_capacity(bytes) }
    }
    /// The view of `s`, its bytes appended to the data buffer when longer than 12.
    #[inline]
    pub fn make(&mut self, s: &str) -> u128 {
        let b = s.as_bytes();
        let len = b.len() as u128;
        if b.len() <= 12 {
            let mut raw = [0u8; 16];
            raw[..4].copy_from_slice(&(b.len() as u32).to_le_bytes());
            raw[4..4 + b.len()].copy_from_slice(b);
            u128::from_le_bytes(raw)
        } else {
            let offset = self.data.len() as u128;
            self.data.extend_from_slice(b);
            let prefix = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u128;
            len | (prefix << 32) | (offset << 96) // buffer index 0
        }
    }

    #[inline]
    pub fn push(&mut self, s: &str) {
        let v = self.make(s);
        self.views.push(v);
    }

    #[inline]
    pub fn push_view(&mut self, v: u128) {
        self.views.push(v);
    }

    fn finish(self) -> Result<ArrayRef, String> {
        // SAFETY: every view was made by `make` from a &str, so it is valid UTF-8 and in
        // bounds of the one data buffer (checked in debug builds).
        debug_assert!(std::str::from_utf8(&self.data).is_ok());
        let array = unsafe {
            StringViewArray::new_unchecked(
                ScalarBuffer::from(self.views),
                vec![Buffer::from_vec(self.data)],
                None,
            )
        };
        Ok(Arc::new(array))
    }
}

fn time_field(name: &str) -> Field {
    Field::new(name, DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false)
}

fn string_field(name: &str) -> Field {
    Field::new(name, DataType::Utf8View, false)
}

fn bool_field(name: &str) -> Field {
    Field::new(name, DataType::Boolean, false)
}

pub fn links_schema() -> SchemaRef {
    let mut fields: Vec<Field> = [
        "crawl", "src_url", "src_host", "src_domain", "dst_url", "dst_host", "dst_domain",
        "anchor", "link_type", "context",
    ]
    .iter()
    .map(|n| string_field(n))
    .collect();
    for n in ["nofollow", "ugc", "sponsored", "external"] {
        fields.push(bool_field(n));
    }
    fields.push(time_field("fetch_time"));
    Arc::new(Schema::new(fields))
}

pub fn pages_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        string_field("crawl"),
        string_field("url"),
        string_field("host"),
        string_field("domain"),
        time_field("fetch_time"),
        Field::new("status", DataType::Int16, false),
        Field::new("links_internal", DataType::Int32, false),
        Field::new("links_external", DataType::Int32, false),
        bool_field("robots_nofollow"),
        bool_field("truncated"),
    ]))
}

#[derive(Default)]
pub struct LinksBuilder {
    // One data buffer for all string columns would do; one per column keeps offsets small.
    crawl: Views,
    src_url: Views,
    src_host: Views,
    src_domain: Views,
    dst_url: Views,
    dst_host: Views,
    dst_domain: Views,
    anchor: Views,
    link_type: Views,
    context: Views,
    nofollow: Vec<bool>,
    ugc: Vec<bool>,
    sponsored: Vec<bool>,
    external: Vec<bool>,
    fetch_time: Vec<i64>,
    // the views of the current page's repeated columns
    page: Option<(usize, [u128; 4])>,
}

/// What a batch's builders held: the next batch reserves about as much up front, rather than
/// growing every column by doubling (each doubling a copy of the column).
#[derive(Clone, Copy, Default)]
pub struct Sizes {
    rows: usize,
    bytes: [usize; 10],
}

impl Sizes {
    /// A little more than was held: a batch somewhat larger than the last fits.
    fn reserve(n: usize) -> usize {
        n + n / 4
    }
}

impl LinksBuilder {
    pub fn len(&self) -> usize {
        self.fetch_time.len()
    }

    fn string_columns(&self) -> [&Views; 10] {
        [&self.crawl, &self.src_url, &self.src_host, &self.src_domain, &self.dst_url,
         &self.dst_host, &self.dst_domain, &self.anchor, &self.link_type, &self.context]
    }

    pub fn sizes(&self) -> Sizes {
        Sizes { rows: self.len(), bytes: self.string_columns().map(|c| c.data.len()) }
    }

    /// A builder with room for about `sizes` (an earlier batch's).
    pub fn with_capacity(sizes: &Sizes) -> Self {
        let rows = Sizes::reserve(sizes.rows);
        let [crawl, src_url, src_host, src_domain, dst_url, dst_host, dst_domain, anchor,
             link_type, context] = sizes.bytes.map(|b| Views::with_capacity(rows, Sizes::reserve(b)));
        LinksBuilder {
            crawl, src_url, src_host, src_domain, dst_url, dst_host, dst_domain, anchor,
            link_type, context,
            nofollow: Vec::with_capacity(rows),
            ugc: Vec::with_capacity(rows),
            sponsored: Vec::with_capacity(rows),
            external: Vec::with_capacity(rows),
            fetch_time: Vec::with_capacity(rows),
            page: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fetch_time.is_empty()
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn push(
        &mut self,
        page_index: usize,
        crawl: &str,
        src_url: &str,
        src_host: &str,
        src_domain: &str,
        dst_url: &str,
        dst_host: &str,
        dst_domain: &str,
        anchor: &str,
        kind: Kind,
        context: Context,
        nofollow: bool,
        ugc: bool,
        sponsored: bool,
        external: bool,
        fetch_time: i64,
    ) {
        let views = match self.page {
            Some((index, views)) if index == page_index => views,
            _ => {
                let views = [
                    self.crawl.make(crawl),
                    self.src_url.make(src_url),
                    self.src_host.make(src_host),
                    self.src_domain.make(src_domain),
                ];
                self.page = Some((page_index, views));
                views
            }
        };
        self.crawl.push_view(views[0]);
        self.src_url.push_view(views[1]);
        self.src_host.push_view(views[2]);
        self.src_domain.push_view(views[3]);
        self.dst_url.push(dst_url);
        self.dst_host.push(dst_host);
        self.dst_domain.push(dst_domain);
        self.anchor.push(anchor);
        self.link_type.push(KIND_NAMES[kind as usize]);
        self.context.push(CONTEXT_NAMES[context as usize]);
        self.nofollow.push(nofollow);
        self.ugc.push(ugc);
        self.sponsored.push(sponsored);
        self.external.push(external);
        self.fetch_time.push(fetch_time);
    }

    pub fn finish(self) -> PyResult<Table> {
        let columns: Vec<ArrayRef> = (|| -> Result<Vec<ArrayRef>, String> {
            Ok(vec![
                self.crawl.finish()?,
                self.src_url.finish()?,
                self.src_host.finish()?,
                self.src_domain.finish()?,
                self.dst_url.finish()?,
                self.dst_host.finish()?,
                self.dst_domain.finish()?,
                self.anchor.finish()?,
                self.link_type.finish()?,
                self.context.finish()?,
                Arc::new(BooleanArray::from(self.nofollow)),
                Arc::new(BooleanArray::from(self.ugc)),
                Arc::new(BooleanArray::from(self.sponsored)),
                Arc::new(BooleanArray::from(self.external)),
                Arc::new(TimestampMicrosecondArray::from(self.fetch_time).with_timezone("UTC")),
            ])
        })()
        .map_err(PyRuntimeError::new_err)?;
        Table::new(links_schema(), columns)
    }
}

#[derive(Default)]
pub struct PagesBuilder {
    crawl: Views,
    url: Views,
    host: Views,
    domain: Views,
    fetch_time: Vec<i64>,
    status: Vec<i16>,
    internal: Vec<i32>,
    external: Vec<i32>,
    robots: Vec<bool>,
    truncated: Vec<bool>,
}

impl PagesBuilder {
    pub fn len(&self) -> usize {
        self.fetch_time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fetch_time.is_empty()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        crawl: &str,
        url: &str,
        host: &str,
        domain: &str,
        fetch_time: i64,
        status: i64,
        internal: i64,
        external: i64,
        robots: bool,
        truncated: bool,
    ) {
        self.crawl.push(crawl);
        self.url.push(url);
        self.host.push(host);
        self.domain.push(domain);
        self.fetch_time.push(fetch_time);
        self.status.push(status as i16);
        self.internal.push(internal as i32);
        self.external.push(external as i32);
        self.robots.push(robots);
        self.truncated.push(truncated);
    }

    pub fn finish(self) -> PyResult<Table> {
        let columns: Vec<ArrayRef> = (|| -> Result<Vec<ArrayRef>, String> {
            Ok(vec![
                self.crawl.finish()?,
                self.url.finish()?,
                self.host.finish()?,
                self.domain.finish()?,
                Arc::new(TimestampMicrosecondArray::from(self.fetch_time).with_timezone("UTC")),
                Arc::new(Int16Array::from(self.status)),
                Arc::new(Int32Array::from(self.internal)),
                Arc::new(Int32Array::from(self.external)),
                Arc::new(BooleanArray::from(self.robots)),
                Arc::new(BooleanArray::from(self.truncated)),
            ])
        })()
        .map_err(PyRuntimeError::new_err)?;
        Table::new(pages_schema(), columns)
    }
}

/// One record batch, exported as an Arrow C stream (``pl.DataFrame(table)``).
#[pyclass(module = "backlinks_core", frozen)]
pub struct Table {
    batch: RecordBatch,
}

impl Table {
    pub(crate) fn new(schema: SchemaRef, columns: Vec<ArrayRef>) -> PyResult<Self> {
        let batch = RecordBatch::try_new(schema, columns)
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        Ok(Table { batch })
    }
}

#[pymethods]
impl Table {
    #[getter]
    fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    fn __len__(&self) -> usize {
        self.batch.num_rows()
    }

    /// The Arrow PyCapsule interface: a stream of this one batch. ``requested_schema`` is
    /// accepted and ignored (the schema is fixed).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let schema = self.batch.schema();
        let reader = RecordBatchIterator::new(vec![Ok(self.batch.clone())], schema);
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }
}

//! The partition of each name in a column (pipeline/partitions.py): the first 32 bits of
//! the name's MD5, big-endian, modulo the partition count, so that any DuckDB client
//! computes the same (`('0x' || md5(name)[1:8])::ubigint % P`). Python's hashlib gives the
//! same answer one name at a time; here a whole column is one call.

use std::sync::Arc;

use arrow_array::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::{Array, ArrayRef, LargeStringArray, StringArray, StringViewArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use md5::{Digest, Md5};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::arrow_out::Table;

/// The partition of one name among `partitions` (at least 1).
#[inline]
pub fn partition_of(name: &[u8], partitions: u32) -> u32 {
    let digest = Md5::digest(name);
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % partitions
}

fn push_all<'a>(
    names: impl Iterator<Item = Option<&'a str>>,
    partitions: u32,
    out: &mut Vec<u32>,
) -> Result<(), usize> {
    for (index, name) in names.enumerate() {
        match name {
            Some(name) => out.push(partition_of(name.as_bytes(), partitions)),
            None => return Err(index),
        }
    }
    Ok(())
}

/// The partition of every row of `frame`'s first column (a string column; any object with
/// the Arrow PyCapsule stream interface, such as a Polars DataFrame), as a table of one
/// UInt32 column named `column`. A null name is a ValueError.
#[pyfunction]
pub fn md5_partitions(
    py: Python<'_>,
    frame: &Bound<'_, PyAny>,
    partitions: u32,
    column: &str,
) -> PyResult<Table> {
    if partitions == 0 {
        return Err(PyValueError::new_err("partitions must be at least 1, got 0"));
    }
    let capsule = frame.call_method1("__arrow_c_stream__", (py.None(),))?;
    let capsule = capsule.cast::<PyCapsule>()?;
    let pointer = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: the capsule holds an FFI_ArrowArrayStream (checked by name); from_raw moves
    // it out and leaves a released one behind, which the capsule's destructor ignores.
    let reader = unsafe { ArrowArrayStreamReader::from_raw(pointer.as_ptr().cast::<FFI_ArrowArrayStream>()) }
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let mut found: Vec<u32> = Vec::new();
    let mut seen = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| PyValueError::new_err(e.to_string()))?;
        if batch.num_columns() == 0 {
            return Err(PyValueError::new_err("md5_partitions needs a column of names"));
        }
        let names = batch.column(0);
        found.reserve(names.len());
        let pushed = py.detach(|| match names.data_type() {
            DataType::Utf8View => {
                let names = names.as_any().downcast_ref::<StringViewArray>().expect("Utf8View");
                Ok(push_all(names.iter(), partitions, &mut found))
            }
            DataType::Utf8 => {
                let names = names.as_any().downcast_ref::<StringArray>().expect("Utf8");
                Ok(push_all(names.iter(), partitions, &mut found))
            }
            DataType::LargeUtf8 => {
                let names = names.as_any().downcast_ref::<LargeStringArray>().expect("LargeUtf8");
                Ok(push_all(names.iter(), partitions, &mut found))
            }
            other => Err(other.clone()),
        });
        match pushed {
            Err(other) => {
                return Err(PyTypeError::new_err(format!(
                    "md5_partitions needs a string column, got {other}"
                )))
            }
            Ok(Err(index)) => {
                return Err(PyValueError::new_err(format!(
                    "row {} has no name (null): every row needs one to have a partition",
                    seen + index
                )))
            }
            Ok(Ok(())) => {}
        }
        seen += names.len();
    }
    let schema = Arc::new(Schema::new(vec![Field::new(column, DataType::UInt32, false)]));
    let column: ArrayRef = Arc::new(UInt32Array::from(found));
    Table::new(schema, vec![column])
}

#[cfg(test)]
mod tests {
    use super::partition_of;

    #[test]
    fn the_first_32_bits_of_the_md5() {
        // md5("example.com") = 5ababd603b22780302dd8d83498e5172
        assert_eq!(partition_of(b"example.com", u32::MAX), 0x5ababd60 % u32::MAX);
        assert_eq!(partition_of(b"example.com", 16), 0x5ababd60 % 16);
        assert_eq!(partition_of(b"", 1), 0);
    }
}

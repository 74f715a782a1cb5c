//! KnowledgeCore binding: sharding_index for one key or a batch.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::sharding::shard_of;

/// Validates a shard count the way `operator.index` plus a `>= 1` check does in Python.
///
/// Counts beyond u64 are valid: every Adler-32 value is below them, so they act as u64::MAX.
fn shard_count(count: &Bound<'_, PyAny>) -> PyResult<u64> {
    match count.extract::<i128>() {
        Ok(n) if n >= 1 => Ok(u64::try_from(n).unwrap_or(u64::MAX)),
        Ok(_) => Err(PyValueError::new_err("shard_count must be at least 1")),
        Err(err) if err.is_instance_of::<PyOverflowError>(count.py()) => {
            if count.gt(0)? {
                Ok(u64::MAX)
            } else {
                Err(PyValueError::new_err("shard_count must be at least 1"))
            }
        }
        Err(_) => Err(PyTypeError::new_err(format!(
            "shard_count must be an integer, not {}",
            count.get_type().name()?
        ))),
    }
}

/// UTF-8 bytes of a key; compact ASCII strings (the usual id) are read in place, inline.
fn key_bytes<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    // SAFETY: the object is alive for 'a; PyUnicode_Check guards the str-only macros, and a
    // compact ASCII str stores exactly GET_LENGTH bytes of ASCII (valid UTF-8) in place.
    unsafe {
        let ptr = key.as_ptr();
        if ffi::PyUnicode_Check(ptr) != 0 && ffi::PyUnicode_IS_COMPACT_ASCII(ptr) != 0 {
            let len = usize::try_from(ffi::PyUnicode_GET_LENGTH(ptr)).unwrap_or(0);
            let data = ffi::_PyUnicode_COMPACT_DATA(ptr) as *const u8;
            return Ok(std::slice::from_raw_parts(data, len));
        }
    }
    key_bytes_slow(key)
}

fn key_bytes_slow<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    let text = key.cast::<PyString>().map_err(|_| {
        PyTypeError::new_err(format!(
            "sharding keys must be str, not {}",
            key.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    Ok(text.to_str()?.as_bytes())
}

/// The shard of `key`: Adler-32 of its UTF-8 bytes modulo `shard_count`.
#[pyfunction]
fn sharding_index(key: &Bound<'_, PyAny>, shard_count: &Bound<'_, PyAny>) -> PyResult<u64> {
    let count = self::shard_count(shard_count)?;
    Ok(shard_of(key_bytes(key)?, count))
}

/// Shards of a list's keys, read through borrowed item pointers: no reference counting and
/// no iterator object per key, which is most of the cost for short keys.
fn shards_of_list(list: &Bound<'_, PyList>, count: u64) -> PyResult<Vec<u64>> {
    let py = list.py();
    let len = list.len();
    let mut shards = Vec::with_capacity(len);
    for index in 0..len {
        // SAFETY: index < len and the list cannot change size meanwhile: the GIL is held and
        // nothing in this loop runs Python code (key_bytes reads str data or raises).
        let item = unsafe {
            let raw = ffi::PyList_GET_ITEM(list.as_ptr(), index as ffi::Py_ssize_t);
            Borrowed::from_ptr(py, raw)
        };
        shards.push(shard_of(key_bytes(&item)?, count));
    }
    Ok(shards)
}

/// `sharding_index` for every key of an iterable, in order.
#[pyfunction]
fn sharding_index_batch<'py>(
    py: Python<'py>,
    keys: &Bound<'py, PyAny>,
    shard_count: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let count = self::shard_count(shard_count)?;
    if keys.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "keys must be an iterable of str, not a single str",
        ));
    }
    // One pass, checksumming each key while its object is hot in cache; lists and tuples
    // are walked by index, skipping the iterator protocol per key.
    let shard = |key: Bound<'py, PyAny>| Ok(shard_of(key_bytes(&key)?, count));
    let shards: Vec<u64> = if let Ok(list) = keys.cast::<PyList>() {
        shards_of_list(list, count)?
    } else if let Ok(tuple) = keys.cast::<PyTuple>() {
        tuple.iter().map(shard).collect::<PyResult<_>>()?
    } else {
        keys.try_iter()?
            .map(|key| shard(key?))
            .collect::<PyResult<_>>()?
    };
    PyList::new(py, shards)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sharding_index, m)?)?;
    m.add_function(wrap_pyfunction!(sharding_index_batch, m)?)?;
    Ok(())
}

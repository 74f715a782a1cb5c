//! KnowledgeCore binding: sharding_index for one key or a batch.

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
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

fn key_bytes<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
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
        list.iter().map(shard).collect::<PyResult<_>>()?
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
